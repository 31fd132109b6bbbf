// Helpers shared by backup tests.
#ifndef CHATVAULT_BACKUP_TEST_UTIL_H_
#define CHATVAULT_BACKUP_TEST_UTIL_H_

#include "backup/repository.h"

namespace chatvault::backup::testing {

// The weakest Argon2id parameters chatvault accepts (RFC 9106's second
// option), so that tests unlock in about 0.1 s; fixed salt.
inline crypto::Argon2Params FastKdf() {
  crypto::Argon2Params p;
  p.t_cost = crypto::kArgon2MinTCost;
  p.m_cost_kib = crypto::kArgon2MinMCostKib;
  p.parallelism = crypto::kArgon2MinParallelism;
  p.salt.fill(std::byte{7});
  return p;
}

// Init options with FastKdf and the given chunk sizes.
inline InitOptions FastInit(ChunkerParams chunker = InitOptions{}.chunker) {
  InitOptions o;
  o.kdf = FastKdf();
  o.chunker = chunker;
  return o;
}

}  // namespace chatvault::backup::testing

#endif  // CHATVAULT_BACKUP_TEST_UTIL_H_
