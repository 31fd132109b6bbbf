#include "crypto/argon2.h"

#include <gtest/gtest.h>

namespace chatvault::crypto {
namespace {

Argon2Params Minimum() {
  Argon2Params p;
  p.t_cost = kArgon2MinTCost;
  p.m_cost_kib = kArgon2MinMCostKib;
  p.parallelism = kArgon2MinParallelism;
  p.salt.fill(std::byte{0x5a});
  return p;
}

TEST(Argon2Test, DefaultsAreAtLeastRfc9106SecondRecommendation) {
  Argon2Params d = DefaultArgon2Params();
  EXPECT_TRUE(ValidateArgon2Params(d).ok());
  EXPECT_GE(d.t_cost, 3u);
  EXPECT_GE(d.m_cost_kib, 64u * 1024);
  EXPECT_GE(d.parallelism, 4u);
  // Fresh salt each time.
  EXPECT_NE(d.salt, DefaultArgon2Params().salt);
}

TEST(Argon2Test, WeakOrAbsurdParamsAreRefused) {
  Argon2Params p = Minimum();
  p.t_cost = 2;
  EXPECT_EQ(ValidateArgon2Params(p).code(), StatusCode::kInvalidArgument);
  p = Minimum();
  p.m_cost_kib = 32 * 1024;
  EXPECT_EQ(ValidateArgon2Params(p).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Argon2id(ToBytes("pw"), p, 32).status().code(),
            StatusCode::kInvalidArgument);
  p = Minimum();
  p.parallelism = 1;
  EXPECT_FALSE(ValidateArgon2Params(p).ok());
  p = Minimum();
  p.m_cost_kib = kArgon2MaxMCostKib + 1;
  EXPECT_FALSE(ValidateArgon2Params(p).ok());
  p = Minimum();
  p.t_cost = kArgon2MaxTCost + 1;
  EXPECT_FALSE(ValidateArgon2Params(p).ok());
}

TEST(Argon2Test, ShortOutputRefused) {
  EXPECT_EQ(Argon2id(ToBytes("pw"), Minimum(), 8).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(Argon2Test, DeterministicAndSaltSensitive) {
  Argon2Params p = Minimum();
  Result<SecretBytes> a = Argon2id(ToBytes("passphrase"), p, 32);
  Result<SecretBytes> b = Argon2id(ToBytes("passphrase"), p, 32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(ConstantTimeEquals(a->view(), b->view()));
  Result<SecretBytes> c = Argon2id(ToBytes("passphrasf"), p, 32);
  p.salt[0] = std::byte{0};
  Result<SecretBytes> d = Argon2id(ToBytes("passphrase"), p, 32);
  ASSERT_TRUE(c.ok() && d.ok());
  EXPECT_FALSE(ConstantTimeEquals(a->view(), c->view()));
  EXPECT_FALSE(ConstantTimeEquals(a->view(), d->view()));
}

TEST(Argon2Test, ProtoRoundTripAndValidation) {
  Argon2Params p = DefaultArgon2Params();
  pb::Argon2Params proto = Argon2ParamsToProto(p);
  std::string wire = proto.SerializeAsString();
  pb::Argon2Params parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  Result<Argon2Params> back = Argon2ParamsFromProto(parsed);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->t_cost, p.t_cost);
  EXPECT_EQ(back->m_cost_kib, p.m_cost_kib);
  EXPECT_EQ(back->parallelism, p.parallelism);
  EXPECT_EQ(back->salt, p.salt);

  // A hostile repository cannot weaken or inflate the parameters, nor use an
  // algorithm we do not know.
  pb::Argon2Params bad = proto;
  bad.set_t_cost(1);
  EXPECT_FALSE(Argon2ParamsFromProto(bad).ok());
  bad = proto;
  bad.set_m_cost_kib(0xffffffff);
  EXPECT_FALSE(Argon2ParamsFromProto(bad).ok());
  bad = proto;
  bad.set_salt("short");
  EXPECT_FALSE(Argon2ParamsFromProto(bad).ok());
  bad = proto;
  bad.set_algorithm(pb::KDF_ALGORITHM_UNSPECIFIED);
  EXPECT_FALSE(Argon2ParamsFromProto(bad).ok());
}

}  // namespace
}  // namespace chatvault::crypto
