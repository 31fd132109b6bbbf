#include "base/bytes.h"

#include <gtest/gtest.h>

namespace chatvault {
namespace {

TEST(HexTest, RoundTripsEveryByte) {
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<std::byte>(i);
  std::string hex = HexEncode(all);
  EXPECT_EQ(hex.substr(0, 8), "00010203");
  EXPECT_EQ(hex.substr(hex.size() - 4), "feff");
  Result<Bytes> back = HexDecode(hex);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, all);
}

TEST(HexTest, AcceptsUpperCase) {
  Result<Bytes> b = HexDecode("ABcd");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(HexEncode(*b), "abcd");
}

TEST(HexTest, RejectsOddLengthAndNonHex) {
  EXPECT_EQ(HexDecode("abc").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(HexDecode("zz").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(HexDecode("0g").status().message(),
            "hex string has a non-hex character at 1");
}

TEST(BytesTest, ViewsShareStorage) {
  std::string_view s = "chat";
  ByteView b = AsBytes(s);
  EXPECT_EQ(static_cast<const void*>(b.data()),
            static_cast<const void*>(s.data()));
  EXPECT_EQ(AsChars(b), s);
  EXPECT_EQ(ToBytes(s).size(), 4u);
}

}  // namespace
}  // namespace chatvault
