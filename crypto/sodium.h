// Library initialisation shared by the crypto module. Internal to crypto/.
#ifndef CHATVAULT_CRYPTO_SODIUM_H_
#define CHATVAULT_CRYPTO_SODIUM_H_

#include <cstddef>

#include "crypto/secret_bytes.h"

namespace chatvault::crypto {

// Initialises libsodium once per process. Thread-safe and cheap after the
// first call. Aborts if libsodium cannot initialise (no usable randomness
// source): nothing in chatvault may run without it.
void EnsureSodium();

// Returns the key's bytes for a libsodium call, aborting if the key does not
// have `size` bytes. A moved-from key object is empty; using one would
// otherwise hash without a key or pass NULL to libsodium.
const unsigned char* KeyBytes(const SecretBytes& key, size_t size);

// libsodium takes unsigned char pointers; chatvault holds std::byte.
inline const unsigned char* U8(const std::byte* p) {
  return reinterpret_cast<const unsigned char*>(p);
}
inline unsigned char* U8(std::byte* p) {
  return reinterpret_cast<unsigned char*>(p);
}

// Aborts with `what` when `condition` is false: for contract violations that
// must not pass silently in release builds.
void Check(bool condition, const char* what);

}  // namespace chatvault::crypto

#endif  // CHATVAULT_CRYPTO_SODIUM_H_
