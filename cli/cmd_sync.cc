// chatvault sync --from DEVICE --target DIR [--watch]: follow a device's
// chat store; chatvault sync push PATH: back up and publish a chat store.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "backup/archiver.h"
#include "cli/commands.h"
#include "sync/account.h"
#include "sync/follower.h"

namespace chatvault::cli {
namespace {

std::atomic<bool> g_stop{false};

void OnStopSignal(int) { g_stop = true; }

struct SyncArgs {
  std::string from;
  std::string target;
  bool watch = false;
  double interval_s = 5;
  bool overwrite = false;
};

struct PushArgs {
  std::string path;
};

int RunSync(Context& ctx, const SyncArgs& args) {
  if (args.interval_s < 0.1 || args.interval_s > 86400) {
    return Fail(Status::InvalidArgument("--interval is 0.1 to 86400 seconds"));
  }
  DeviceSession session;
  if (Status s = session.Open(ctx); !s.ok()) return Fail(s);
  Result<pb::DeviceList> list = session.account->LoadDevices();
  if (!list.ok()) return Fail(list.status());
  Result<pb::Device> device = sync::FindDevice(*list, args.from);
  if (!device.ok()) return Fail(device.status());
  if (device->status() != pb::DEVICE_STATUS_ACTIVE) {
    return Fail(Status::PermissionDenied("device " + device->name() +
                                         " was revoked; it is not followed"));
  }
  sync::Follower follower(session.account.get(), *device,
                          {.target = args.target,
                           .cache_dir = ctx.cache_dir(),
                           .overwrite = args.overwrite});
  const bool json = ctx.options().json;
  if (args.watch) {
    struct sigaction sa {};
    sa.sa_handler = OnStopSignal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    if (!json) {
      ctx.out() << "Following " << device->name() << " ("
                << sync::ShortId(device->device_id()) << ") into "
                << args.target << "; Ctrl-C stops\n";
    }
  }
  bool reopened = false;
  bool waiting = false;
  while (true) {
    const auto started = std::chrono::steady_clock::now();
    Result<sync::FollowResult> r = follower.Poll();
    if (!r.ok() && r.status().code() == StatusCode::kPermissionDenied &&
        !reopened) {
      // A new key epoch (a rotation or a revocation elsewhere): this
      // session learns it by opening the repository again.
      reopened = true;
      if (Status s = session.Open(ctx); !s.ok()) return Fail(s);
      follower.Rebind(session.account.get());
      continue;
    }
    reopened = false;
    if (r.ok() && r->no_head) {
      const std::string what =
          "device " + device->name() + " has published nothing yet";
      if (!args.watch) {
        return Fail(Status::NotFound(
            what + "; run `chatvault backup` or `sync push` there"));
      }
      // Keep waiting for the first head.
      if (!waiting && !json) ctx.out() << what << "; waiting\n";
      waiting = true;
    } else if (!r.ok()) {
      if (args.watch && r.status().code() == StatusCode::kUnavailable) {
        std::cerr << "chatvault: warning: " << r.status().message()
                  << "; trying again\n";
      } else {
        return Fail(r.status());
      }
    } else if (r->changed) {
      const double secs = std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - started)
                              .count();
      if (json) {
        std::cout << nlohmann::json{{"type", "synced"},
                                    {"device",
                                     HexEncode(AsBytes(device->device_id()))},
                                    {"head_version", r->head.version()},
                                    {"snapshot",
                                     HexEncode(AsBytes(r->head.snapshot()))},
                                    {"files_written", r->files_written},
                                    {"files_removed", r->files_removed},
                                    {"bytes_written", r->bytes_written},
                                    {"blobs_fetched", r->blobs_fetched},
                                    {"blobs_local", r->blobs_local},
                                    {"seconds", secs},
                                    {"head_time_unix_ms",
                                     r->head.time_unix_ms()},
                                    {"applied_unix_ms",
                                     std::chrono::duration_cast<
                                         std::chrono::milliseconds>(
                                         std::chrono::system_clock::now()
                                             .time_since_epoch())
                                         .count()}}
                         .dump()
                  << std::endl;
      } else {
        ctx.out() << LocalTimeString(r->head.time_unix_ms()) << ": snapshot "
                  << sync::ShortId(r->head.snapshot()) << " of "
                  << device->name() << " applied: " << r->files_written
                  << (r->files_written == 1 ? " file" : " files")
                  << " written ("
                  << HumanBytes(static_cast<double>(r->bytes_written)) << "), "
                  << r->files_removed << " removed; " << r->blobs_fetched
                  << " blobs fetched, " << r->blobs_local
                  << " already on this device" << std::endl;
      }
    } else if (!args.watch) {
      if (json) {
        std::cout << nlohmann::json{{"type", "up_to_date"}}.dump() << "\n";
      } else {
        ctx.out() << args.target << " is up to date with " << device->name()
                  << "\n";
      }
    }
    if (!args.watch) return kExitOk;
    const auto until =
        started +
        std::chrono::milliseconds(static_cast<int64_t>(args.interval_s * 1000));
    while (!g_stop && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (g_stop) return kExitOk;
  }
}

int RunPush(Context& ctx, const PushArgs& args) {
  Result<std::unique_ptr<backup::Repository>> repo = ctx.OpenRepository();
  if (!repo.ok()) return Fail(repo.status());
  backup::BackupOptions options;
  options.paths = {args.path};
  options.cache_dir = ctx.cache_dir();
  Result<backup::BackupResult> r = backup::Backup(repo->get(), options);
  if (!r.ok()) return Fail(r.status());
  Result<pb::Head> head =
      PublishSnapshot(ctx, repo->get(), r->snapshot_id, r->paths);
  if (!head.ok()) return Fail(head.status());
  if (ctx.options().json) {
    std::cout << nlohmann::json{{"type", "pushed"},
                                {"snapshot", r->snapshot_id},
                                {"head_version", head->version()},
                                {"added_bytes", r->summary.added_bytes()},
                                {"unreadable", r->unreadable}}
                     .dump()
              << "\n";
  } else {
    ctx.out() << "Published snapshot " << r->snapshot_id.substr(0, 8)
              << " (head version " << head->version() << ", "
              << HumanBytes(static_cast<double>(r->summary.added_bytes()))
              << " new)\n";
  }
  return r->unreadable.empty() ? kExitOk : kExitPartialBackup;
}

}  // namespace

Status DeviceSession::Open(Context& ctx, bool account_key) {
  ASSIGN_OR_RETURN(repo, ctx.OpenRepository(account_key));
  if (!identity) {
    ASSIGN_OR_RETURN(sync::DeviceIdentity id,
                     sync::DeviceIdentity::LoadOrCreate(ctx.home()));
    identity = std::make_unique<sync::DeviceIdentity>(std::move(id));
  }
  ASSIGN_OR_RETURN(sync::Account a,
                   sync::Account::Open(repo.get(), ctx.home(), identity.get()));
  account = std::make_unique<sync::Account>(std::move(a));
  return Status::OK();
}

Result<pb::Head> PublishSnapshot(Context& ctx, backup::Repository* repo,
                                 const std::string& snapshot_id,
                                 const std::vector<std::string>& paths) {
  ASSIGN_OR_RETURN(sync::DeviceIdentity identity,
                   sync::DeviceIdentity::LoadOrCreate(ctx.home()));
  ASSIGN_OR_RETURN(sync::Account account,
                   sync::Account::Open(repo, ctx.home(), &identity));
  return account.PublishHead(snapshot_id, paths);
}

void AddSyncCommand(CLI::App& app, Context& ctx, int& exit_code) {
  auto args = std::make_shared<SyncArgs>();
  auto push = std::make_shared<PushArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sync",
      "Follow a device of the account: materialise the chat store it "
      "publishes in DIR and keep it current (with --watch)");
  cmd->require_subcommand(0, 1);
  cmd->add_option("--from", args->from,
                  "The device to follow: a name or an ID prefix (see "
                  "`chatvault device list`)");
  cmd->add_option("--target", args->target,
                  "Directory the store is materialised in (created if "
                  "missing)");
  cmd->add_flag("--watch", args->watch,
                "Keep following: check for a new head every --interval");
  cmd->add_option("--interval", args->interval_s,
                  "Seconds between checks with --watch (default 5)");
  cmd->add_flag("--overwrite", args->overwrite,
                "Replace files in DIR that no sync wrote (default: refuse)");
  CLI::App* push_cmd = cmd->add_subcommand(
      "push",
      "Back up a chat store and publish it for linked devices to follow");
  push_cmd->add_option("path", push->path, "The chat store's directory")
      ->required();
  push_cmd->callback(
      [&ctx, &exit_code, push] { exit_code = RunPush(ctx, *push); });
  cmd->callback([&ctx, &exit_code, args, cmd] {
    if (!cmd->get_subcommands().empty()) return;  // push ran
    if (args->from.empty() || args->target.empty()) {
      std::cerr << "chatvault: sync needs --from DEVICE and --target DIR "
                   "(or `sync push PATH`)\n";
      exit_code = kExitUsage;
      return;
    }
    exit_code = RunSync(ctx, *args);
  });
}

}  // namespace chatvault::cli
