#include "base/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace chatvault {
namespace {

Result<int> Parse(std::string_view s) {
  if (s.empty()) return Status::InvalidArgument("empty");
  return static_cast<int>(s.size());
}

Result<int> Doubled(std::string_view s) {
  ASSIGN_OR_RETURN(int n, Parse(s));
  return 2 * n;
}

TEST(ResultTest, HoldsValue) {
  Result<int> r = Parse("abc");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 3);
  EXPECT_TRUE(r.status().ok());
}

TEST(ResultTest, HoldsError) {
  Result<int> r = Parse("");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "empty");
}

TEST(ResultTest, AssignOrReturnPropagates) {
  EXPECT_EQ(*Doubled("ab"), 4);
  EXPECT_EQ(Doubled("").status().code(), StatusCode::kInvalidArgument);
}

TEST(ResultTest, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(ResultTest, ConvertingConstruction) {
  Result<std::string> r = "text";
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 4u);
}

// Regression: an implicit converting constructor let `return 32;` build a
// Result<SecretBytes-like> through an explicit constructor, and let a
// pointer become Result<bool> == true.
struct ExplicitFromInt {
  explicit ExplicitFromInt(int n) : n(n) {}
  int n;
};
static_assert(!std::is_convertible_v<int, Result<ExplicitFromInt>>);
static_assert(std::is_constructible_v<Result<ExplicitFromInt>, int>);
static_assert(!std::is_convertible_v<const char*, Result<bool>>);
static_assert(!std::is_constructible_v<Result<bool>, const char*>);
static_assert(std::is_convertible_v<bool, Result<bool>>);

TEST(ResultTest, StatusOfErrorSurvivesReading) {
  Result<int> r = Status::NotFound("x");
  Status first = r.status();
  EXPECT_FALSE(r.status().ok());
  EXPECT_EQ(first, r.status());
}

TEST(ResultDeathTest, ValueOfErrorAborts) {
  Result<int> r = Status::NotFound("x");
  EXPECT_DEATH({ (void)r.value(); }, "");
}

#ifdef NDEBUG
TEST(ResultTest, OkStatusAsErrorBecomesAnError) {
  Result<int> r = Status::OK();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIOError);
}
#endif

}  // namespace
}  // namespace chatvault
