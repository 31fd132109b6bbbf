#include "base/errno.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace chatvault {
namespace {

StatusCode CodeForErrno(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return StatusCode::kNotFound;
    case EEXIST:
    case ENOTEMPTY:
      return StatusCode::kAlreadyExists;
    case EACCES:
    case EPERM:
    case EROFS:
      return StatusCode::kPermissionDenied;
    case ENOSPC:
    case EDQUOT:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
      return StatusCode::kResourceExhausted;
    case EINTR:
    case EAGAIN:
    case ETIMEDOUT:
    case ECONNRESET:
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EPIPE:
      return StatusCode::kUnavailable;
    case EINVAL:
    case ENAMETOOLONG:
    case ELOOP:
      return StatusCode::kInvalidArgument;
    case ECANCELED:
      return StatusCode::kCancelled;
    default:
      return StatusCode::kIOError;
  }
}

}  // namespace

Status StatusFromErrno(int err, std::string_view context) {
  // strerror_r (GNU variant) is thread-safe, unlike strerror.
  char buf[256];
  const char* text = strerror_r(err, buf, sizeof(buf));
  std::string msg(context);
  msg += ": ";
  msg += text;
  return Status(CodeForErrno(err), msg);
}

}  // namespace chatvault
