// Process exit codes: distinct per kind of failure, so that scripts can tell
// a wrong passphrase from a damaged repository from a full disk without
// parsing messages. Listed in `chatvault --help` and the README.
#ifndef CHATVAULT_CLI_EXIT_CODES_H_
#define CHATVAULT_CLI_EXIT_CODES_H_

#include <string_view>

#include "base/status.h"

namespace chatvault::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,  // IOError and anything unclassified
  kExitUsage = 2,    // bad command line or InvalidArgument
  // A backup that completed but could not read some source files; set by
  // the backup command, not derived from a Status.
  kExitPartialBackup = 3,
  kExitNotFound = 10,           // repository (or snapshot) does not exist
  kExitLocked = 11,             // repository locked by another operation
  kExitPermissionDenied = 12,   // wrong passphrase or recovery code, the
                                // storage refused the credentials, or
                                // this device was revoked
  kExitCorruption = 13,         // data damaged or tampered with
  kExitUnavailable = 14,        // temporary failure; retry later
  kExitResourceExhausted = 15,  // disk full, quota, memory
  kExitAlreadyExists = 16,      // e.g. init on an existing repository
  kExitExpired = 17,            // link code expired or already used
  kExitCancelled = 130,         // interrupted (as shells report SIGINT)
};

ExitCode ExitCodeFor(const Status& status);

// The table for --help, one "  N  meaning" line per code.
std::string_view ExitCodeHelp();

}  // namespace chatvault::cli

#endif  // CHATVAULT_CLI_EXIT_CODES_H_
