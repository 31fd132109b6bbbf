#include "crypto/blake2b.h"

#include <gtest/gtest.h>

namespace chatvault::crypto {
namespace {

TEST(Blake2bTest, StreamingEqualsOneShotAtEverySplit) {
  HashKey key = HashKey::Generate();
  Bytes data(300);
  for (size_t i = 0; i < data.size(); ++i) data[i] = std::byte(i * 13);
  Digest256 whole = Blake2b256(key, data);
  for (size_t split = 0; split <= data.size(); split += 7) {
    Blake2b256Hasher h(key);
    h.Update(ByteView(data).subspan(0, split));
    h.Update(ByteView(data).subspan(split));
    EXPECT_EQ(h.Finish(), whole) << split;
  }
}

TEST(Blake2bTest, KeyChangesTheDigest) {
  Bytes data = ToBytes("the same chat message");
  EXPECT_NE(Blake2b256(HashKey::Generate(), data),
            Blake2b256(HashKey::Generate(), data));
}

TEST(Blake2bDeathTest, MovedFromKeyAborts) {
  // Regression: a moved-from HashKey hashed without a key.
  HashKey key = HashKey::Generate();
  HashKey other = std::move(key);
  EXPECT_DEATH((void)Blake2b256(key, ToBytes("x")), "wrong size");  // NOLINT
  (void)other;
}

TEST(Blake2bDeathTest, FinishTwiceAborts) {
  HashKey key = HashKey::Generate();
  Blake2b256Hasher h(key);
  (void)h.Finish();
  EXPECT_DEATH((void)h.Finish(), "twice");
}

TEST(Blake2bTest, LengthsAreChecked) {
  EXPECT_FALSE(Blake2b({}, 15).ok());
  EXPECT_FALSE(Blake2b({}, 65).ok());
  Bytes short_key(15);
  EXPECT_FALSE(Blake2b({}, 32, short_key).ok());
  EXPECT_FALSE(HashKey::FromSecret(SecretBytes(16)).ok());
}

TEST(Blake2bTest, KeyedOneShotMatchesGeneral) {
  HashKey key = HashKey::Generate();
  Bytes data = ToBytes("abc");
  Digest256 d = Blake2b256(key, data);
  Result<Bytes> g = Blake2b(data, 32, key.secret().view());
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(Bytes(d.begin(), d.end()), *g);
}

}  // namespace
}  // namespace chatvault::crypto
