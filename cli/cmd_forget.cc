// chatvault forget --keep-… [--group-by …] [--host H] [--dry-run].
#include <CLI/CLI.hpp>
#include <ctime>
#include <nlohmann/json.hpp>

#include "backup/object_codec.h"
#include "backup/retention.h"
#include "cli/commands.h"

namespace chatvault::cli {
namespace {

struct ForgetArgs {
  backup::RetentionPolicy policy;
  std::string within;
  std::string group_by = "host,paths";
  std::string host;
  bool dry_run = false;
  bool prune = false;
  PruneArgs prune_args;
};

Status ParseGrouping(const std::string& text, backup::RetentionGrouping* g) {
  g->host = g->paths = false;
  if (text == "none" || text.empty()) return Status::OK();
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string part = text.substr(start, end - start);
    if (part == "host") {
      g->host = true;
    } else if (part == "paths") {
      g->paths = true;
    } else {
      return Status::InvalidArgument(
          "--group-by takes host, paths, host,paths or none, not '" + text +
          "'");
    }
    start = end + 1;
  }
  return Status::OK();
}

int RunForget(Context& ctx, ForgetArgs args) {
  backup::RetentionGrouping grouping;
  Status s = ParseGrouping(args.group_by, &grouping);
  if (!s.ok()) return Fail(s);
  if (!args.within.empty()) {
    Result<int64_t> within = backup::ParseRetentionDuration(args.within);
    if (!within.ok()) return Fail(within.status());
    args.policy.within_ms = *within;
  }
  if (args.policy.empty()) {
    // Refused before the repository is even opened.
    return Fail(backup::ApplyRetention({}, args.policy).status());
  }
  Result<std::unique_ptr<backup::Repository>> repo = ctx.OpenRepository();
  if (!repo.ok()) return Fail(repo.status());
  std::vector<backup::SnapshotInfo> snapshots;
  std::vector<std::string> unreadable;
  s = (*repo)->backend()->List(
      "snapshots/", [&](const storage::ObjectInfo& info) {
        const std::string id =
            info.name.substr(std::string("snapshots/").size());
        pb::Snapshot snap;
        // Never forget what cannot be read: check reports it.
        if (!(*repo)
                 ->LoadObject(backup::ObjectType::kSnapshot, "snapshots", id,
                              &snap)
                 .ok()) {
          unreadable.push_back(id);
          return Status::OK();
        }
        if (!args.host.empty() && snap.hostname() != args.host) {
          return Status::OK();
        }
        backup::SnapshotInfo i;
        i.id = id;
        i.time_unix_ms = snap.time_unix_ms();
        i.host = snap.hostname();
        i.paths.assign(snap.paths().begin(), snap.paths().end());
        i.tags.assign(snap.tags().begin(), snap.tags().end());
        snapshots.push_back(std::move(i));
        return Status::OK();
      });
  if (!s.ok()) return Fail(s);
  Result<std::vector<backup::RetentionDecision>> decisions =
      backup::ApplyRetention(std::move(snapshots), args.policy, grouping);
  if (!decisions.ok()) return Fail(decisions.status());

  // Remove first, report after: a failure stops with what was done so far
  // reported, and nothing kept is ever touched.
  uint64_t removed = 0;
  Status failure;
  for (backup::RetentionDecision& d : *decisions) {
    if (d.keep || args.dry_run || !failure.ok()) continue;
    failure = (*repo)->backend()->Remove("snapshots/" + d.snapshot.id);
    if (failure.ok()) ++removed;
  }
  const bool json = ctx.options().json;
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const backup::RetentionDecision& d : *decisions) {
      arr.push_back({{"id", d.snapshot.id},
                     {"time_unix_ms", d.snapshot.time_unix_ms},
                     {"group", d.group},
                     {"keep", d.keep},
                     {"reasons", d.reasons}});
    }
    std::cout << nlohmann::json{{"snapshots", arr},
                                {"removed", removed},
                                {"dry_run", args.dry_run},
                                {"unreadable", unreadable}}
                     .dump()
              << "\n";
  } else {
    std::ostream& out = ctx.out();
    std::string group;
    for (const backup::RetentionDecision& d : *decisions) {
      if (d.group != group) {
        group = d.group;
        out << group << ":\n";
      }
      out << "  "
          << (d.keep ? "keep   " : (args.dry_run ? "would forget " : "forget "))
          << d.snapshot.id.substr(0, 8) << "  "
          << LocalTimeString(d.snapshot.time_unix_ms);
      if (d.keep) {
        out << "  (";
        for (size_t i = 0; i < d.reasons.size(); ++i) {
          out << (i ? ", " : "") << d.reasons[i];
        }
        out << ")";
      }
      out << "\n";
    }
    for (const std::string& id : unreadable) {
      std::cerr << "chatvault: snapshot " << id.substr(0, 8)
                << " cannot be read and is left alone; run chatvault check\n";
    }
    uint64_t forget = 0;
    for (const backup::RetentionDecision& d : *decisions) forget += !d.keep;
    if (args.dry_run) {
      out << forget << " snapshot" << (forget == 1 ? "" : "s")
          << " would be forgotten (dry run: nothing changed)\n";
    } else {
      out << removed << " snapshot" << (removed == 1 ? "" : "s")
          << (args.prune ? " forgotten.\n"
                         : " forgotten; the data only they used stays in the "
                           "repository until it is pruned\n");
    }
  }
  if (!failure.ok()) return Fail(failure);
  if (args.prune)
    return RunPrune(ctx, repo->get(), args.prune_args, args.dry_run);
  return kExitOk;
}

}  // namespace

void AddForgetCommand(CLI::App& app, Context& ctx, int& exit_code) {
  auto args = std::make_shared<ForgetArgs>();
  CLI::App* cmd = app.add_subcommand(
      "forget",
      "Forget snapshots a retention policy does not keep (per host and "
      "paths); --dry-run shows what would go and why");
  backup::RetentionPolicy& p = args->policy;
  cmd->add_option("--keep-last", p.last, "Keep the N newest snapshots");
  cmd->add_option("--keep-hourly", p.hourly,
                  "Keep the newest snapshot of each of the last N hours");
  cmd->add_option("--keep-daily", p.daily,
                  "Keep the newest snapshot of each of the last N days");
  cmd->add_option("--keep-weekly", p.weekly,
                  "Keep the newest of each of the last N weeks (ISO, Monday "
                  "first)");
  cmd->add_option("--keep-monthly", p.monthly,
                  "Keep the newest of each of the last N months");
  cmd->add_option("--keep-yearly", p.yearly,
                  "Keep the newest of each of the last N years");
  cmd->add_option("--keep-within", args->within,
                  "Keep every snapshot younger than DURATION before the "
                  "newest (e.g. 30d, 2w, 1y6m)");
  cmd->add_option("--keep-tag", p.tags, "Keep every snapshot with TAG");
  cmd->add_option("--group-by", args->group_by,
                  "Apply the policy per host,paths (default), host, paths or "
                  "none");
  cmd->add_option("--host", args->host, "Only consider snapshots of HOST");
  cmd->add_flag("--allow-empty-group", p.allow_empty_group,
                "Let the policy forget every snapshot of a group");
  cmd->add_flag("--prune", args->prune,
                "Then prune: mark the data only forgotten snapshots used");
  AddPruneOptions(cmd, args->prune_args);
  cmd->add_flag("--dry-run", args->dry_run,
                "Show what would be forgotten and why, change nothing");
  cmd->callback(
      [&ctx, &exit_code, args] { exit_code = RunForget(ctx, *args); });
}

}  // namespace chatvault::cli
