#include "cli/app.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace chatvault::cli {

void HardenProcess() {
  // Key material lives in locked, MADV_DONTDUMP memory already; this also
  // keeps the rest of the heap (plaintext chat data) out of core files.
  struct rlimit none {};
  if (setrlimit(RLIMIT_CORE, &none) != 0 ||
      prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    std::cerr << "chatvault: warning: cannot disable core dumps; memory "
                 "holding chat data could end up in a core file\n";
  }
}

int Run(int argc, char** argv) {
  CLI::App app{
      "chatvault: end-to-end encrypted, deduplicating backup and multi-device "
      "sync for chat history.",
      "chatvault"};
  app.set_version_flag("-V,--version", "chatvault " CHATVAULT_VERSION);
  app.footer(std::string(ExitCodeHelp()));
  app.require_subcommand(0, 1);
  // Global options may also follow the command: `chatvault backup --json X`.
  app.fallthrough();

  GlobalOptions options;
  app.add_option("-r,--repo", options.repo,
                 "Repository: a directory, or s3:http[s]://HOST[:PORT]/BUCKET"
                 "[/PREFIX] (default: $XDG_DATA_HOME/chatvault/repo)")
      ->envname("CHATVAULT_REPO");
  app.add_option("--password-file", options.password_file,
                 "Read the passphrase from FILE (else CHATVAULT_PASSWORD_FILE, "
                 "CHATVAULT_PASSWORD, or a prompt)");
  app.add_option(
      "--recovery-code-file", options.recovery_code_file,
      "Open with the recovery code in FILE (init: write the new code there)");
  app.add_option("--cache-dir", options.cache_dir,
                 "Local cache directory (default: CHATVAULT_CACHE_DIR, else "
                 "$XDG_CACHE_HOME/chatvault)");
  app.add_option("--home", options.home,
                 "This device's state: its identity keys and what it knows "
                 "of repositories (default: CHATVAULT_HOME, else "
                 "$XDG_CONFIG_HOME/chatvault)");
  app.add_option("--limit-upload", options.limit_upload_kib,
                 "Upload at most KIB KiB/s on average (default: unlimited)")
      ->envname("CHATVAULT_LIMIT_UPLOAD");
  app.add_option("--limit-download", options.limit_download_kib,
                 "Download at most KIB KiB/s on average (default: unlimited)")
      ->envname("CHATVAULT_LIMIT_DOWNLOAD");
  app.add_flag("--json", options.json, "Machine-readable output");
  app.add_flag("-q,--quiet", options.quiet, "Print only errors");

  // parse() fills `options` before any command's callback runs.
  Context ctx(options);
  int exit_code = kExitOk;
  AddInitCommand(app, ctx, exit_code);
  AddBackupCommand(app, ctx, exit_code);
  AddSnapshotsCommand(app, ctx, exit_code);
  AddRestoreCommand(app, ctx, exit_code);
  AddLsStatsCommands(app, ctx, exit_code);
  AddCheckCommand(app, ctx, exit_code);
  AddForgetCommand(app, ctx, exit_code);
  AddKeyCommands(app, ctx, exit_code);
  AddScheduleCommand(app, ctx, exit_code);
  AddPruneCommand(app, ctx, exit_code);
  AddDeviceCommands(app, ctx, exit_code);
  AddSyncCommand(app, ctx, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (app.get_subcommands().empty()) {
    std::cout << app.help();
    return kExitUsage;
  }
  return exit_code;
}

}  // namespace chatvault::cli
