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
         "  3    not found (repository, snapshot, file)\n"
         "  4    already exists\n"
         "  5    permission denied (wrong passphrase or recovery code)\n"
         "  6    data corrupted or tampered with\n"
         "  7    temporarily unavailable; retry later\n"
         "  8    out of space or memory\n"
         "  130  interrupted\n";
}

}  // namespace chatvault::cli
