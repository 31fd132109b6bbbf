#include "base/status.h"

#include <gtest/gtest.h>

namespace chatvault {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s = Status::Corruption("pack 1a2b: bad tag");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_EQ(s.message(), "pack 1a2b: bad tag");
  EXPECT_EQ(s.ToString(), "Corruption: pack 1a2b: bad tag");
  EXPECT_TRUE(s.IsDataLoss());
  EXPECT_FALSE(s.IsRetryable());
}

TEST(StatusTest, OnlyUnavailableIsRetryable) {
  EXPECT_TRUE(Status::Unavailable("x").IsRetryable());
  EXPECT_FALSE(Status::IOError("x").IsRetryable());
  EXPECT_FALSE(Status::NotFound("x").IsRetryable());
  EXPECT_FALSE(Status().IsRetryable());
}

TEST(StatusTest, CopyIsDeepAndMoveLeavesOk) {
  Status a = Status::NotFound("snapshot abc");
  Status b = a;
  EXPECT_EQ(a, b);
  Status c = std::move(a);
  EXPECT_EQ(c, b);
  // A moved-from Status is OK (null state); documented by unique_ptr.
  EXPECT_TRUE(a.ok());  // NOLINT(bugprone-use-after-move)
  b = Status();
  EXPECT_TRUE(b.ok());
  EXPECT_EQ(c.code(), StatusCode::kNotFound);
}

TEST(StatusTest, WithContextPrefixesAndKeepsCode) {
  Status s = Status::PermissionDenied("wrong passphrase").WithContext("open");
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "open: wrong passphrase");
  EXPECT_TRUE(Status().WithContext("x").ok());
}

TEST(StatusTest, EveryCodeHasAName) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kExpired); ++c) {
    EXPECT_NE(StatusCodeName(static_cast<StatusCode>(c)), "Unknown") << c;
  }
}

Status FailIf(bool fail) {
  return fail ? Status::IOError("boom") : Status::OK();
}

Status Chain(bool fail, int* reached) {
  RETURN_IF_ERROR(FailIf(fail));
  ++*reached;
  return Status::OK();
}

TEST(StatusTest, ReturnIfErrorPropagatesErrorsOnly) {
  int reached = 0;
  EXPECT_TRUE(Chain(false, &reached).ok());
  EXPECT_EQ(reached, 1);
  Status s = Chain(true, &reached);
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_EQ(reached, 1);
}

}  // namespace
}  // namespace chatvault
