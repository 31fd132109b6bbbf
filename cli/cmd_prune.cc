// chatvault prune [--grace D] [--repack-below PCT] [--dry-run], and
// chatvault unlock [--force].
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "backup/lock.h"
#include "backup/pruner.h"
#include "cli/commands.h"

namespace chatvault::cli {

void AddPruneOptions(CLI::App* cmd, PruneArgs& args) {
  cmd->add_option("--grace", args.grace,
                  "Delete what a prune marks only once DURATION has passed "
                  "(0, 30min, 1h, 2d; default 1h), so that backups running "
                  "meanwhile lose nothing");
  cmd->add_option("--repack-below", args.repack_below_percent,
                  "Repack packs less than PCT% used (default 50; 0: never)")
      ->check(CLI::Range(0.0, 100.0));
}

int RunPrune(Context& ctx, backup::Repository* repo, const PruneArgs& args,
             bool dry_run) {
  const int64_t grace = ParseDurationSeconds(args.grace);
  if (grace < 0) {
    return Fail(Status::InvalidArgument(
        "--grace takes a duration such as 0, 90s, 30min, 1h or 2d, not '" +
        args.grace + "'"));
  }
  backup::PruneOptions options;
  options.grace = std::chrono::seconds(grace);
  options.repack_below = args.repack_below_percent / 100.0;
  options.dry_run = dry_run;
  options.cache_dir = ctx.cache_dir();
  const bool json = ctx.options().json;
  const bool tty = !json && !ctx.options().quiet && ::isatty(STDERR_FILENO);
  backup::PruneProgressFn progress;
  if (tty) {
    progress = [](const backup::PruneProgress& p) {
      std::fprintf(stderr, "\r\033[Kprune: %s %llu of %llu", p.phase.c_str(),
                   static_cast<unsigned long long>(p.done),
                   static_cast<unsigned long long>(p.total));
    };
  }
  Result<backup::PruneResult> r = backup::Prune(repo, options, progress);
  if (tty) std::fprintf(stderr, "\r\033[K");
  if (!r.ok()) return Fail(r.status());
  if (json) {
    std::cout << nlohmann::json{{"dry_run", dry_run},
                                {"plans_completed", r->plans_completed},
                                {"plans_waiting", r->plans_waiting},
                                {"next_delete_unix_ms", r->next_delete_unix_ms},
                                {"packs_deleted", r->packs_deleted},
                                {"bytes_freed", r->bytes_freed},
                                {"packs_listed_again", r->packs_listed_again},
                                {"plan", r->plan_id},
                                {"snapshots", r->snapshots},
                                {"blobs", r->blobs},
                                {"blobs_used", r->blobs_used},
                                {"packs", r->packs},
                                {"pack_bytes", r->pack_bytes},
                                {"used_bytes", r->used_bytes},
                                {"packs_unused", r->packs_unused},
                                {"packs_repacked", r->packs_repacked},
                                {"packs_unindexed", r->packs_unindexed},
                                {"bytes_condemned", r->bytes_condemned},
                                {"packs_written", r->packs_written},
                                {"bytes_written", r->bytes_written},
                                {"indexes_superseded", r->indexes_superseded},
                                {"indexes_written", r->indexes_written},
                                {"notes", r->notes}}
                     .dump()
              << "\n";
    return kExitOk;
  }
  std::ostream& out = ctx.out();
  for (const std::string& n : r->notes) std::cerr << "chatvault: " << n << "\n";
  if (r->plans_completed > 0) {
    out << "Deleted " << r->packs_deleted << " packs ("
        << HumanBytes(static_cast<double>(r->bytes_freed))
        << " freed) that earlier prunes had marked";
    if (r->packs_listed_again > 0) {
      out << "; " << r->packs_listed_again
          << " marked packs were needed after all and kept";
    }
    out << ".\n";
  }
  out << r->snapshots << " snapshots use " << r->blobs_used << " of "
      << r->blobs
      << " blobs: " << HumanBytes(static_cast<double>(r->used_bytes)) << " of "
      << HumanBytes(static_cast<double>(r->pack_bytes)) << " in " << r->packs
      << " packs.\n";
  const uint64_t marked =
      r->packs_unused + r->packs_repacked + r->packs_unindexed;
  if (marked == 0) {
    out << "Nothing to prune.\n";
  } else {
    out << (dry_run ? "Would mark " : "Marked ") << marked << " packs ("
        << HumanBytes(static_cast<double>(r->bytes_condemned))
        << ") for deletion: " << r->packs_unused << " unused, "
        << r->packs_repacked << " repacked";
    if (r->packs_written > 0) {
      out << " into " << r->packs_written << " new ("
          << HumanBytes(static_cast<double>(r->bytes_written)) << ")";
    }
    if (r->packs_unindexed > 0) {
      out << ", " << r->packs_unindexed
          << " in no index (deleted after at least 1 h)";
    }
    out << ".\n";
  }
  if (dry_run) {
    out << "Dry run: nothing changed.\n";
  } else if (r->plans_waiting > 0) {
    out << r->plans_waiting << " marked set"
        << (r->plans_waiting == 1 ? "" : "s")
        << " will be deleted by a prune run after "
        << LocalTimeString(r->next_delete_unix_ms)
        << " (the grace period lets backups running now finish).\n";
  }
  return kExitOk;
}

namespace {

struct PruneCommandArgs {
  PruneArgs prune;
  bool dry_run = false;
};

}  // namespace

void AddPruneCommand(CLI::App& app, Context& ctx, int& exit_code) {
  auto args = std::make_shared<PruneCommandArgs>();
  CLI::App* cmd = app.add_subcommand(
      "prune",
      "Delete data no snapshot uses: marks it now, deletes what earlier "
      "prunes marked once the grace period has passed");
  AddPruneOptions(cmd, args->prune);
  cmd->add_flag("--dry-run", args->dry_run,
                "Show what would be marked, change nothing");
  cmd->callback([&ctx, &exit_code, args] {
    Result<std::unique_ptr<backup::Repository>> repo = ctx.OpenRepository();
    if (!repo.ok()) {
      exit_code = Fail(repo.status());
      return;
    }
    exit_code = RunPrune(ctx, repo->get(), args->prune, args->dry_run);
  });

  auto force = std::make_shared<bool>(false);
  CLI::App* unlock = app.add_subcommand(
      "unlock",
      "Remove the prune lock left by a process that is gone (--force: even "
      "if it may still run)");
  unlock->add_flag("--force", *force,
                   "Remove the lock even if its holder may be alive");
  unlock->callback([&ctx, &exit_code, force] {
    Result<std::unique_ptr<backup::Repository>> repo = ctx.OpenRepository();
    if (!repo.ok()) {
      exit_code = Fail(repo.status());
      return;
    }
    Result<std::optional<pb::Lock>> removed =
        backup::BreakLock(repo->get(), "prune", *force);
    if (!removed.ok()) {
      exit_code = Fail(removed.status());
      return;
    }
    if (ctx.options().json) {
      std::cout << nlohmann::json{{"removed", removed->has_value()}}.dump()
                << "\n";
    } else if (*removed) {
      ctx.out() << "Removed the lock of " << backup::DescribeLock(**removed)
                << ".\n";
    } else {
      ctx.out() << "The repository is not locked.\n";
    }
    exit_code = kExitOk;
  });
}

}  // namespace chatvault::cli
