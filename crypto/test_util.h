// Helpers shared by crypto tests.
#ifndef CHATVAULT_CRYPTO_TEST_UTIL_H_
#define CHATVAULT_CRYPTO_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <string_view>

#include "base/bytes.h"
#include "crypto/secret_bytes.h"

namespace chatvault::crypto::testing {

// Decodes hex known to be valid (test constants).
inline Bytes Hex(std::string_view hex) {
  Result<Bytes> b = HexDecode(hex);
  EXPECT_TRUE(b.ok()) << hex;
  return b.ok() ? *b : Bytes();
}

inline SecretBytes SecretHex(std::string_view hex) {
  return SecretBytes::CopyFrom(Hex(hex));
}

}  // namespace chatvault::crypto::testing

#endif  // CHATVAULT_CRYPTO_TEST_UTIL_H_
