// Argon2id password hashing (RFC 9106) through libargon2, with its
// parameters kept beside every output so that a repository can always be
// opened with the parameters it was created with, and stronger ones can be
// adopted later without a format change.
//
// libsodium's crypto_pwhash is not used: it fixes one lane and has no secret
// or associated-data inputs, so it can neither follow RFC 9106's recommended
// p=4 nor run RFC 9106's test vectors.
//
// Thread-safety: thread-safe. Each call allocates m_cost_kib of memory and
// runs `parallelism` threads.
#ifndef CHATVAULT_CRYPTO_ARGON2_H_
#define CHATVAULT_CRYPTO_ARGON2_H_

#include <array>
#include <cstdint>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"
#include "proto/kdf.pb.h"

namespace chatvault::crypto {

inline constexpr size_t kArgon2SaltBytes = 16;

struct Argon2Params {
  uint32_t t_cost = 0;       // passes over memory
  uint32_t m_cost_kib = 0;   // memory, KiB
  uint32_t parallelism = 0;  // lanes (and threads)
  std::array<std::byte, kArgon2SaltBytes> salt{};
};

// RFC 9106 §4's second recommended option: the weakest parameters chatvault
// accepts, when creating and when opening.
inline constexpr uint32_t kArgon2MinTCost = 3;
inline constexpr uint32_t kArgon2MinMCostKib = 64 * 1024;
inline constexpr uint32_t kArgon2MinParallelism = 4;
// Upper bounds, so that a hostile repository cannot make a client allocate
// unbounded memory or spin for hours.
inline constexpr uint32_t kArgon2MaxTCost = 64;
// 2 GiB: RFC 9106's first recommended option. More would be an easy way for
// a hostile repository to get a phone or small NAS killed for lack of memory.
inline constexpr uint32_t kArgon2MaxMCostKib = 2 * 1024 * 1024;
inline constexpr uint32_t kArgon2MaxParallelism = 64;

// The parameters for a new passphrase holder, with a fresh random salt.
// Chosen by measurement (bench/argon2_bench, docs/benchmarks.md).
Argon2Params DefaultArgon2Params();

// OK when `params` lie within the bounds above; InvalidArgument naming the
// offending field otherwise.
Status ValidateArgon2Params(const Argon2Params& params);

// Argon2id v1.3 of `passphrase` under `params`, `out_len` bytes (16..1024).
// Validates params first. ResourceExhausted if the memory cannot be had.
// Argon2's working memory comes from the heap, not from locked memory; it
// is wiped by libargon2 and freed before this returns.
Result<SecretBytes> Argon2id(ByteView passphrase, const Argon2Params& params,
                             size_t out_len);

// Encoding as stored in repositories; FromProto validates.
pb::Argon2Params Argon2ParamsToProto(const Argon2Params& params);
Result<Argon2Params> Argon2ParamsFromProto(const pb::Argon2Params& proto);

// The full libargon2 context API, for known-answer tests and future uses of
// a secret (pepper) or associated data. Performs no strength validation.
enum class Argon2Type { kArgon2d = 0, kArgon2i = 1, kArgon2id = 2 };
struct Argon2Input {
  Argon2Type type = Argon2Type::kArgon2id;
  ByteView password;
  ByteView salt;
  ByteView secret;
  ByteView associated_data;
  uint32_t t_cost = 0;
  uint32_t m_cost_kib = 0;
  uint32_t parallelism = 0;
  size_t out_len = 32;
};
Result<SecretBytes> Argon2Hash(const Argon2Input& input);

}  // namespace chatvault::crypto

#endif  // CHATVAULT_CRYPTO_ARGON2_H_
