// X25519 key pairs and sealed boxes (libsodium crypto_box_seal: an ephemeral
// X25519 key agreement with XSalsa20-Poly1305), used to seal repository keys
// to each key holder: the passphrase, the recovery code, linked devices.
//
// A sealed box is anonymous and has no associated data: whatever must be
// bound to it (repository, epoch) goes inside the plaintext and is checked by
// the caller after opening (docs/design.md, "Key objects").
//
// Thread-safety: thread-safe; key objects may be shared for reading.
#ifndef CHATVAULT_CRYPTO_BOX_H_
#define CHATVAULT_CRYPTO_BOX_H_

#include <array>
#include <cstddef>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace chatvault::crypto {

inline constexpr size_t kBoxPublicKeyBytes = 32;
inline constexpr size_t kBoxSecretKeyBytes = 32;
inline constexpr size_t kBoxSeedBytes = 32;
// Bytes a sealed box is longer than its plaintext (ephemeral key + MAC).
inline constexpr size_t kSealedBoxOverheadBytes = 48;

// An X25519 public key. Not secret; comparable.
class BoxPublicKey {
 public:
  // InvalidArgument unless `bytes` is kBoxPublicKeyBytes long.
  static Result<BoxPublicKey> FromBytes(ByteView bytes);

  ByteView bytes() const { return key_; }
  friend bool operator==(const BoxPublicKey&, const BoxPublicKey&) = default;

 private:
  BoxPublicKey() = default;
  friend class BoxKeyPair;
  std::array<std::byte, kBoxPublicKeyBytes> key_{};
};

// An X25519 key pair; the secret half lives in locked memory.
class BoxKeyPair {
 public:
  static BoxKeyPair Generate();
  // Deterministic: the same 32-byte seed always gives the same pair.
  // InvalidArgument on a seed of another length.
  static Result<BoxKeyPair> FromSeed(const SecretBytes& seed);
  // From a raw X25519 secret scalar (clamped by X25519 itself).
  static Result<BoxKeyPair> FromSecretKey(SecretBytes secret_key);

  const BoxPublicKey& public_key() const { return public_key_; }
  const SecretBytes& secret_key() const { return secret_key_; }

 private:
  BoxKeyPair(BoxPublicKey pk, SecretBytes sk)
      : public_key_(pk), secret_key_(std::move(sk)) {}
  BoxPublicKey public_key_;
  SecretBytes secret_key_;
};

// Seals `plaintext` so that only the holder of `recipient`'s secret key can
// open it. Returns kSealedBoxOverheadBytes + plaintext.size() bytes, or
// InvalidArgument if `recipient` is a low-order point (nobody could open
// the box, and writing it in place of a key object would lose the keys).
Result<Bytes> SealedBoxSeal(const BoxPublicKey& recipient, ByteView plaintext);

// Opens a sealed box addressed to `recipient`. Corruption if it was sealed
// to another key or modified; the plaintext goes into locked memory.
[[nodiscard]] Result<SecretBytes> SealedBoxOpen(const BoxKeyPair& recipient,
                                                ByteView sealed);

// Raw X25519 (RFC 7748): the shared secret of `secret_key` and `peer`.
// InvalidArgument if `peer` is a low-order point (the result would be all
// zeros, i.e. independent of our secret).
[[nodiscard]] Result<SecretBytes> X25519(const SecretBytes& secret_key,
                                         const BoxPublicKey& peer);

}  // namespace chatvault::crypto

#endif  // CHATVAULT_CRYPTO_BOX_H_
