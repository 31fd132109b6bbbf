// Authenticated encryption with associated data: XChaCha20-Poly1305-IETF.
//
// Every object chatvault stores is sealed with this construction. The 24-byte
// nonce is random for every message, which is safe for any practical number
// of messages under one key (see docs/design.md, "Encryption"). The
// associated data is authenticated but not encrypted; callers bind an
// object's type, ID and key epoch there so that a ciphertext cannot be
// swapped for another one without detection.
//
// Sealed format: nonce (24 bytes) || ciphertext (= plaintext length) ||
// Poly1305 tag (16 bytes).
//
// Thread-safety: all functions are thread-safe; an AeadKey may be shared by
// threads that only read it.
#ifndef CHATVAULT_CRYPTO_AEAD_H_
#define CHATVAULT_CRYPTO_AEAD_H_

#include <cstddef>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace chatvault::crypto {

inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kAeadNonceBytes = 24;
inline constexpr size_t kAeadTagBytes = 16;
// Bytes a sealed message is longer than its plaintext.
inline constexpr size_t kAeadOverheadBytes = kAeadNonceBytes + kAeadTagBytes;

// A 256-bit XChaCha20-Poly1305 key. Distinct from other key types so that a
// key meant for hashing or boxes cannot be passed here by mistake.
class AeadKey {
 public:
  // A fresh random key.
  static AeadKey Generate();
  // Takes ownership of `bytes`; InvalidArgument unless it is kAeadKeyBytes.
  static Result<AeadKey> FromSecret(SecretBytes bytes);

  // The raw key, for sealing it to a key holder. Never log it.
  const SecretBytes& secret() const { return key_; }

 private:
  explicit AeadKey(SecretBytes key) : key_(std::move(key)) {}
  SecretBytes key_;
};

// Encrypts `plaintext` under `key` with a fresh random nonce, authenticating
// `associated_data` too. Returns kAeadOverheadBytes + plaintext.size() bytes.
Bytes AeadSeal(const AeadKey& key, ByteView plaintext,
               ByteView associated_data);

// Authenticates and decrypts the output of AeadSeal. Returns Corruption when
// the message is too short, was modified in any bit, was sealed under
// another key, or `associated_data` differs from what was sealed. No
// plaintext is released unless authentication succeeds.
[[nodiscard]] Result<Bytes> AeadOpen(const AeadKey& key, ByteView sealed,
                                     ByteView associated_data);

// As AeadOpen, for plaintexts that are themselves secrets (sealed keys): the
// plaintext goes straight into locked memory.
[[nodiscard]] Result<SecretBytes> AeadOpenSecret(const AeadKey& key,
                                                 ByteView sealed,
                                                 ByteView associated_data);

}  // namespace chatvault::crypto

#endif  // CHATVAULT_CRYPTO_AEAD_H_
