#include "crypto/sodium.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace chatvault::crypto {

void EnsureSodium() {
  static const bool initialised = [] {
    if (sodium_init() < 0) {
      std::fputs("chatvault: cannot initialise libsodium\n", stderr);
      std::abort();
    }
    return true;
  }();
  (void)initialised;
}

}  // namespace chatvault::crypto
