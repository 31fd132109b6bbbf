// Conversion of operating-system error numbers into Status, at the call site
// that saw them.
//
// Thread-safety: all functions are thread-safe.
#ifndef CHATVAULT_BASE_ERRNO_H_
#define CHATVAULT_BASE_ERRNO_H_

#include <string_view>

#include "base/status.h"

namespace chatvault {

// Returns the Status for `err` (an errno value), with the message
// "<context>: <strerror(err)>". REQUIRES: err != 0.
//
// ENOENT, ENOTDIR -> NotFound; EEXIST, ENOTEMPTY -> AlreadyExists;
// EACCES, EPERM, EROFS -> PermissionDenied; ENOSPC, EDQUOT, ENOMEM, EMFILE,
// ENFILE -> ResourceExhausted; EINTR, EAGAIN, ETIMEDOUT, ECONNRESET,
// ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EPIPE -> Unavailable;
// EINVAL, ENAMETOOLONG, ELOOP -> InvalidArgument; ECANCELED -> Cancelled;
// anything else -> IOError.
Status StatusFromErrno(int err, std::string_view context);

}  // namespace chatvault

#endif  // CHATVAULT_BASE_ERRNO_H_
