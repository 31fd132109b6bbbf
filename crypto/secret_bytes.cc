#include "crypto/secret_bytes.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "crypto/sodium.h"

namespace chatvault::crypto {

SecretBytes::SecretBytes(size_t size) {
  if (size == 0) return;
  EnsureSodium();
  void* p = sodium_malloc(size);
  if (p == nullptr) {
    std::fputs("chatvault: out of memory for secret buffer\n", stderr);
    std::abort();
  }
  data_ = static_cast<std::byte*>(p);
  size_ = size;
  // sodium_malloc already tries to lock the pages and mark them
  // MADV_DONTDUMP but does not report whether locking worked; locking again
  // is idempotent and tells us.
  locked_ = sodium_mlock(data_, size_) == 0;
  sodium_memzero(data_, size_);
}

SecretBytes SecretBytes::CopyFrom(ByteView data) {
  SecretBytes s(data.size());
  if (!data.empty()) std::memcpy(s.data_, data.data(), data.size());
  return s;
}

SecretBytes SecretBytes::Random(size_t size) {
  SecretBytes s(size);
  if (size > 0) randombytes_buf(s.data_, size);
  return s;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      locked_(std::exchange(other.locked_, false)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    locked_ = std::exchange(other.locked_, false);
  }
  return *this;
}

SecretBytes::~SecretBytes() { Release(); }

void SecretBytes::Release() noexcept {
  if (data_ == nullptr) return;
  // sodium_munlock zeroes before unlocking; sodium_free zeroes again and
  // checks the canary, aborting on a buffer overflow.
  sodium_munlock(data_, size_);
  sodium_free(data_);
  data_ = nullptr;
  size_ = 0;
  locked_ = false;
}

bool ConstantTimeEquals(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void SecureZero(MutableByteView data) {
  if (!data.empty()) sodium_memzero(data.data(), data.size());
}

}  // namespace chatvault::crypto
