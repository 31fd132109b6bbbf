// BLAKE2b hashing (RFC 7693) through libsodium's crypto_generichash.
//
// Content IDs are keyed BLAKE2b-256 under the repository's id key, so that
// the IDs a storage provider sees do not reveal whether a repository holds a
// known file. Note that BLAKE2b's output length is a parameter of the hash:
// BLAKE2b-256 is not a truncated BLAKE2b-512.
//
// Thread-safety: the functions are thread-safe; a Blake2b256Hasher is not
// (one per thread), a HashKey may be shared for reading.
#ifndef CHATVAULT_CRYPTO_BLAKE2B_H_
#define CHATVAULT_CRYPTO_BLAKE2B_H_

#include <sodium.h>

#include <array>
#include <cstddef>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace chatvault::crypto {

inline constexpr size_t kHashKeyBytes = 32;
inline constexpr size_t kDigest256Bytes = 32;

using Digest256 = std::array<std::byte, kDigest256Bytes>;

// A 256-bit BLAKE2b key (for example the repository's id key).
class HashKey {
 public:
  static HashKey Generate();
  // Takes ownership; InvalidArgument unless `bytes` is kHashKeyBytes long.
  static Result<HashKey> FromSecret(SecretBytes bytes);

  const SecretBytes& secret() const { return key_; }

 private:
  explicit HashKey(SecretBytes key) : key_(std::move(key)) {}
  SecretBytes key_;
};

// A digest stored as bytes (protobuf fields): the 32 bytes, or all zeros
// when `bytes` has another length (an ID nothing is stored under).
inline Digest256 Digest256FromBytes(std::string_view bytes) {
  Digest256 d{};
  if (bytes.size() == d.size()) {
    for (size_t i = 0; i < d.size(); ++i)
      d[i] = static_cast<std::byte>(bytes[i]);
  }
  return d;
}

// Keyed BLAKE2b-256 of `data`.
Digest256 Blake2b256(const HashKey& key, ByteView data);

// Streaming keyed BLAKE2b-256: Update any number of times, then Finish once.
// The internal state is wiped on Finish and on destruction.
class Blake2b256Hasher {
 public:
  explicit Blake2b256Hasher(const HashKey& key);
  ~Blake2b256Hasher();
  Blake2b256Hasher(const Blake2b256Hasher&) = delete;
  Blake2b256Hasher& operator=(const Blake2b256Hasher&) = delete;

  void Update(ByteView data);
  // REQUIRES: not yet finished.
  Digest256 Finish();

 private:
  crypto_generichash_state state_;
  bool finished_ = false;
};

// General BLAKE2b with an output of `out_len` bytes (16..64) and an optional
// key (empty, or 16..64 bytes). For known-answer tests and non-secret
// fingerprints; content IDs use Blake2b256 with a HashKey.
// InvalidArgument on a length out of range.
Result<Bytes> Blake2b(ByteView data, size_t out_len, ByteView key = {});

}  // namespace chatvault::crypto

#endif  // CHATVAULT_CRYPTO_BLAKE2B_H_
