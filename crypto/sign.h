// Ed25519 signatures (RFC 8032), for device identities and the signed
// device list.
//
// Signing keys and box keys are distinct types: an Ed25519 key can never be
// used where an X25519 key is expected, or the other way round.
//
// Thread-safety: thread-safe; keys may be shared for reading.
#ifndef CHATVAULT_CRYPTO_SIGN_H_
#define CHATVAULT_CRYPTO_SIGN_H_

#include <array>
#include <cstddef>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace chatvault::crypto {

inline constexpr size_t kVerifyKeyBytes = 32;
inline constexpr size_t kSigningSeedBytes = 32;
inline constexpr size_t kSignatureBytes = 64;

using Signature = std::array<std::byte, kSignatureBytes>;

// An Ed25519 public key. Not secret; comparable.
class VerifyKey {
 public:
  // InvalidArgument unless `bytes` is kVerifyKeyBytes long.
  static Result<VerifyKey> FromBytes(ByteView bytes);

  ByteView bytes() const { return key_; }
  friend bool operator==(const VerifyKey&, const VerifyKey&) = default;

 private:
  VerifyKey() = default;
  friend class SigningKey;
  std::array<std::byte, kVerifyKeyBytes> key_{};
};

// An Ed25519 signing key, held in locked memory.
class SigningKey {
 public:
  static SigningKey Generate();
  // RFC 8032's 32-byte private key ("seed"). InvalidArgument on another
  // length.
  static Result<SigningKey> FromSeed(const SecretBytes& seed);

  const VerifyKey& verify_key() const { return verify_key_; }
  // The 32-byte seed, for sealing the key to its holders.
  SecretBytes Seed() const;

  // Deterministic Ed25519 signature of `message`.
  Signature Sign(ByteView message) const;

 private:
  SigningKey(VerifyKey vk, SecretBytes sk)
      : verify_key_(vk), secret_key_(std::move(sk)) {}
  VerifyKey verify_key_;
  SecretBytes secret_key_;  // libsodium's 64-byte form: seed || public key
};

// OK if `signature` is `key`'s valid signature of `message`; Corruption
// otherwise (including a signature of the wrong length).
[[nodiscard]] Status Verify(const VerifyKey& key, ByteView message,
                            ByteView signature);

}  // namespace chatvault::crypto

#endif  // CHATVAULT_CRYPTO_SIGN_H_
