#include "crypto/secret_bytes.h"

#include <gtest/gtest.h>

#include <type_traits>

namespace chatvault::crypto {
namespace {

// SecretBytes must not be copyable or comparable with ==.
template <typename T>
concept EqualityComparable = requires(const T& a, const T& b) {
  a == b;
};
static_assert(!std::is_copy_constructible_v<SecretBytes>);
static_assert(!std::is_copy_assignable_v<SecretBytes>);
static_assert(std::is_nothrow_move_constructible_v<SecretBytes>);
static_assert(!EqualityComparable<SecretBytes>);

TEST(SecretBytesTest, StartsZeroedAndLocked) {
  SecretBytes s(64);
  ASSERT_EQ(s.size(), 64u);
  for (std::byte b : s.view()) EXPECT_EQ(b, std::byte{0});
  // Running as root or within RLIMIT_MEMLOCK, locking succeeds.
  EXPECT_TRUE(s.locked());
}

TEST(SecretBytesTest, EmptyHasNoStorage) {
  SecretBytes s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.data(), nullptr);
  SecretBytes z(0);
  EXPECT_TRUE(z.empty());
}

TEST(SecretBytesTest, CopyFromAndClone) {
  Bytes src = ToBytes("correct horse battery staple");
  SecretBytes s = SecretBytes::CopyFrom(src);
  EXPECT_EQ(s.chars(), "correct horse battery staple");
  SecretBytes c = s.Clone();
  EXPECT_NE(c.data(), s.data());
  EXPECT_TRUE(ConstantTimeEquals(c.view(), s.view()));
}

TEST(SecretBytesTest, MoveTransfersOwnership) {
  SecretBytes a = SecretBytes::CopyFrom(ToBytes("key"));
  const std::byte* p = a.data();
  SecretBytes b = std::move(a);
  EXPECT_EQ(b.data(), p);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
  SecretBytes c(8);
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(c.chars(), "key");
}

TEST(SecretBytesTest, RandomDiffers) {
  SecretBytes a = SecretBytes::Random(32);
  SecretBytes b = SecretBytes::Random(32);
  EXPECT_FALSE(ConstantTimeEquals(a.view(), b.view()));
}

TEST(SecretBytesTest, ConstantTimeEqualsComparesLengthAndContent) {
  Bytes x = ToBytes("abcd"), y = ToBytes("abce"), z = ToBytes("abc");
  EXPECT_TRUE(ConstantTimeEquals(x, x));
  EXPECT_FALSE(ConstantTimeEquals(x, y));
  EXPECT_FALSE(ConstantTimeEquals(x, z));
  EXPECT_TRUE(ConstantTimeEquals({}, {}));
}

TEST(SecretBytesTest, SecureZeroClears) {
  Bytes x = ToBytes("secret");
  SecureZero(x);
  for (std::byte b : x) EXPECT_EQ(b, std::byte{0});
}

TEST(SecretBytesDeathTest, OverflowIntoGuardPageCrashes) {
  // sodium_malloc puts an inaccessible page after the buffer; an overflow
  // faults instead of silently corrupting or leaking neighbouring memory.
  EXPECT_DEATH(
      {
        SecretBytes s(4096);
        volatile std::byte* p = s.data();
        for (size_t i = 0; i < 2 * 4096 + 64; ++i) p[i] = std::byte{1};
      },
      "");
}

}  // namespace
}  // namespace chatvault::crypto
