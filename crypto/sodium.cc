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

const unsigned char* KeyBytes(const SecretBytes& key, size_t size) {
  Check(key.size() == size, "key of the wrong size (moved-from key object?)");
  return reinterpret_cast<const unsigned char*>(key.data());
}

void Check(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "chatvault: internal error: %s\n", what);
  std::abort();
}

}  // namespace chatvault::crypto
