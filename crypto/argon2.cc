#include "crypto/argon2.h"

#include <argon2.h>

#include <cstring>
#include <string>

#include "crypto/random.h"

namespace chatvault::crypto {
namespace {

// Measured on a 2-core x86-64 VM (docs/benchmarks.md, "Argon2id"): 0.40 s
// to unlock there, four times RFC 9106's minimum memory, and within reach of
// a phone or a 1 GiB NAS. 512 MiB (0.84 s) was rejected for those devices.
constexpr uint32_t kDefaultTCost = 3;
constexpr uint32_t kDefaultMCostKib = 256 * 1024;
constexpr uint32_t kDefaultParallelism = 4;

Status StatusFromArgon2(int rc) {
  std::string msg = "Argon2: ";
  msg += argon2_error_message(rc);
  switch (rc) {
    case ARGON2_MEMORY_ALLOCATION_ERROR:
      return Status::ResourceExhausted(
          msg + "; free some memory or use a machine with more RAM");
    case ARGON2_THREAD_FAIL:
      return Status::Unavailable(msg);
    default:
      return Status::InvalidArgument(msg);
  }
}

std::string Field(const char* name, uint32_t value, uint32_t lo, uint32_t hi) {
  return std::string("Argon2 ") + name + " is " + std::to_string(value) +
         "; it must be between " + std::to_string(lo) + " and " +
         std::to_string(hi);
}

}  // namespace

Argon2Params DefaultArgon2Params() {
  Argon2Params p;
  p.t_cost = kDefaultTCost;
  p.m_cost_kib = kDefaultMCostKib;
  p.parallelism = kDefaultParallelism;
  RandomBytes(p.salt);
  return p;
}

Status ValidateArgon2Params(const Argon2Params& p) {
  if (p.t_cost < kArgon2MinTCost || p.t_cost > kArgon2MaxTCost) {
    return Status::InvalidArgument(
        Field("passes", p.t_cost, kArgon2MinTCost, kArgon2MaxTCost));
  }
  if (p.m_cost_kib < kArgon2MinMCostKib || p.m_cost_kib > kArgon2MaxMCostKib) {
    return Status::InvalidArgument(Field(
        "memory (KiB)", p.m_cost_kib, kArgon2MinMCostKib, kArgon2MaxMCostKib));
  }
  if (p.parallelism < kArgon2MinParallelism ||
      p.parallelism > kArgon2MaxParallelism) {
    return Status::InvalidArgument(Field("parallelism", p.parallelism,
                                         kArgon2MinParallelism,
                                         kArgon2MaxParallelism));
  }
  return Status::OK();
}

Result<SecretBytes> Argon2id(ByteView passphrase, const Argon2Params& params,
                             size_t out_len) {
  RETURN_IF_ERROR(ValidateArgon2Params(params));
  if (out_len < 16) {
    return Status::InvalidArgument("Argon2id output must be at least 16 bytes");
  }
  Argon2Input in;
  in.type = Argon2Type::kArgon2id;
  in.password = passphrase;
  in.salt = params.salt;
  in.t_cost = params.t_cost;
  in.m_cost_kib = params.m_cost_kib;
  in.parallelism = params.parallelism;
  in.out_len = out_len;
  return Argon2Hash(in);
}

Result<SecretBytes> Argon2Hash(const Argon2Input& in) {
  if (in.out_len < ARGON2_MIN_OUTLEN || in.out_len > 1024) {
    return Status::InvalidArgument("Argon2 output must be 4..1024 bytes");
  }
  constexpr size_t kMaxInput = 0xffffffffu;
  if (in.password.size() > kMaxInput || in.salt.size() > kMaxInput ||
      in.secret.size() > kMaxInput || in.associated_data.size() > kMaxInput) {
    return Status::InvalidArgument("Argon2 input longer than 4 GiB");
  }
  SecretBytes out(in.out_len);
  argon2_context ctx{};
  ctx.out = reinterpret_cast<uint8_t*>(out.data());
  ctx.outlen = static_cast<uint32_t>(out.size());
  // libargon2 takes non-const pointers but only reads these inputs (no
  // ARGON2_FLAG_CLEAR_* flags are set).
  ctx.pwd = const_cast<uint8_t*>(
      reinterpret_cast<const uint8_t*>(in.password.data()));
  ctx.pwdlen = static_cast<uint32_t>(in.password.size());
  ctx.salt =
      const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(in.salt.data()));
  ctx.saltlen = static_cast<uint32_t>(in.salt.size());
  ctx.secret =
      const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(in.secret.data()));
  ctx.secretlen = static_cast<uint32_t>(in.secret.size());
  ctx.ad = const_cast<uint8_t*>(
      reinterpret_cast<const uint8_t*>(in.associated_data.data()));
  ctx.adlen = static_cast<uint32_t>(in.associated_data.size());
  ctx.t_cost = in.t_cost;
  ctx.m_cost = in.m_cost_kib;
  ctx.lanes = in.parallelism;
  ctx.threads = in.parallelism;
  ctx.version = ARGON2_VERSION_13;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  int rc = argon2_ctx(&ctx, static_cast<argon2_type>(in.type));
  if (rc != ARGON2_OK) return StatusFromArgon2(rc);
  return out;
}

pb::Argon2Params Argon2ParamsToProto(const Argon2Params& params) {
  pb::Argon2Params proto;
  proto.set_algorithm(pb::KDF_ALGORITHM_ARGON2ID_13);
  proto.set_t_cost(params.t_cost);
  proto.set_m_cost_kib(params.m_cost_kib);
  proto.set_parallelism(params.parallelism);
  proto.set_salt(std::string(AsChars(params.salt)));
  return proto;
}

Result<Argon2Params> Argon2ParamsFromProto(const pb::Argon2Params& proto) {
  if (proto.algorithm() == pb::KDF_ALGORITHM_UNSPECIFIED) {
    // No writer leaves it unset: the parameters were damaged.
    return Status::Corruption(
        "the key-derivation parameters name no algorithm: they are damaged");
  }
  if (proto.algorithm() != pb::KDF_ALGORITHM_ARGON2ID_13) {
    return Status::InvalidArgument(
        "unknown key-derivation algorithm " +
        std::to_string(proto.algorithm()) +
        "; this repository may need a newer chatvault");
  }
  if (proto.salt().size() != kArgon2SaltBytes) {
    return Status::InvalidArgument("Argon2 salt must be 16 bytes, got " +
                                   std::to_string(proto.salt().size()));
  }
  Argon2Params p;
  p.t_cost = proto.t_cost();
  p.m_cost_kib = proto.m_cost_kib();
  p.parallelism = proto.parallelism();
  std::memcpy(p.salt.data(), proto.salt().data(), kArgon2SaltBytes);
  RETURN_IF_ERROR(ValidateArgon2Params(p));
  return p;
}

}  // namespace chatvault::crypto
