// Process exit codes: one per Status code, so that scripts can tell a wrong
// passphrase from a damaged repository from a full disk without parsing
// messages. Listed in `chatvault --help` and the README.
#ifndef CHATVAULT_CLI_EXIT_CODES_H_
#define CHATVAULT_CLI_EXIT_CODES_H_

#include <string_view>

#include "base/status.h"

namespace chatvault::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,            // IOError and anything unclassified
  kExitUsage = 2,              // bad command line or InvalidArgument
  kExitNotFound = 3,           // repository, snapshot or file not found
  kExitAlreadyExists = 4,      // e.g. init on an existing repository
  kExitPermissionDenied = 5,   // wrong passphrase or recovery code, no access
  kExitCorruption = 6,         // data damaged or tampered with
  kExitUnavailable = 7,        // temporary failure; retry later
  kExitResourceExhausted = 8,  // disk full, quota, memory
  kExitCancelled = 130,        // interrupted (as shells report SIGINT)
};

ExitCode ExitCodeFor(const Status& status);

// The table for --help, one "  N  meaning" line per code.
std::string_view ExitCodeHelp();

}  // namespace chatvault::cli

#endif  // CHATVAULT_CLI_EXIT_CODES_H_
