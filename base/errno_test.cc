#include "base/errno.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace chatvault {
namespace {

TEST(ErrnoTest, MapsClassesOfErrors) {
  struct Case {
    int err;
    StatusCode code;
  } cases[] = {
      {ENOENT, StatusCode::kNotFound},
      {EEXIST, StatusCode::kAlreadyExists},
      {EACCES, StatusCode::kPermissionDenied},
      {EROFS, StatusCode::kPermissionDenied},
      {ENOSPC, StatusCode::kResourceExhausted},
      {EDQUOT, StatusCode::kResourceExhausted},
      {EINTR, StatusCode::kUnavailable},
      {ECONNRESET, StatusCode::kUnavailable},
      {ETIMEDOUT, StatusCode::kUnavailable},
      {EINVAL, StatusCode::kInvalidArgument},
      {ECANCELED, StatusCode::kCancelled},
      {EIO, StatusCode::kIOError},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(StatusFromErrno(c.err, "ctx").code(), c.code) << c.err;
  }
}

TEST(ErrnoTest, MessageHasContextAndSystemText) {
  Status s = StatusFromErrno(ENOSPC, "writing pack 0a1b");
  EXPECT_EQ(s.message(), "writing pack 0a1b: No space left on device");
}

}  // namespace
}  // namespace chatvault
