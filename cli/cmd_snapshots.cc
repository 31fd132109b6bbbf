// chatvault snapshots: list the snapshots in the repository.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/commands.h"

namespace chatvault::cli {
namespace {

int RunSnapshots(Context& ctx) {
  Result<std::unique_ptr<backup::Repository>> repo = ctx.OpenRepository();
  if (!repo.ok()) return Fail(repo.status());
  std::vector<std::pair<std::string, pb::Snapshot>> snaps;
  Status s = (*repo)->backend()->List(
      "snapshots/", [&](const storage::ObjectInfo& info) {
        std::string id = info.name.substr(std::string("snapshots/").size());
        pb::Snapshot snap;
        RETURN_IF_ERROR((*repo)->LoadObject(backup::ObjectType::kSnapshot,
                                            "snapshots", id, &snap));
        snaps.emplace_back(id, std::move(snap));
        return Status::OK();
      });
  if (!s.ok()) return Fail(s);
  std::sort(snaps.begin(), snaps.end(), [](const auto& a, const auto& b) {
    return a.second.time_unix_ms() < b.second.time_unix_ms();
  });
  if (ctx.options().json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& [id, snap] : snaps) {
      arr.push_back({{"id", id},
                     {"time_unix_ms", snap.time_unix_ms()},
                     {"hostname", snap.hostname()},
                     {"paths", std::vector<std::string>(snap.paths().begin(),
                                                        snap.paths().end())},
                     {"tags", std::vector<std::string>(snap.tags().begin(),
                                                       snap.tags().end())},
                     {"files", snap.summary().files()},
                     {"bytes", snap.summary().bytes()}});
    }
    std::cout << arr.dump() << "\n";
    return kExitOk;
  }
  std::ostream& out = ctx.out();
  if (snaps.empty()) {
    out << "No snapshots yet in " << ctx.location() << "\n";
    return kExitOk;
  }
  for (const auto& [id, snap] : snaps) {
    out << id.substr(0, 8) << "  " << LocalTimeString(snap.time_unix_ms())
        << "  " << snap.hostname();
    for (const std::string& p : snap.paths()) out << "  " << p;
    out << "\n";
  }
  out << snaps.size() << " snapshot" << (snaps.size() == 1 ? "" : "s") << "\n";
  return kExitOk;
}

}  // namespace

void AddSnapshotsCommand(CLI::App& app, Context& ctx, int& exit_code) {
  CLI::App* cmd =
      app.add_subcommand("snapshots", "List snapshots (--json: a JSON array)");
  cmd->callback([&ctx, &exit_code] { exit_code = RunSnapshots(ctx); });
}

}  // namespace chatvault::cli
