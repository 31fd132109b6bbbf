// The subcommands. Each file cmd_<name>.cc registers one command on the
// CLI11 app; its callback sets the process exit code.
#ifndef CHATVAULT_CLI_COMMANDS_H_
#define CHATVAULT_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "proto/sync.pb.h"
#include "sync/account.h"

namespace chatvault::cli {

void AddInitCommand(CLI::App& app, Context& ctx, int& exit_code);
void AddSnapshotsCommand(CLI::App& app, Context& ctx, int& exit_code);
void AddBackupCommand(CLI::App& app, Context& ctx, int& exit_code);
void AddRestoreCommand(CLI::App& app, Context& ctx, int& exit_code);
void AddLsStatsCommands(CLI::App& app, Context& ctx, int& exit_code);
void AddCheckCommand(CLI::App& app, Context& ctx, int& exit_code);
void AddForgetCommand(CLI::App& app, Context& ctx, int& exit_code);
void AddKeyCommands(CLI::App& app, Context& ctx, int& exit_code);
void AddScheduleCommand(CLI::App& app, Context& ctx, int& exit_code);
// prune and unlock.
void AddPruneCommand(CLI::App& app, Context& ctx, int& exit_code);

// device join, link, list, revoke.
void AddDeviceCommands(CLI::App& app, Context& ctx, int& exit_code);
// sync (follow a device) and sync push.
void AddSyncCommand(CLI::App& app, Context& ctx, int& exit_code);
// This device's session on the repository: what device and sync commands
// need. Open again to learn a key epoch added since.
struct DeviceSession {
  std::unique_ptr<backup::Repository> repo;
  std::unique_ptr<sync::DeviceIdentity> identity;
  std::unique_ptr<sync::Account> account;

  // With `account_key`, the passphrase or recovery code opens it (see
  // Context::OpenRepository).
  Status Open(Context& ctx, bool account_key = false);
};

// Publishes `snapshot_id` (of `paths`) as this device's head, registering
// the device in the account's list first if needed.
Result<pb::Head> PublishSnapshot(Context& ctx, backup::Repository* repo,
                                 const std::string& snapshot_id,
                                 const std::vector<std::string>& paths);
// Prune's options, shared with forget --prune.
struct PruneArgs {
  std::string grace = "1h";
  double repack_below_percent = 50;
};
void AddPruneOptions(CLI::App* cmd, PruneArgs& args);
// Prunes `repo` and prints what happened; returns the exit code.
int RunPrune(Context& ctx, backup::Repository* repo, const PruneArgs& args,
             bool dry_run);

}  // namespace chatvault::cli

#endif  // CHATVAULT_CLI_COMMANDS_H_
