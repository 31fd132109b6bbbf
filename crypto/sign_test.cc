#include "crypto/sign.h"

#include <gtest/gtest.h>

#include <type_traits>

#include "crypto/box.h"

namespace chatvault::crypto {
namespace {

// Signing and box keys are distinct types.
static_assert(!std::is_convertible_v<VerifyKey, BoxPublicKey>);
static_assert(!std::is_convertible_v<BoxPublicKey, VerifyKey>);
static_assert(!std::is_convertible_v<SigningKey, BoxKeyPair>);

TEST(SignTest, SignVerifyRoundTrip) {
  SigningKey key = SigningKey::Generate();
  Bytes msg = ToBytes("device list v12");
  Signature sig = key.Sign(msg);
  EXPECT_TRUE(Verify(key.verify_key(), msg, sig).ok());
}

TEST(SignTest, TamperedMessageSignatureOrKeyFails) {
  SigningKey key = SigningKey::Generate();
  Bytes msg = ToBytes("device list v12");
  Signature sig = key.Sign(msg);
  for (size_t bit = 0; bit < sig.size() * 8; ++bit) {
    Signature t = sig;
    t[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
    ASSERT_EQ(Verify(key.verify_key(), msg, t).code(), StatusCode::kCorruption)
        << bit;
  }
  EXPECT_FALSE(Verify(key.verify_key(), ToBytes("device list v13"), sig).ok());
  EXPECT_FALSE(Verify(SigningKey::Generate().verify_key(), msg, sig).ok());
  EXPECT_FALSE(Verify(key.verify_key(), msg, ByteView(sig).first(63)).ok());
}

TEST(SignTest, SeedRoundTrip) {
  SigningKey key = SigningKey::Generate();
  Result<SigningKey> again = SigningKey::FromSeed(key.Seed());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->verify_key(), key.verify_key());
  EXPECT_FALSE(SigningKey::FromSeed(SecretBytes(64)).ok());
}

}  // namespace
}  // namespace chatvault::crypto
