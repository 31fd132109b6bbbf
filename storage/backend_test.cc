#include "storage/backend.h"

#include <gtest/gtest.h>

namespace chatvault::storage {
namespace {

TEST(ObjectNameTest, AcceptsRepositoryNamesAndOddCharacters) {
  for (const char* name :
       {"config", "data/3f/3fa9", "keys/a b+c", "ünïcødé/名前", "a=b&c%20d",
        "x~y(z)*!'", "a..b", "trailing.dot."}) {
    EXPECT_TRUE(ValidateObjectName(name).ok()) << name;
  }
}

TEST(ObjectNameTest, RejectsUnsafeNames) {
  for (const char* name : {"", "/abs", "a//b", "a/", "../x", "a/../b", "./a",
                           ".tmp/x", "a/.hidden", "tab\there", "nl\n"}) {
    Status s = ValidateObjectName(name);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
  }
  EXPECT_FALSE(ValidateObjectName(std::string(1025, 'a')).ok());
  EXPECT_TRUE(ValidateObjectName(std::string(1024, 'a')).ok());
}

TEST(CheckRangeTest, Bounds) {
  uint64_t n = 0;
  EXPECT_TRUE(CheckRange("o", 10, 0, kToEnd, &n).ok());
  EXPECT_EQ(n, 10u);
  EXPECT_TRUE(CheckRange("o", 10, 10, kToEnd, &n).ok());
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(CheckRange("o", 10, 3, 7, &n).ok());
  EXPECT_EQ(n, 7u);
  EXPECT_FALSE(CheckRange("o", 10, 3, 8, &n).ok());
  EXPECT_FALSE(CheckRange("o", 10, 11, kToEnd, &n).ok());
  EXPECT_FALSE(CheckRange("o", 10, 5, kToEnd - 1, &n).ok());
}

}  // namespace
}  // namespace chatvault::storage
