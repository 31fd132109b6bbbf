// chatvault backup PATH...: a new snapshot of the given paths.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "backup/archiver.h"
#include "backup/file_cache.h"
#include "cli/commands.h"

namespace chatvault::cli {
namespace {

struct BackupArgs {
  std::vector<std::string> paths;
  std::vector<std::string> tags;
  std::vector<std::string> excludes;
  std::string host;
  bool no_cache = false;
  bool no_publish = false;
};

// Total size of the regular files below `paths`, for the ETA; a quick stat
// walk, errors ignored (the backup reports them).
uint64_t EstimateBytes(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  uint64_t total = 0;
  std::error_code ec;
  for (const std::string& p : paths) {
    if (fs::is_regular_file(fs::symlink_status(p, ec))) {
      total += fs::file_size(p, ec);
      continue;
    }
    for (auto it = fs::recursive_directory_iterator(
             p, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec) && !it->is_symlink(ec))
        total += it->file_size(ec);
    }
  }
  return total;
}

int RunBackup(Context& ctx, const BackupArgs& args) {
  Result<std::unique_ptr<backup::Repository>> repo = ctx.OpenRepository();
  if (!repo.ok()) return Fail(repo.status());
  backup::BackupOptions options;
  options.paths = args.paths;
  options.tags = args.tags;
  options.excludes = args.excludes;
  options.hostname = args.host;
  if (!args.no_cache) {
    options.cache_dir = ctx.cache_dir();
  }

  const bool json = ctx.options().json;
  const bool tty = !json && !ctx.options().quiet && ::isatty(STDERR_FILENO);
  // The stat walk only serves the ETA on a terminal.
  const uint64_t estimate = tty ? EstimateBytes(args.paths) : 0;
  const auto start = std::chrono::steady_clock::now();
  auto last = start - std::chrono::seconds(1);
  auto progress = [&](const backup::BackupProgress& p) {
    auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::milliseconds(json ? 1000 : 200)) return;
    last = now;
    double secs = std::chrono::duration<double>(now - start).count();
    const uint64_t done = p.bytes_read + p.bytes_skipped;
    double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    double eta = rate > 0 && estimate > done
                     ? static_cast<double>(estimate - done) / rate
                     : 0;
    if (json) {
      std::cout << nlohmann::json{{"type", "progress"},
                                  {"files", p.files},
                                  {"bytes_read", p.bytes_read},
                                  {"bytes_skipped", p.bytes_skipped},
                                  {"bytes_new", p.bytes_new},
                                  {"seconds", secs}}
                       .dump()
                << "\n";
    } else if (tty) {
      std::fprintf(stderr, "\r\033[K%s / %s, %llu files, %s/s, ETA %.0f s",
                   HumanBytes(static_cast<double>(done)).c_str(),
                   HumanBytes(static_cast<double>(estimate)).c_str(),
                   static_cast<unsigned long long>(p.files),
                   HumanBytes(rate).c_str(), eta);
    }
  };
  Result<backup::BackupResult> r =
      backup::Backup(repo->get(), options, progress);
  if (tty) std::fprintf(stderr, "\r\033[K");
  if (!r.ok()) return Fail(r.status());
  // Linked devices follow this device's head. A failure here loses
  // nothing: the snapshot is saved, and the next backup publishes.
  Status published;
  if (!args.no_publish) {
    published =
        PublishSnapshot(ctx, repo->get(), r->snapshot_id, r->paths).status();
    if (!published.ok()) {
      r->warnings.push_back(
          "the snapshot is saved but linked devices were not told of it: " +
          std::string(published.message()));
    }
  }
  const pb::SnapshotSummary& s = r->summary;
  if (json) {
    std::cout << nlohmann::json{{"type", "summary"},
                                {"snapshot", r->snapshot_id},
                                {"files", s.files()},
                                {"dirs", s.dirs()},
                                {"bytes", s.bytes()},
                                {"added_bytes", s.added_bytes()},
                                {"packs_written", r->packs_written},
                                {"files_unchanged", r->files_unchanged},
                                {"delta_blobs", r->delta_blobs},
                                {"parent", r->parent_id},
                                {"published",
                                 !args.no_publish && published.ok()},
                                {"warnings", r->warnings},
                                {"duration_ms", s.duration_ms()},
                                {"unreadable", r->unreadable}}
                     .dump()
              << "\n";
  } else {
    std::ostream& out = ctx.out();
    out << "Snapshot " << r->snapshot_id.substr(0, 8) << " saved: " << s.files()
        << " files, " << HumanBytes(static_cast<double>(s.bytes())) << " read, "
        << HumanBytes(static_cast<double>(s.added_bytes()))
        << " added to the repository in " << s.duration_ms() / 1000.0 << " s";
    if (r->files_unchanged > 0) {
      out << " (" << r->files_unchanged << " unchanged files not read again)";
    }
    out << "\n";
    if (r->delta_blobs > 0) {
      out << r->delta_blobs << " changed pages stored as deltas against "
          << "snapshot " << r->parent_id.substr(0, 8) << "\n";
    }
    for (const std::string& w : r->warnings) {
      std::cerr << "chatvault: warning: " << w << "\n";
    }
    for (const std::string& u : r->unreadable)
      std::cerr << "chatvault: skipped " << u << "\n";
  }
  if (!r->unreadable.empty()) {
    if (!json) {
      std::cerr
          << "chatvault: the snapshot lacks " << r->unreadable.size()
          << " unreadable file(s); fix their permissions and back up again\n";
    }
    return kExitPartialBackup;
  }
  return kExitOk;
}

}  // namespace

void AddBackupCommand(CLI::App& app, Context& ctx, int& exit_code) {
  auto args = std::make_shared<BackupArgs>();
  CLI::App* cmd =
      app.add_subcommand("backup",
                         "Back up PATHs into a new snapshot; SQLite databases "
                         "are read at one committed state while their app "
                         "writes, and stored page by page");
  cmd->add_option("paths", args->paths, "Files and directories to back up")
      ->required();
  cmd->add_option("--tag", args->tags, "Tag the snapshot (repeatable)");
  cmd->add_option("--exclude", args->excludes,
                  "Skip files whose name or path matches PATTERN (repeatable)");
  cmd->add_option("--host", args->host,
                  "Host name to record (default: this host's)");
  cmd->add_flag("--no-publish", args->no_publish,
                "Do not publish the snapshot as this device's head for "
                "linked devices to follow");
  cmd->add_flag("--no-cache", args->no_cache,
                "Ignore the local cache: read every file, and every index "
                "from the repository");
  cmd->callback(
      [&ctx, &exit_code, args] { exit_code = RunBackup(ctx, *args); });
}

}  // namespace chatvault::cli
