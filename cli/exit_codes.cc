#include "cli/exit_codes.h"

namespace chatvault::cli {

ExitCode ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return kExitOk;
    case StatusCode::kInvalidArgument:
      return kExitUsage;
    case StatusCode::kNotFound:
      return kExitNotFound;
    case StatusCode::kAlreadyExists:
      return kExitAlreadyExists;
    case StatusCode::kPermissionDenied:
      return kExitPermissionDenied;
    case StatusCode::kCorruption:
      return kExitCorruption;
    case StatusCode::kUnavailable:
      return kExitUnavailable;
    case StatusCode::kResourceExhausted:
      return kExitResourceExhausted;
    case StatusCode::kCancelled:
      return kExitCancelled;
    case StatusCode::kLocked:
      return kExitLocked;
    case StatusCode::kExpired:
      return kExitExpired;
    case StatusCode::kIOError:
      return kExitFailure;
  }
  return kExitFailure;
}

std::string_view ExitCodeHelp() {
  return "Exit status:\n"
         "  0    success\n"
         "  1    failure (I/O or other error)\n"
         "  2    invalid command line or argument (also a mistyped recovery "
         "code)\n"
         "  3    backup completed, but some source files could not be read\n"
         "  10   repository (or snapshot) does not exist\n"
         "  11   repository is locked by another operation\n"
         "  12   wrong passphrase or recovery code, storage credentials "
         "refused, or this device revoked\n"
         "  13   data corrupted or tampered with\n"
         "  14   temporarily unavailable; retry later\n"
         "  15   out of space or memory\n"
         "  16   already exists\n"
         "  17   link code expired or already used\n"
         "  130  interrupted\n";
}

}  // namespace chatvault::cli
