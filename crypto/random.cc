#include "crypto/random.h"

#include <sodium.h>

#include "crypto/sodium.h"

namespace chatvault::crypto {

void RandomBytes(MutableByteView out) {
  EnsureSodium();
  if (!out.empty()) randombytes_buf(out.data(), out.size());
}

uint32_t RandomUniform(uint32_t upper) {
  EnsureSodium();
  return randombytes_uniform(upper);
}

}  // namespace chatvault::crypto
