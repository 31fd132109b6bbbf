// Recovery codes: a 256-bit random seed written as 64 characters that a
// person can copy onto paper and type back in.
//
//   7KQ2-M9XW-...   (16 groups of 4, 64 characters)
//
// Alphabet: Crockford's base32 (0-9 and A-Z without I, L, O, U), so no two
// characters are easily confused. The 64 characters are:
//   52 data characters   the seed, 5 bits per character, most significant
//                        first; the last character's 4 low bits are zero
//    6 hash characters   the first 30 bits of BLAKE2b-256 over a context
//                        string and the seed
//    6 check characters  a bech32 BCH checksum (BIP 173) over the 58
//                        characters before it
// The BCH code guarantees that any change to at most four characters is
// detected, so every single wrong character and every swap of two
// characters (adjacent or not) is caught; the hash characters catch random
// larger damage with probability 1 - 2^-30 beyond that. Full grammar in
// docs/design.md, "Recovery code".
//
// Parsing ignores case, spaces and dashes, and reads O as 0 and I, L as 1,
// as Crockford's base32 does.
//
// Thread-safety: as for any value type.
#ifndef CHATVAULT_CRYPTO_RECOVERY_CODE_H_
#define CHATVAULT_CRYPTO_RECOVERY_CODE_H_

#include <cstddef>
#include <string_view>

#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace chatvault::crypto {

inline constexpr size_t kRecoverySeedBytes = 32;
inline constexpr size_t kRecoveryCodeChars = 64;

class RecoveryCode {
 public:
  // A fresh random code.
  static RecoveryCode Generate();
  // InvalidArgument unless `seed` is kRecoverySeedBytes long.
  static Result<RecoveryCode> FromSeed(SecretBytes seed);
  // Parses what a person typed. InvalidArgument with a message saying what
  // is wrong (length, a character outside the alphabet and where, or a
  // checksum mismatch) and never echoing the code.
  static Result<RecoveryCode> Parse(std::string_view text);

  const SecretBytes& seed() const { return seed_; }

  // The 64 characters in 16 dash-separated groups of four.
  SecretBytes Format() const;

 private:
  explicit RecoveryCode(SecretBytes seed) : seed_(std::move(seed)) {}
  SecretBytes seed_;
};

}  // namespace chatvault::crypto

#endif  // CHATVAULT_CRYPTO_RECOVERY_CODE_H_
