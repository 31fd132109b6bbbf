// chatvault schedule install|status|remove|run: scheduled backups through a
// systemd user timer, or a crontab entry where systemd is absent.
//
// The timer (or cron) runs `chatvault … schedule run -- PATH…`, which runs
// the backup as a child process with the repository's password file (never
// the passphrase itself on a command line), appends its output to a log,
// retries failures that are worth retrying (exit 14, storage unavailable)
// after 1, 5 and 15 minutes, and records the result for `schedule status`.
//
// For tests and packagers, CHATVAULT_SYSTEMD_USER_DIR (write the units
// there, run no systemctl) and CHATVAULT_CRONTAB_FILE (edit that file, run
// no crontab) redirect where the schedule is installed.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/errno.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace chatvault::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUnit = "chatvault-backup";
constexpr const char* kCronMark = "# chatvault-backup";

struct ScheduleArgs {
  std::string daily;  // HH:MM
  std::string every;  // 30min, 2h, 1d
  bool on_ac_power = false;
  std::string log;
  std::vector<std::string> backup_args;  // after --
};

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string Home() { return Env("HOME").empty() ? "/" : Env("HOME"); }

std::string StateDir() {
  const std::string xdg = Env("XDG_STATE_HOME");
  return (xdg.empty() ? Home() + "/.local/state" : xdg) + "/chatvault";
}

std::string SystemdDir(bool* test_mode) {
  const std::string forced = Env("CHATVAULT_SYSTEMD_USER_DIR");
  *test_mode = !forced.empty();
  if (!forced.empty()) return forced;
  const std::string xdg = Env("XDG_CONFIG_HOME");
  return (xdg.empty() ? Home() + "/.config" : xdg) + "/systemd/user";
}

// Runs `argv` and returns its exit code, with its output appended to
// `output` if not null.
int Spawn(const std::vector<std::string>& argv, std::string* output = nullptr,
          const std::string& input = "") {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return -1;
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return -1;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    // dup2 clears close-on-exec on the copies; the originals close at exec.
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  if (pid < 0) {
    ::close(in[1]);
    ::close(out[0]);
    return -1;
  }
  if (!input.empty()) {
    // A child that exits without reading must not kill this process.
    ::signal(SIGPIPE, SIG_IGN);
    ssize_t ignored = ::write(in[1], input.data(), input.size());
    (void)ignored;
  }
  ::close(in[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) {
    if (output) output->append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  if (::waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A word for systemd's ExecStart: quoted, with systemd's specifiers and
// variables escaped.
std::string SystemdQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '%') out += '%';
    if (c == '$') out += '$';
    out += c;
  }
  return out + "\"";
}

// A word for /bin/sh, as cron runs it; '%' is special to cron.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else if (c == '%') {
      out += "\\%";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// "30min", "2h", "1d" → seconds; 0 if malformed or under 5 minutes.
int64_t ParseEvery(const std::string& text) {
  const int64_t s = ParseDurationSeconds(text);
  return s >= 300 ? s : 0;
}

bool ParseDaily(const std::string& text, int* hour, int* minute) {
  return text.size() == 5 && text[2] == ':' &&
         std::sscanf(text.c_str(), "%2d:%2d", hour, minute) == 2 &&
         *hour >= 0 && *hour < 24 && *minute >= 0 && *minute < 60;
}

std::string Describe(const ScheduleArgs& a) {
  return (a.daily.empty() ? "every " + a.every : "daily " + a.daily) +
         (a.on_ac_power ? ", on AC power only" : "");
}

// The command a scheduled run executes.
std::vector<std::string> RunCommand(Context& ctx, const ScheduleArgs& a,
                                    const std::string& password_file) {
  std::vector<std::string> cmd = {fs::canonical("/proc/self/exe").string(),
                                  "-r",
                                  ctx.location(),
                                  "--password-file",
                                  password_file,
                                  "--cache-dir",
                                  ctx.cache_dir(),
                                  "schedule",
                                  "run",
                                  "--log",
                                  a.log};
  if (a.on_ac_power) cmd.push_back("--on-ac-power");
  cmd.push_back("--");
  cmd.insert(cmd.end(), a.backup_args.begin(), a.backup_args.end());
  return cmd;
}

Status WriteFile(const std::string& path, const std::string& content) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::ofstream f(path, std::ios::trunc);
  f << content;
  f.close();
  if (!f) return Status::IOError("cannot write '" + path + "'");
  return Status::OK();
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// The crontab's lines other than chatvault's.
std::string WithoutOurLines(const std::string& crontab) {
  std::istringstream in(crontab);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.find(kCronMark) == std::string::npos) out += line + "\n";
  }
  return out;
}

Result<std::string> ReadCrontab() {
  const std::string file = Env("CHATVAULT_CRONTAB_FILE");
  if (!file.empty()) return ReadFile(file);
  std::string out;
  int rc = Spawn({"crontab", "-l"}, &out);
  if (rc == 127) {
    return Status::Unavailable(
        "neither systemd (user instance) nor crontab is available to run "
        "scheduled backups");
  }
  return rc == 0 ? out : std::string();  // "no crontab for user": empty
}

Status WriteCrontab(const std::string& content) {
  const std::string file = Env("CHATVAULT_CRONTAB_FILE");
  if (!file.empty()) return WriteFile(file, content);
  std::string out;
  if (Spawn({"crontab", "-"}, &out, content) != 0) {
    return Status::IOError("crontab refused the new table: " + out);
  }
  return Status::OK();
}

bool SystemdAvailable() {
  bool test_mode = false;
  SystemdDir(&test_mode);
  if (test_mode) return true;
  if (!Env("CHATVAULT_CRONTAB_FILE").empty()) return false;
  return Spawn({"systemctl", "--user", "show-environment"}) == 0;
}

// The password file a scheduled run reads: given, absolute, and readable by
// its owner only.
Result<std::string> CheckedPasswordFile(Context& ctx) {
  std::string file = ctx.options().password_file;
  if (file.empty()) file = Env("CHATVAULT_PASSWORD_FILE");
  if (file.empty()) {
    return Status::InvalidArgument(
        "a scheduled backup needs a password file: create one readable only "
        "by you (chmod 600 FILE) and pass --password-file FILE");
  }
  struct stat st;
  if (::stat(file.c_str(), &st) != 0) {
    return StatusFromErrno(errno, "cannot use password file '" + file + "'");
  }
  if ((st.st_mode & 077) != 0) {
    return Status::PermissionDenied("password file '" + file +
                                    "' can be read by others; run chmod 600 '" +
                                    file + "' first");
  }
  return fs::absolute(file).string();
}

int RunInstall(Context& ctx, ScheduleArgs a) {
  int hour = 0, minute = 0;
  const int64_t every = a.every.empty() ? 0 : ParseEvery(a.every);
  if (a.daily.empty() == a.every.empty() ||
      (!a.daily.empty() && !ParseDaily(a.daily, &hour, &minute)) ||
      (!a.every.empty() && every == 0)) {
    return Fail(Status::InvalidArgument(
        "give either --daily HH:MM or --every DURATION (at least 5min: "
        "30min, 2h, 1d)"));
  }
  if (a.backup_args.empty()) {
    return Fail(Status::InvalidArgument(
        "say what to back up after --, e.g. schedule install --daily 03:30 "
        "-- ~/chats"));
  }
  // The schedule runs in the home directory with a bare environment: a
  // relative repository path would name another place, and an S3
  // repository's credentials (AWS_* variables) would be missing.
  if (ctx.location().starts_with("s3:")) {
    return Fail(Status::InvalidArgument(
        "scheduled backups to an S3 repository are not supported yet (the "
        "timer would run without its AWS_* credentials); schedule a script "
        "that sets them and runs chatvault backup instead"));
  }
  if (!ctx.location().starts_with("/")) {
    return Fail(Status::InvalidArgument(
        "give the repository as an absolute path (-r /path/to/repo): the "
        "schedule does not run from this directory"));
  }
  Result<std::string> password_file = CheckedPasswordFile(ctx);
  if (!password_file.ok()) return Fail(password_file.status());
  // Fail now rather than every night: the file must open the repository.
  Result<std::unique_ptr<backup::Repository>> repo = ctx.OpenRepository();
  if (!repo.ok()) return Fail(repo.status());
  // Paths are made absolute (the schedule runs from another directory);
  // the values of backup's options that take one are left as they are.
  for (size_t i = 0; i < a.backup_args.size(); ++i) {
    std::string& arg = a.backup_args[i];
    const bool value = i > 0 && (a.backup_args[i - 1] == "--tag" ||
                                 a.backup_args[i - 1] == "--exclude" ||
                                 a.backup_args[i - 1] == "--host");
    if (!value && !arg.starts_with("-")) arg = fs::absolute(arg).string();
  }
  if (a.log.empty()) a.log = StateDir() + "/backup.log";
  const std::vector<std::string> cmd = RunCommand(ctx, a, *password_file);
  bool test_mode = false;
  const std::string dir = SystemdDir(&test_mode);
  std::string where;
  if (SystemdAvailable()) {
    std::string exec;
    for (const std::string& w : cmd)
      exec += (exec.empty() ? "" : " ") + SystemdQuote(w);
    std::string service = "# chatvault schedule: " + Describe(a) +
                          "\n[Unit]\nDescription=chatvault backup\n";
    if (a.on_ac_power) service += "ConditionACPower=true\n";
    service += "\n[Service]\nType=oneshot\nExecStart=" + exec + "\n";
    std::string timer = "# chatvault schedule: " + Describe(a) +
                        "\n[Unit]\nDescription=chatvault backup (" +
                        Describe(a) + ")\n\n[Timer]\n";
    if (!a.daily.empty()) {
      char when[32];
      std::snprintf(when, sizeof when, "*-*-* %02d:%02d:00", hour, minute);
      timer += std::string("OnCalendar=") + when + "\nPersistent=true\n";
    } else {
      timer +=
          "OnBootSec=5min\nOnUnitActiveSec=" + std::to_string(every) + "s\n";
    }
    timer += "RandomizedDelaySec=60\n\n[Install]\nWantedBy=timers.target\n";
    Status s = WriteFile(dir + "/" + kUnit + ".service", service);
    if (s.ok()) s = WriteFile(dir + "/" + kUnit + ".timer", timer);
    if (!s.ok()) return Fail(s);
    if (!test_mode) {
      std::string out;
      if (Spawn({"systemctl", "--user", "daemon-reload"}, &out) != 0 ||
          Spawn({"systemctl", "--user", "enable", "--now",
                 std::string(kUnit) + ".timer"},
                &out) != 0) {
        return Fail(
            Status::IOError("systemctl could not enable the timer: " + out));
      }
    }
    where = "systemd user timer " + std::string(kUnit) + ".timer in " + dir;
  } else {
    std::string line;
    if (!a.daily.empty()) {
      line = std::to_string(minute) + " " + std::to_string(hour) + " * * *";
    } else if (every % 86400 == 0 && every / 86400 == 1) {
      line = "0 0 * * *";
    } else if (every % 3600 == 0 && 24 % (every / 3600) == 0) {
      line = "0 */" + std::to_string(every / 3600) + " * * *";
    } else if (every % 60 == 0 && every < 3600 && 60 % (every / 60) == 0) {
      line = "*/" + std::to_string(every / 60) + " * * * *";
    } else {
      return Fail(Status::InvalidArgument(
          "cron can only run every N minutes dividing an hour, N hours "
          "dividing a day, or daily; choose another --every"));
    }
    for (const std::string& w : cmd) line += " " + ShellQuote(w);
    line += std::string(" ") + kCronMark + " (" + Describe(a) + ")\n";
    Result<std::string> crontab = ReadCrontab();
    if (!crontab.ok()) return Fail(crontab.status());
    Status s = WriteCrontab(WithoutOurLines(*crontab) + line);
    if (!s.ok()) return Fail(s);
    where = "crontab";
  }
  if (ctx.options().json) {
    std::cout << nlohmann::json{{"installed", where},
                                {"schedule", Describe(a)},
                                {"log", a.log}}
                     .dump()
              << "\n";
  } else {
    ctx.out() << "Scheduled backups " << Describe(a) << " (" << where
              << "); output goes to " << a.log << "\n";
  }
  return kExitOk;
}

// "daily 03:30…" or "every 2h…", from what install wrote; empty if none.
std::string Installed(std::string* where) {
  bool test_mode = false;
  const std::string dir = SystemdDir(&test_mode);
  const std::string timer = ReadFile(dir + "/" + kUnit + ".timer");
  const std::string prefix = "# chatvault schedule: ";
  if (timer.starts_with(prefix)) {
    *where = "systemd user timer in " + dir;
    return timer.substr(prefix.size(), timer.find('\n') - prefix.size());
  }
  Result<std::string> crontab = ReadCrontab();
  if (!crontab.ok()) return "";
  std::istringstream in(*crontab);
  std::string line;
  while (std::getline(in, line)) {
    const size_t mark = line.find(kCronMark);
    if (mark == std::string::npos) continue;
    *where = "crontab";
    const size_t open = line.find('(', mark), close = line.rfind(')');
    return open == std::string::npos ? "installed"
                                     : line.substr(open + 1, close - open - 1);
  }
  return "";
}

int RunStatus(Context& ctx) {
  std::string where;
  const std::string spec = Installed(&where);
  nlohmann::json state;
  {
    std::ifstream f(StateDir() + "/schedule-state.json");
    if (f) state = nlohmann::json::parse(f, nullptr, false);
  }
  // The next run, for a daily schedule: the next HH:MM, local time.
  std::string next;
  if (int h, m;
      spec.starts_with("daily ") && ParseDaily(spec.substr(6, 5), &h, &m)) {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = 0;
    std::time_t at = std::mktime(&tm);
    if (at <= now) {
      ++tm.tm_mday;
      tm.tm_isdst = -1;
      at = std::mktime(&tm);
    }
    next = LocalTimeString(static_cast<uint64_t>(at) * 1000);
  } else if (spec.starts_with("every ") && state.is_object() &&
             state.contains("finished_unix_s")) {
    const int64_t every = ParseEvery(spec.substr(6, spec.find(',') - 6));
    if (every > 0)
      next =
          LocalTimeString(static_cast<uint64_t>(
                              state["finished_unix_s"].get<int64_t>() + every) *
                          1000);
  }
  if (ctx.options().json) {
    nlohmann::json j = {{"installed", !spec.empty()},
                        {"schedule", spec},
                        {"where", where},
                        {"next", next}};
    if (state.is_object()) j["last_run"] = state;
    std::cout << j.dump() << "\n";
    return kExitOk;
  }
  std::ostream& out = ctx.out();
  if (spec.empty()) {
    out << "No scheduled backups (chatvault schedule install --daily HH:MM "
           "-- PATH…)\n";
    return kExitOk;
  }
  out << "Scheduled: " << spec << " (" << where << ")\n";
  if (state.is_object() && state.contains("finished_unix_s")) {
    out << "Last run: "
        << LocalTimeString(
               static_cast<uint64_t>(state["finished_unix_s"].get<int64_t>()) *
               1000)
        << ", " << state.value("result", std::string("?"));
    if (state.value("attempts", 1) > 1) {
      out << " after " << state.value("attempts", 1) << " attempts";
    }
    out << "\n";
  } else {
    out << "Last run: none yet\n";
  }
  if (!next.empty()) out << "Next run: " << next << "\n";
  return kExitOk;
}

int RunRemove(Context& ctx) {
  bool test_mode = false;
  const std::string dir = SystemdDir(&test_mode);
  bool removed = false;
  if (fs::exists(dir + "/" + kUnit + ".timer")) {
    if (!test_mode) {
      Spawn({"systemctl", "--user", "disable", "--now",
             std::string(kUnit) + ".timer"});
    }
    std::error_code ec;
    fs::remove(dir + "/" + kUnit + ".timer", ec);
    fs::remove(dir + "/" + kUnit + ".service", ec);
    if (!test_mode) Spawn({"systemctl", "--user", "daemon-reload"});
    removed = true;
  }
  Result<std::string> crontab = ReadCrontab();
  if (crontab.ok() && crontab->find(kCronMark) != std::string::npos) {
    Status s = WriteCrontab(WithoutOurLines(*crontab));
    if (!s.ok()) return Fail(s);
    removed = true;
  }
  ctx.out() << (removed ? "Scheduled backups removed\n"
                        : "No scheduled backups to remove\n");
  return kExitOk;
}

// Whether the machine runs on battery (a power supply of type Mains that
// reports itself offline); false when it cannot tell.
bool OnBattery() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/sys/class/power_supply", ec)) {
    if (ReadFile(e.path().string() + "/type").starts_with("Mains")) {
      return ReadFile(e.path().string() + "/online").starts_with("0");
    }
  }
  return false;
}

int RunScheduled(Context& ctx, const ScheduleArgs& a) {
  const std::string log = a.log.empty() ? StateDir() + "/backup.log" : a.log;
  std::error_code ec;
  fs::create_directories(fs::path(log).parent_path(), ec);
  fs::create_directories(StateDir(), ec);
  std::ofstream out(log, std::ios::app);
  auto stamp = [&] {
    return LocalTimeString(static_cast<uint64_t>(std::time(nullptr)) * 1000);
  };
  nlohmann::json state = {{"started_unix_s", std::time(nullptr)}};
  int rc = kExitOk;
  int attempts = 0;
  if (a.on_ac_power && OnBattery()) {
    out << stamp() << " skipped: on battery\n";
    state["result"] = "skipped (on battery)";
  } else {
    std::vector<std::string> argv = {fs::canonical("/proc/self/exe").string(),
                                     "-r", ctx.location()};
    if (!ctx.options().password_file.empty()) {
      argv.insert(argv.end(), {"--password-file", ctx.options().password_file});
    }
    argv.insert(argv.end(), {"--cache-dir", ctx.cache_dir(), "backup"});
    argv.insert(argv.end(), a.backup_args.begin(), a.backup_args.end());
    // Retried only when the storage was unavailable; other failures would
    // fail the same way again.
    const int64_t unit_s =
        Env("CHATVAULT_SCHEDULE_BACKOFF_S").empty()
            ? 60
            : std::atoll(Env("CHATVAULT_SCHEDULE_BACKOFF_S").c_str());
    const int64_t waits[] = {1, 5, 15};
    for (;;) {
      ++attempts;
      out << stamp() << " backup, attempt " << attempts << "\n";
      out.flush();
      std::string output;
      rc = Spawn(argv, &output);
      out << output;
      if (rc != kExitUnavailable || attempts > 3) break;
      out << stamp() << " storage unavailable; retrying in "
          << waits[attempts - 1] * unit_s << " s\n";
      out.flush();
      std::this_thread::sleep_for(
          std::chrono::seconds(waits[attempts - 1] * unit_s));
    }
    out << stamp() << " exit " << rc << "\n";
    state["result"] = rc == 0   ? std::string("succeeded")
                      : rc == 3 ? std::string("completed with unreadable files")
                                : "failed with exit " + std::to_string(rc);
  }
  state["finished_unix_s"] = std::time(nullptr);
  state["exit_code"] = rc;
  state["attempts"] = attempts;
  state["log"] = log;
  std::ofstream(StateDir() + "/schedule-state.json") << state.dump() << "\n";
  return rc;
}

}  // namespace

void AddScheduleCommand(CLI::App& app, Context& ctx, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "schedule",
      "Scheduled backups: install a systemd user timer (or a crontab entry), "
      "show its status, remove it");
  cmd->require_subcommand(1);
  auto args = std::make_shared<ScheduleArgs>();
  CLI::App* install = cmd->add_subcommand(
      "install",
      "Back up PATHS on a schedule, reading the passphrase from "
      "--password-file (mode 0600): schedule install --daily 03:30 -- PATH…");
  install->add_option("--daily", args->daily, "Every day at HH:MM, local time");
  install->add_option("--every", args->every,
                      "Every DURATION (30min, 2h, 1d; at least 5min)");
  install->add_flag("--on-ac-power", args->on_ac_power,
                    "Skip runs while on battery");
  install->add_option("--log", args->log,
                      "Append the runs' output to FILE (default "
                      "$XDG_STATE_HOME/chatvault/backup.log)");
  install->add_option("backup-args", args->backup_args,
                      "Paths and backup options, after --");
  install->callback(
      [&ctx, &exit_code, args] { exit_code = RunInstall(ctx, *args); });
  cmd->add_subcommand("status", "Show the schedule, the last run and the next")
      ->callback([&ctx, &exit_code] { exit_code = RunStatus(ctx); });
  cmd->add_subcommand("remove", "Remove the scheduled backups")
      ->callback([&ctx, &exit_code] { exit_code = RunRemove(ctx); });
  auto run_args = std::make_shared<ScheduleArgs>();
  CLI::App* run = cmd->add_subcommand(
      "run",
      "What the schedule runs: the backup, logged, retried after 1, 5 and 15 "
      "minutes if the storage is unavailable");
  run->add_option("--log", run_args->log, "Append output to FILE");
  run->add_flag("--on-ac-power", run_args->on_ac_power,
                "Skip the run while on battery");
  run->add_option("backup-args", run_args->backup_args,
                  "Paths and backup options, after --");
  run->callback([&ctx, &exit_code, run_args] {
    exit_code = RunScheduled(ctx, *run_args);
  });
}

}  // namespace chatvault::cli
