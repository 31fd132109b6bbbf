// The system's cryptographic random source (getrandom(2) via libsodium).
//
// Thread-safety: thread-safe.
#ifndef CHATVAULT_CRYPTO_RANDOM_H_
#define CHATVAULT_CRYPTO_RANDOM_H_

#include <cstdint>

#include "base/bytes.h"

namespace chatvault::crypto {

// Fills `out` with random bytes. Never fails: libsodium aborts the process
// rather than return predictable bytes.
void RandomBytes(MutableByteView out);

// A uniform integer in [0, upper), without modulo bias. REQUIRES: upper > 0.
uint32_t RandomUniform(uint32_t upper);

}  // namespace chatvault::crypto

#endif  // CHATVAULT_CRYPTO_RANDOM_H_
