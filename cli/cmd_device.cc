// chatvault device join | link | list | revoke: the account's devices.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "crypto/secret_bytes.h"
#include "sync/account.h"
#include "sync/link.h"

namespace chatvault::cli {
namespace {

struct JoinArgs {
  std::string name;
  std::string kind = "desktop";
  std::string expires = "10min";
  bool qr = false;
  bool no_qr = false;
};

struct LinkArgs {
  bool yes = false;
};

std::atomic<bool> g_join_stop{false};
void OnJoinSignal(int) { g_join_stop = true; }

struct RevokeArgs {
  std::string device;
};

// Asks on the terminal whether the other device shows `sas`.
bool ConfirmOnTerminal(const std::string& sas) {
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (tty == nullptr) return false;
  std::fprintf(tty,
               "Does the new device show %s? Compare them, then answer "
               "[y/N]: ",
               sas.c_str());
  std::fflush(tty);
  char line[16] = {};
  bool yes = std::fgets(line, sizeof(line), tty) != nullptr &&
             (line[0] == 'y' || line[0] == 'Y');
  std::fclose(tty);
  return yes;
}

int RunJoin(Context& ctx, const JoinArgs& args) {
  const pb::DeviceKind kind = sync::DeviceKindFromName(args.kind);
  if (kind != pb::DEVICE_KIND_DESKTOP && kind != pb::DEVICE_KIND_WEB) {
    return Fail(Status::InvalidArgument("--kind is desktop or web"));
  }
  const int64_t expires = ParseDurationSeconds(args.expires);
  if (expires <= 0) {
    return Fail(Status::InvalidArgument(
        "--expires takes a duration such as 90s, 10min or 1h"));
  }
  Result<storage::Backend*> backend = ctx.Backend();
  if (!backend.ok()) return Fail(backend.status());
  Result<sync::DeviceIdentity> identity =
      sync::DeviceIdentity::LoadOrCreate(ctx.home());
  if (!identity.ok()) return Fail(identity.status());
  const bool json = ctx.options().json;
  const bool show_qr =
      !args.no_qr && !json && (args.qr || ::isatty(STDOUT_FILENO));
  sync::JoinOptions options;
  options.name = args.name.empty() ? sync::DefaultDeviceName() : args.name;
  options.kind = kind;
  options.valid_for = std::chrono::seconds(expires);
  options.on_code = [&](const std::string& code) {
    if (json) {
      std::cout << nlohmann::json{{"type", "code"},
                                  {"code", code},
                                  {"expires_in_s", expires}}
                       .dump()
                << std::endl;
      return;
    }
    if (show_qr) {
      Result<std::string> qr = sync::RenderQrCode(code);
      if (qr.ok()) std::cout << *qr;
    }
    std::cout << "Link code (valid for " << args.expires << ", once):\n\n  "
              << code
              << "\n\nOn a device of the account, run `chatvault device "
                 "link` and enter the code\n(or scan it). Waiting..."
              << std::endl;
  };
  options.on_sas = [&](const std::string& sas) {
    if (json) {
      std::cout << nlohmann::json{{"type", "sas"}, {"sas", sas}}.dump()
                << std::endl;
    } else {
      std::cout << "The other device answered. Check that it shows the "
                   "same code:\n\n      "
                << sas << "\n\nWaiting for it to confirm..." << std::endl;
    }
  };
  // Ctrl-C stops waiting and takes the request out of the repository.
  struct sigaction sa {};
  sa.sa_handler = OnJoinSignal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  options.cancelled = [] { return g_join_stop.load(); };
  Result<sync::JoinResult> r =
      sync::Join(*backend, ctx.home(), *identity, options);
  if (!r.ok()) return Fail(r.status());
  if (json) {
    std::cout << nlohmann::json{{"type", "linked"},
                                {"device", identity->device_id_hex()},
                                {"repository", HexEncode(r->repository_id)},
                                {"device_list_version", r->device_list_version}}
                     .dump()
              << std::endl;
  } else {
    std::cout << "Linked: this device ("
              << identity->device_id_hex().substr(0, 8)
              << ") now holds the keys of the repository at " << ctx.location()
              << ".\nFollow a device with: chatvault sync --from DEVICE "
                 "--target DIR --watch\n";
  }
  return kExitOk;
}

int RunLink(Context& ctx, const LinkArgs& args) {
  // The code is a secret while it is valid: it comes from standard input
  // or the terminal, never from the command line.
  std::string code;
  struct Wipe {
    std::string& s;
    ~Wipe() {
      crypto::SecureZero(
          MutableByteView(reinterpret_cast<std::byte*>(s.data()), s.size()));
    }
  } wipe{code};
  if (::isatty(STDIN_FILENO)) {
    std::cerr << "Link code shown by the new device: " << std::flush;
  }
  if (!std::getline(std::cin, code) || code.empty()) {
    return Fail(Status::InvalidArgument(
        "enter the link code the new device shows (on standard input)"));
  }
  const bool json = ctx.options().json;
  const int tty = args.yes ? -1 : ::open("/dev/tty", O_RDONLY | O_CLOEXEC);
  if (tty >= 0) ::close(tty);
  if (!args.yes && tty < 0) {
    return Fail(Status::InvalidArgument(
        "linking needs a person to compare the codes both devices show: run "
        "on a terminal, or pass --yes after comparing them otherwise"));
  }
  DeviceSession session;
  if (Status s = session.Open(ctx, /*account_key=*/true); !s.ok()) {
    return Fail(s);
  }
  sync::Account* account = session.account.get();
  // This device joins the list too, so that the list names who added whom.
  if (Status s = account->EnsureRegistered("").status(); !s.ok()) {
    return Fail(s);
  }
  sync::LinkOptions options;
  options.linker_name = sync::DefaultDeviceName();
  options.confirm = [&](const std::string& sas) {
    if (json) {
      std::cout << nlohmann::json{{"type", "sas"}, {"sas", sas}}.dump()
                << std::endl;
    } else {
      std::cout << "Short authentication string: " << sas << std::endl;
    }
    return args.yes || ConfirmOnTerminal(sas);
  };
  Result<sync::LinkResult> r = sync::Link(*account, code, options);
  if (!r.ok()) return Fail(r.status());
  if (json) {
    std::cout
        << nlohmann::json{{"type", "linked"},
                          {"device", HexEncode(AsBytes(r->device.device_id()))},
                          {"name", r->device.name()},
                          {"kind", sync::DeviceKindName(r->device.kind())},
                          {"device_list_version", r->device_list_version}}
               .dump()
        << std::endl;
  } else {
    std::cout << "Linked " << r->device.name() << " ("
              << sync::ShortId(r->device.device_id()) << ", "
              << sync::DeviceKindName(r->device.kind())
              << "): it can now open the repository and follow this "
                 "account's devices.\n";
  }
  return kExitOk;
}

int RunList(Context& ctx) {
  DeviceSession session;
  if (Status s = session.Open(ctx); !s.ok()) return Fail(s);
  sync::Account* account = session.account.get();
  const sync::DeviceIdentity* identity = session.identity.get();
  Result<pb::DeviceList> list = account->LoadDevices();
  if (!list.ok()) return Fail(list.status());
  nlohmann::json rows = nlohmann::json::array();
  if (!ctx.options().json) {
    std::printf("%-8s  %-20s  %-7s  %-7s  %-19s  %s\n", "ID", "NAME", "KIND",
                "STATUS", "ADDED", "LAST HEAD");
  }
  for (const pb::Device& d : list->devices()) {
    std::string head = "-";
    uint64_t head_ms = 0;
    std::string head_error;
    if (d.status() == pb::DEVICE_STATUS_ACTIVE) {
      Result<std::optional<pb::Head>> h = account->ReadHead(d);
      if (h.ok() && h->has_value()) {
        head_ms = (*h)->time_unix_ms();
        head = LocalTimeString(head_ms) + " (" +
               sync::ShortId((*h)->snapshot()) + ")";
      } else if (!h.ok() && h.status().code() != StatusCode::kNotFound) {
        head_error = std::string(h.status().message());
        head = "unreadable: " + head_error;
      }
    }
    const bool self = d.device_id() == AsChars(identity->device_id());
    const std::string status =
        d.status() == pb::DEVICE_STATUS_ACTIVE ? "active" : "revoked";
    if (ctx.options().json) {
      rows.push_back({{"id", HexEncode(AsBytes(d.device_id()))},
                      {"name", d.name()},
                      {"kind", sync::DeviceKindName(d.kind())},
                      {"status", status},
                      {"this_device", self},
                      {"added_unix_ms", d.added_unix_ms()},
                      {"revoked_unix_ms", d.revoked_unix_ms()},
                      {"last_head_unix_ms", head_ms},
                      {"head_error", head_error}});
    } else {
      std::printf("%-8s  %-20s  %-7s  %-7s  %-19s  %s%s\n",
                  sync::ShortId(d.device_id()).c_str(),
                  d.name().substr(0, 20).c_str(),
                  sync::DeviceKindName(d.kind()).c_str(), status.c_str(),
                  LocalTimeString(d.added_unix_ms()).c_str(), head.c_str(),
                  self ? "  (this device)" : "");
    }
  }
  if (ctx.options().json) {
    std::cout << nlohmann::json{{"version", list->version()}, {"devices", rows}}
                     .dump()
              << "\n";
  } else if (list->devices().empty()) {
    std::printf(
        "(no devices yet: a backup registers this one; "
        "`chatvault device join` links another)\n");
  }
  return kExitOk;
}

int RunRevoke(Context& ctx, const RevokeArgs& args) {
  DeviceSession session;
  if (Status s = session.Open(ctx, /*account_key=*/true); !s.ok()) {
    return Fail(s);
  }
  sync::Account* account = session.account.get();
  Result<pb::DeviceList> list = account->LoadDevices();
  if (!list.ok()) return Fail(list.status());
  Result<pb::Device> device = sync::FindDevice(*list, args.device);
  if (!device.ok()) return Fail(device.status());
  Result<uint32_t> epoch = sync::Revoke(*account, *device);
  if (!epoch.ok()) return Fail(epoch.status());
  // This device must not accept the old epoch again.
  sync::CheckWriteEpoch(ctx.home(), session.repo.get()).IgnoreError();
  if (ctx.options().json) {
    std::cout << nlohmann::json{{"type", "revoked"},
                                {"device",
                                 HexEncode(AsBytes(device->device_id()))},
                                {"epoch", *epoch}}
                     .dump()
              << "\n";
  } else {
    std::cout << "Revoked " << device->name() << " ("
              << sync::ShortId(device->device_id())
              << "): new data is sealed under "
              << "key epoch " << *epoch
              << ", which it does not hold. What it downloaded before stays "
                 "with it.\n";
    if (device->holder_key().empty()) {
      std::cout << "It opened the repository with the passphrase: change it "
                   "with `chatvault key passwd` too.\n";
    }
  }
  return kExitOk;
}

}  // namespace

void AddDeviceCommands(CLI::App& app, Context& ctx, int& exit_code) {
  CLI::App* device = app.add_subcommand(
      "device", "The account's devices: link new ones, list, revoke");
  device->require_subcommand(1);

  auto join = std::make_shared<JoinArgs>();
  CLI::App* join_cmd = device->add_subcommand(
      "join",
      "On a new device: show a link code (and QR code) and wait until a "
      "device of the account links this one; no passphrase needed here");
  join_cmd->add_option("--name", join->name,
                       "Name shown in the device list (default: host name)");
  join_cmd->add_option("--kind", join->kind, "desktop (default) or web");
  join_cmd->add_option("--expires", join->expires,
                       "How long the code is valid (default 10min)");
  join_cmd->add_flag("--qr", join->qr,
                     "Draw the QR code even when not on a terminal");
  join_cmd->add_flag("--no-qr", join->no_qr, "Do not draw the QR code");
  join_cmd->callback(
      [&ctx, &exit_code, join] { exit_code = RunJoin(ctx, *join); });

  auto link = std::make_shared<LinkArgs>();
  CLI::App* link_cmd = device->add_subcommand(
      "link",
      "On a device of the account (with the passphrase): link the new "
      "device whose link code is entered on standard input, after comparing "
      "the codes both devices show");
  link_cmd->add_flag("--yes", link->yes,
                     "Do not ask: the codes were compared otherwise");
  link_cmd->callback(
      [&ctx, &exit_code, link] { exit_code = RunLink(ctx, *link); });

  CLI::App* list_cmd =
      device->add_subcommand("list", "Show the account's devices");
  list_cmd->callback([&ctx, &exit_code] { exit_code = RunList(ctx); });

  auto revoke = std::make_shared<RevokeArgs>();
  CLI::App* revoke_cmd = device->add_subcommand(
      "revoke",
      "Remove a device (with the passphrase): a new key epoch keeps it from "
      "everything written afterwards");
  revoke_cmd->add_option("device", revoke->device, "Its name or ID prefix")
      ->required();
  revoke_cmd->callback(
      [&ctx, &exit_code, revoke] { exit_code = RunRevoke(ctx, *revoke); });
}

}  // namespace chatvault::cli
