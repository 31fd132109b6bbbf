// SecretBytes: a fixed-size buffer for key material and other secrets.
//
// The memory comes from sodium_malloc: guard pages on both sides, locked into
// RAM (never swapped) where the system allows, excluded from core dumps, and
// zeroed when released. The type is move-only and has no operator==: compare
// secrets with ConstantTimeEquals, and only where a comparison is the point.
//
// Each buffer costs a few pages of address space and a system call, so keep
// SecretBytes for keys, seeds and passphrases, not for bulk data.
//
// Thread-safety: like any value type; a const SecretBytes may be read from
// several threads.
#ifndef CHATVAULT_CRYPTO_SECRET_BYTES_H_
#define CHATVAULT_CRYPTO_SECRET_BYTES_H_

#include <cstddef>
#include <string_view>

#include "base/bytes.h"

namespace chatvault::crypto {

class SecretBytes {
 public:
  // An empty secret.
  SecretBytes() noexcept = default;
  // `size` zero bytes. Aborts if the memory cannot be allocated, as operator
  // new would.
  explicit SecretBytes(size_t size);

  // A copy of `data`. The caller remains responsible for wiping the source.
  static SecretBytes CopyFrom(ByteView data);
  // `size` bytes from the system's cryptographic random source.
  static SecretBytes Random(size_t size);

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  // Zeroes and frees the memory.
  ~SecretBytes();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const std::byte* data() const { return data_; }
  std::byte* data() { return data_; }
  ByteView view() const { return {data_, size_}; }
  MutableByteView mutable_view() { return {data_, size_}; }
  // The bytes as characters, for secrets that are text (passphrases, codes).
  std::string_view chars() const { return AsChars(view()); }

  // Whether the pages are locked in RAM. False when RLIMIT_MEMLOCK is
  // exhausted; the secret is still zeroed on release.
  bool locked() const { return locked_; }

  // Returns a copy; explicit so that secrets are never duplicated by accident.
  SecretBytes Clone() const { return CopyFrom(view()); }

 private:
  void Release() noexcept;

  std::byte* data_ = nullptr;
  size_t size_ = 0;
  bool locked_ = false;
};

// Compares in time independent of the contents (lengths are not secret).
bool ConstantTimeEquals(ByteView a, ByteView b);

// Overwrites `data` with zeros in a way the compiler may not optimise away.
void SecureZero(MutableByteView data);

}  // namespace chatvault::crypto

#endif  // CHATVAULT_CRYPTO_SECRET_BYTES_H_
