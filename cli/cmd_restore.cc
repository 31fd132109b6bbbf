// chatvault restore SNAPSHOT|latest --target DIR [--overwrite |
// --skip-existing] [--only-db].
#include <CLI/CLI.hpp>
#include <iomanip>
#include <nlohmann/json.hpp>

#include "backup/restorer.h"
#include "cli/commands.h"

namespace chatvault::cli {
namespace {

struct RestoreArgs {
  std::string snapshot;
  std::string target;
  std::vector<std::string> includes;
  std::vector<std::string> excludes;
  bool overwrite = false;
  bool skip_existing = false;
  bool only_db = false;
};

int RunRestore(Context& ctx, const RestoreArgs& args) {
  const auto begin = std::chrono::steady_clock::now();
  Result<std::unique_ptr<backup::Repository>> repo = ctx.OpenRepository();
  if (!repo.ok()) return Fail(repo.status());
  Result<std::string> id = backup::ResolveSnapshot(repo->get(), args.snapshot);
  if (!id.ok()) return Fail(id.status());
  backup::RestoreOptions options;
  options.target = args.target;
  options.includes = args.includes;
  options.cache_dir = ctx.cache_dir();
  options.excludes = args.excludes;
  options.overwrite = args.overwrite;
  options.skip_existing = args.skip_existing;
  options.only_databases = args.only_db;
  auto start = std::chrono::steady_clock::now();
  // Since the command started (unlocking included): what a user waits.
  auto ready_after = [&](const backup::RestoreResult& r) {
    return std::chrono::duration<double>(start - begin + r.databases_ready)
        .count();
  };
  const bool json = ctx.options().json;
  std::ostream& out = ctx.out();
  out << std::fixed << std::setprecision(2);
  // Told the moment it is true: the app can be opened while media follow.
  options.on_databases_ready = [&](const backup::RestoreResult& r) {
    if (json) {
      std::cout << nlohmann::json{{"type", "databases_ready"},
                                  {"databases", r.databases},
                                  {"seconds", ready_after(r)}}
                       .dump()
                << std::endl;
      return;
    }
    out << "Messages ready after " << ready_after(r) << " s (" << r.databases
        << (r.databases == 1 ? " database" : " databases")
        << " restored and synced"
        << (args.only_db ? ")" : "; restoring the rest)") << std::endl;
  };
  Result<backup::RestoreResult> r = backup::Restore(repo->get(), *id, options);
  if (!r.ok()) return Fail(r.status());
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  const double ready = ready_after(*r);
  for (const std::string& w : r->warnings) {
    std::cerr << "warning: " << w << "\n";
  }
  if (json) {
    std::cout << nlohmann::json{{"type", "summary"},
                                {"snapshot", *id},
                                {"target", args.target},
                                {"files", r->files},
                                {"dirs", r->dirs},
                                {"symlinks", r->symlinks},
                                {"bytes", r->bytes},
                                {"databases", r->databases},
                                {"databases_ready_seconds", ready},
                                {"verified", r->verified},
                                {"kept", r->kept},
                                {"temporaries_removed", r->temporaries_removed},
                                {"warnings", r->warnings},
                                {"seconds", secs}}
                     .dump()
              << "\n";
  } else {
    out << "Restored snapshot " << id->substr(0, 8) << " to " << args.target
        << ": " << r->files << " files, " << r->dirs << " directories, "
        << r->bytes << " bytes in " << secs << " s\n";
    if (args.skip_existing) {
      out << r->verified << " already there and verified against the snapshot";
      if (!r->kept.empty()) {
        out << "; " << r->kept.size()
            << " kept as they are although they differ from it:";
      }
      out << "\n";
      for (const std::string& k : r->kept) out << "  " << k << "\n";
      if (r->temporaries_removed > 0) {
        out << "Removed " << r->temporaries_removed
            << " partly written files left by an interrupted restore\n";
      }
    }
  }
  return kExitOk;
}

}  // namespace

void AddRestoreCommand(CLI::App& app, Context& ctx, int& exit_code) {
  auto args = std::make_shared<RestoreArgs>();
  CLI::App* cmd = app.add_subcommand(
      "restore",
      "Restore a snapshot (ID prefix or 'latest') below --target DIR; chat "
      "databases first, synced, then everything else");
  cmd->add_option("snapshot", args->snapshot,
                  "Snapshot ID (prefix) or 'latest'")
      ->required();
  cmd->add_option("-t,--target", args->target, "Directory to restore into")
      ->required();
  cmd->add_option("--include", args->includes,
                  "Restore only paths matching PATTERN");
  cmd->add_option("--exclude", args->excludes, "Skip paths matching PATTERN");
  CLI::Option* overwrite = cmd->add_flag(
      "--overwrite", args->overwrite,
      "Replace files and symlinks already in the target (default: stop, "
      "exit status 16); directories are always merged");
  cmd->add_flag("--skip-existing", args->skip_existing,
                "Leave files already in the target alone, checking them "
                "against the snapshot: finishes an interrupted restore or "
                "one begun with --only-db; files that differ are kept and "
                "listed")
      ->excludes(overwrite);
  cmd->add_flag("--only-db", args->only_db,
                "Restore only the chat databases (SQLite files captured by "
                "backup) and their directories; media can follow later");
  cmd->callback(
      [&ctx, &exit_code, args] { exit_code = RunRestore(ctx, *args); });
}

}  // namespace chatvault::cli
