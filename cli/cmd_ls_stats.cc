// chatvault ls SNAPSHOT and chatvault stats.
#include <CLI/CLI.hpp>
#include <ctime>
#include <iomanip>
#include <nlohmann/json.hpp>

#include "backup/blob_store.h"
#include "backup/restorer.h"
#include "cli/commands.h"

namespace chatvault::cli {
namespace {

char TypeChar(pb::NodeType t) {
  switch (t) {
    case pb::NODE_TYPE_DIR:
      return 'd';
    case pb::NODE_TYPE_SYMLINK:
      return 'l';
    default:
      return '-';
  }
}

std::string ModeString(const pb::Node& n) {
  std::string s(1, TypeChar(n.type()));
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s += (n.mode() & (1u << (8 - i))) ? rwx[i] : '-';
  return s;
}

int RunLs(Context& ctx, const std::string& snapshot) {
  Result<std::unique_ptr<backup::Repository>> repo = ctx.OpenRepository();
  if (!repo.ok()) return Fail(repo.status());
  Result<std::string> id = backup::ResolveSnapshot(repo->get(), snapshot);
  if (!id.ok()) return Fail(id.status());
  const bool json = ctx.options().json;
  Status s = backup::ListSnapshot(
      repo->get(), *id, [&](const std::string& path, const pb::Node& n) {
        if (json) {
          std::cout << nlohmann::json{{"path", path},
                                      {"type",
                                       std::string(1, TypeChar(n.type()))},
                                      {"mode", n.mode()},
                                      {"size", n.size()},
                                      {"mtime_ns", n.mtime_ns()}}
                           .dump(-1, ' ', false,
                                 nlohmann::json::error_handler_t::replace)
                    << "\n";
          return Status::OK();
        }
        std::time_t t = static_cast<std::time_t>(n.mtime_ns() / 1'000'000'000);
        std::tm tm{};
        localtime_r(&t, &tm);
        char when[32];
        std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
        ctx.out() << ModeString(n) << " " << std::setw(12) << n.size() << " "
                  << when << " " << path;
        if (n.type() == pb::NODE_TYPE_SYMLINK)
          ctx.out() << " -> " << n.link_target();
        ctx.out() << "\n";
        return Status::OK();
      });
  return s.ok() ? kExitOk : Fail(s);
}

int RunStats(Context& ctx) {
  Result<std::unique_ptr<backup::Repository>> repo = ctx.OpenRepository();
  if (!repo.ok()) return Fail(repo.status());
  uint64_t snapshots = 0, stored = 0;
  Status s =
      (*repo)->backend()->List("snapshots/", [&](const storage::ObjectInfo&) {
        ++snapshots;
        return Status::OK();
      });
  if (s.ok()) {
    s = (*repo)->backend()->List("data/", [&](const storage::ObjectInfo& info) {
      stored += info.size;
      return Status::OK();
    });
  }
  if (!s.ok()) return Fail(s);
  Result<std::unique_ptr<backup::BlobStore>> store =
      backup::BlobStore::Open(repo->get(), ctx.cache_dir());
  if (!store.ok()) return Fail(store.status());
  const backup::BlobStore::Totals known = (*store)->known();
  const uint64_t raw = known.raw_bytes;
  if (ctx.options().json) {
    std::cout << nlohmann::json{{"snapshots", snapshots},
                                {"packs", known.packs},
                                {"blobs", known.blobs},
                                {"unique_bytes", raw},
                                {"stored_bytes", stored}}
                     .dump()
              << "\n";
    return kExitOk;
  }
  ctx.out() << "Repository " << ctx.location() << "\n"
            << "  snapshots     " << snapshots << "\n"
            << "  packs         " << known.packs << "\n"
            << "  unique blobs  " << known.blobs << "\n"
            << "  unique data   " << raw << " bytes\n"
            << "  stored        " << stored
            << " bytes (compressed, encrypted)\n";
  return kExitOk;
}

}  // namespace

void AddLsStatsCommands(CLI::App& app, Context& ctx, int& exit_code) {
  auto snapshot = std::make_shared<std::string>();
  CLI::App* ls = app.add_subcommand(
      "ls", "List the files of a snapshot (ID prefix or 'latest')");
  ls->add_option("snapshot", *snapshot, "Snapshot ID (prefix) or 'latest'")
      ->required();
  ls->callback(
      [&ctx, &exit_code, snapshot] { exit_code = RunLs(ctx, *snapshot); });
  CLI::App* stats = app.add_subcommand(
      "stats", "Sizes: snapshots, packs, unique and stored data");
  stats->callback([&ctx, &exit_code] { exit_code = RunStats(ctx); });
}

}  // namespace chatvault::cli
