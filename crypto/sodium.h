// Library initialisation shared by the crypto module. Internal to crypto/.
#ifndef CHATVAULT_CRYPTO_SODIUM_H_
#define CHATVAULT_CRYPTO_SODIUM_H_

namespace chatvault::crypto {

// Initialises libsodium once per process. Thread-safe and cheap after the
// first call. Aborts if libsodium cannot initialise (no usable randomness
// source): nothing in chatvault may run without it.
void EnsureSodium();

}  // namespace chatvault::crypto

#endif  // CHATVAULT_CRYPTO_SODIUM_H_
