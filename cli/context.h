// What every command needs: the global options, and opening the repository
// they name with the secret they provide.
//
// Thread-safety: used from the main thread only.
#ifndef CHATVAULT_CLI_CONTEXT_H_
#define CHATVAULT_CLI_CONTEXT_H_

#include <iostream>
#include <memory>
#include <string>

#include "backup/repository.h"
#include "base/clock.h"
#include "base/result.h"
#include "storage/backend.h"

namespace chatvault::cli {

struct GlobalOptions {
  std::string repo;  // -r / CHATVAULT_REPO; empty: the embedded default
  std::string password_file;
  std::string recovery_code_file;
  std::string cache_dir;  // --cache-dir; empty: CHATVAULT_CACHE_DIR or XDG
  std::string home;       // --home / CHATVAULT_HOME; empty: XDG
  bool json = false;
  bool quiet = false;
  // --limit-upload / --limit-download, KiB/s; 0: unlimited.
  uint64_t limit_upload_kib = 0;
  uint64_t limit_download_kib = 0;
};

// $XDG_DATA_HOME/chatvault/repo, or ~/.local/share/chatvault/repo.
std::string DefaultRepositoryLocation();

class Context {
 public:
  // `options` is read when a command runs, after parsing has filled it in.
  explicit Context(const GlobalOptions& options) : options_(options) {}

  const GlobalOptions& options() const { return options_; }
  std::string location() const;
  // --cache-dir, else the default (backup::DefaultCacheDir).
  std::string cache_dir() const;
  // --home, else the default (sync::DefaultHome): this device's identity
  // and what it knows of repositories.
  std::string home() const;

  // The backend for the repository location (created on first use).
  Result<storage::Backend*> Backend();

  // Opens the repository with the recovery code (when
  // --recovery-code-file is given), else with this device's key if it is a
  // linked device of the repository, else with the passphrase. With
  // `account_key`, a linked device's key is not enough: the passphrase or
  // recovery code is needed (they hold the account signing key).
  Result<std::unique_ptr<backup::Repository>> OpenRepository(
      bool account_key = false);

  // Progress and results for people; silent with --quiet or --json.
  std::ostream& out() {
    return (options_.quiet || options_.json) ? null_ : std::cout;
  }

 private:
  Result<std::unique_ptr<backup::Repository>> OpenRepositoryWith(
      bool account_key);

  const GlobalOptions& options_;
  std::unique_ptr<storage::Backend> backend_;
  std::ostream null_{nullptr};
};

// Prints `status` as "chatvault: <message>" on stderr and returns its exit
// code.
int Fail(const Status& status);

// "0", "90s", "30min", "2h", "1d" → seconds; -1 if malformed.
int64_t ParseDurationSeconds(std::string_view text);

// "512 B", "1.5 MiB": a byte count for people.
std::string HumanBytes(double bytes);

// Writes a recovery code to a new file, mode 0600, synced; refuses to
// replace a file, which may hold another repository's code.
Status WriteRecoveryCodeFile(const std::string& path, std::string_view code);

}  // namespace chatvault::cli

#endif  // CHATVAULT_CLI_CONTEXT_H_
