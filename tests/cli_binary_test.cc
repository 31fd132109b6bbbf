// Runs the built chatvault binary as a user would.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <regex>
#include <string>
#include <thread>

#include "backup/lock.h"
#include "backup/repository.h"
#include "crypto/recovery_code.h"
#include "storage/local_backend.h"

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

struct Output {
  int exit_code = -1;
  std::string text;  // stdout and stderr
};

// Runs `env runner chatvault args`; `runner` is a command prefix such as
// setpriv's.
Output RunChatvault(const std::string& args, const std::string& env = "",
                    const std::string& runner = "") {
  std::string cmd = env + " " + runner + " " + std::string(CHATVAULT_BINARY) +
                    " " + args + " 2>&1";
  Output out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    out.text.append(buf.data(), n);
  int status = pclose(p);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Root reads and writes anything, so a test of what an ordinary user sees
// runs chatvault as nobody when it runs as root (CI, containers): the
// command prefix for RunChatvault's `runner`, empty otherwise.
constexpr uid_t kNobody = 65534;
std::string AsNobody() {
  if (::geteuid() != 0) return "";
  const std::string id = std::to_string(kNobody);
  return "setpriv --reuid=" + id + " --regid=" + id + " --clear-groups";
}

TEST(CliBinaryTest, HelpListsGlobalOptionsAndExitCodes) {
  Output o = RunChatvault("--help");
  EXPECT_EQ(o.exit_code, 0);
  for (const char* want :
       {"--repo", "--password-file", "--recovery-code-file", "--json",
        "--quiet", "Exit status:", "wrong passphrase"}) {
    EXPECT_NE(o.text.find(want), std::string::npos) << want << "\n" << o.text;
  }
}

TEST(CliBinaryTest, Version) {
  Output o = RunChatvault("--version");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.text.rfind("chatvault ", 0), 0u) << o.text;
}

TEST(CliBinaryTest, UnknownOptionIsAUsageError) {
  Output o = RunChatvault("--no-such-option");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.text.find("no-such-option"), std::string::npos) << o.text;
}

TEST(CliBinaryTest, PasswordIsNotAcceptedOnTheCommandLine) {
  // There is deliberately no --password option: secrets never go in argv.
  Output o = RunChatvault("--password hunter2");
  EXPECT_EQ(o.exit_code, 2);
}

class CliRepoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cvcliXXXXXX";
    dir_ = mkdtemp(tmpl);
    // Each test is its own device: its identity stays in its directory.
    ::setenv("CHATVAULT_HOME", (dir_ + "/home").c_str(), 1);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string repo() const { return "-r " + dir_ + "/repo"; }
  std::string dir_;
};

TEST_F(CliRepoTest, InitPrintsRecoveryCodeThatOpensTheRepository) {
  Output init = RunChatvault(repo() + " init", "CHATVAULT_PASSWORD=pw-one");
  ASSERT_EQ(init.exit_code, 0) << init.text;
  std::smatch m;
  std::regex code_re("([0-9A-Z]{4}-){15}[0-9A-Z]{4}");
  ASSERT_TRUE(std::regex_search(init.text, m, code_re)) << init.text;
  EXPECT_TRUE(chatvault::crypto::RecoveryCode::Parse(m.str()).ok());
  std::ofstream(dir_ + "/code") << m.str() << "\n";

  Output by_code = RunChatvault(repo() + " --recovery-code-file " + dir_ +
                                "/code snapshots");
  EXPECT_EQ(by_code.exit_code, 0) << by_code.text;
  Output by_pass =
      RunChatvault(repo() + " snapshots", "CHATVAULT_PASSWORD=pw-one");
  EXPECT_EQ(by_pass.exit_code, 0) << by_pass.text;
  Output json =
      RunChatvault(repo() + " --json snapshots", "CHATVAULT_PASSWORD=pw-one");
  EXPECT_EQ(json.text, "[]\n");
}

TEST_F(CliRepoTest, BackupLsStatsRestore) {
  const std::string env =
      "CHATVAULT_PASSWORD=pw CHATVAULT_CACHE_DIR=" + dir_ + "/cache";
  ASSERT_EQ(RunChatvault(repo() + " init", env).exit_code, 0);
  std::filesystem::create_directories(dir_ + "/chats/Media");
  std::ofstream(dir_ + "/chats/msgstore.db") << std::string(100000, 'm');
  std::ofstream(dir_ + "/chats/Media/a.jpg") << "jpeg";
  // Files changed within the last second are never cached.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  Output backup =
      RunChatvault(repo() + " backup " + dir_ + "/chats --json", env);
  ASSERT_EQ(backup.exit_code, 0) << backup.text;
  EXPECT_NE(backup.text.find("\"type\":\"summary\""), std::string::npos)
      << backup.text;
  Output again =
      RunChatvault(repo() + " backup " + dir_ + "/chats --json", env);
  EXPECT_NE(again.text.find("\"files_unchanged\":2"), std::string::npos)
      << again.text;
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/cache"));
  Output ls = RunChatvault(repo() + " ls latest", env);
  ASSERT_EQ(ls.exit_code, 0) << ls.text;
  EXPECT_NE(ls.text.find(dir_ + "/chats/Media/a.jpg"), std::string::npos)
      << ls.text;
  Output stats = RunChatvault(repo() + " stats --json", env);
  EXPECT_NE(stats.text.find("\"snapshots\":2"), std::string::npos)
      << stats.text;
  Output restore =
      RunChatvault(repo() + " restore latest --target " + dir_ + "/out", env);
  ASSERT_EQ(restore.exit_code, 0) << restore.text;
  std::ifstream f(dir_ + "/out" + dir_ + "/chats/msgstore.db");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(f)), {}),
            std::string(100000, 'm'));
  // The files are there now: a second restore stops unless told otherwise.
  Output again_restore =
      RunChatvault(repo() + " restore latest --target " + dir_ + "/out", env);
  EXPECT_EQ(again_restore.exit_code, 16) << again_restore.text;
  EXPECT_NE(again_restore.text.find("--overwrite"), std::string::npos)
      << again_restore.text;
  Output overwrite = RunChatvault(
      repo() + " restore latest --overwrite --target " + dir_ + "/out", env);
  EXPECT_EQ(overwrite.exit_code, 0) << overwrite.text;
  Output unknown =
      RunChatvault(repo() + " restore ffffffff --target " + dir_ + "/x", env);
  EXPECT_EQ(unknown.exit_code, 10) << unknown.text;
  // --skip-existing checks what is there and keeps what differs.
  std::ofstream(dir_ + "/out" + dir_ + "/chats/Media/a.jpg") << "edit";
  Output skip = RunChatvault(
      repo() + " restore latest --skip-existing --target " + dir_ + "/out",
      env);
  EXPECT_EQ(skip.exit_code, 0) << skip.text;
  EXPECT_NE(skip.text.find("1 already there and verified"), std::string::npos)
      << skip.text;
  EXPECT_NE(skip.text.find("1 kept as they are"), std::string::npos)
      << skip.text;
  EXPECT_EQ(ReadFile(dir_ + "/out" + dir_ + "/chats/Media/a.jpg"), "edit");
  Output both = RunChatvault(repo() + " restore latest --skip-existing " +
                                 "--overwrite --target " + dir_ + "/out",
                             env);
  EXPECT_EQ(both.exit_code, 2) << both.text;

  // check: sound, then one flipped byte in a pack is exit 13, named.
  Output check = RunChatvault(repo() + " check --read-data", env);
  EXPECT_EQ(check.exit_code, 0) << check.text;
  EXPECT_NE(check.text.find("no problems found"), std::string::npos)
      << check.text;
  std::string pack;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(dir_ + "/repo/data")) {
    if (e.is_regular_file()) pack = e.path().string();
  }
  ASSERT_FALSE(pack.empty());
  {
    std::fstream f(pack, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    f.put('\x5a');
  }
  Output damaged = RunChatvault(repo() + " check --read-data", env);
  EXPECT_EQ(damaged.exit_code, 13) << damaged.text;
  const std::string name = std::filesystem::path(pack).filename().string();
  EXPECT_NE(damaged.text.find("pack " + name.substr(0, 16)), std::string::npos)
      << damaged.text;
  Output subset = RunChatvault(repo() + " check --read-data-subset 0%", env);
  EXPECT_EQ(subset.exit_code, 2) << subset.text;
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// Exit code 3: the backup completed and saved a snapshot without the one
// file it could not read. Root reads a mode-000 file anyway, so as root
// (CI, containers) chatvault runs as nobody, which owns the test directory.
TEST_F(CliRepoTest, UnreadableSourceFileGivesExitCode3AndAPartialSnapshot) {
  const bool root = ::geteuid() == 0;
  const std::string runner = AsNobody();
  const std::string env =
      "CHATVAULT_PASSWORD=pw CHATVAULT_CACHE_DIR=" + dir_ + "/cache";
  const std::string src = dir_ + "/chats";
  std::filesystem::create_directories(src + "/Media");
  std::string db(70000, '\0');
  for (size_t i = 0; i < db.size(); ++i) db[i] = static_cast<char>(i * 7);
  std::ofstream(src + "/msgstore.db", std::ios::binary) << db;
  std::ofstream(src + "/Media/a.jpg", std::ios::binary) << "jpeg";
  std::ofstream(src + "/locked.db", std::ios::binary) << "private";
  if (root) {
    ASSERT_EQ(::chown(dir_.c_str(), kNobody, kNobody), 0);
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_))
      ASSERT_EQ(::lchown(e.path().c_str(), kNobody, kNobody), 0);
  }
  ASSERT_EQ(::chmod((src + "/locked.db").c_str(), 0), 0);
  ASSERT_EQ(RunChatvault(repo() + " init", env, runner).exit_code, 0);

  Output backup = RunChatvault(repo() + " backup " + src, env, runner);
  EXPECT_EQ(backup.exit_code, 3) << backup.text;
  EXPECT_NE(backup.text.find("skipped " + src + "/locked.db"),
            std::string::npos)
      << backup.text;
  Output snaps = RunChatvault(repo() + " --json snapshots", env, runner);
  ASSERT_EQ(snaps.exit_code, 0) << snaps.text;
  // One snapshot, holding the two readable files.
  size_t ids = 0;
  for (size_t at = 0;
       (at = snaps.text.find("\"id\":", at)) != std::string::npos; ++at) {
    ++ids;
  }
  EXPECT_EQ(ids, 1u) << snaps.text;
  EXPECT_NE(snaps.text.find("\"files\":2"), std::string::npos) << snaps.text;

  Output restore = RunChatvault(
      repo() + " restore latest --target " + dir_ + "/out", env, runner);
  ASSERT_EQ(restore.exit_code, 0) << restore.text;
  const std::string out = dir_ + "/out" + src;
  EXPECT_TRUE(ReadAll(out + "/msgstore.db") == db);
  EXPECT_EQ(ReadAll(out + "/Media/a.jpg"), "jpeg");
  EXPECT_FALSE(std::filesystem::exists(out + "/locked.db"));
}

// forget: a dry run changes nothing; a policy removes what it does not keep
// and says why it keeps the rest; no policy at all is refused.
TEST_F(CliRepoTest, ForgetKeepsWhatThePolicySays) {
  const std::string env =
      "CHATVAULT_PASSWORD=pw CHATVAULT_CACHE_DIR=" + dir_ + "/cache";
  ASSERT_EQ(RunChatvault(repo() + " init", env).exit_code, 0);
  std::filesystem::create_directories(dir_ + "/chats");
  for (int i = 0; i < 3; ++i) {
    std::ofstream(dir_ + "/chats/log.txt") << "day " << i;
    ASSERT_EQ(
        RunChatvault(repo() + " backup " + dir_ + "/chats", env).exit_code, 0);
  }
  Output none = RunChatvault(repo() + " forget", env);
  EXPECT_EQ(none.exit_code, 2) << none.text;
  Output dry = RunChatvault(repo() + " forget --keep-last 1 --dry-run", env);
  EXPECT_EQ(dry.exit_code, 0) << dry.text;
  EXPECT_NE(dry.text.find("2 snapshots would be forgotten"), std::string::npos)
      << dry.text;
  EXPECT_NE(RunChatvault(repo() + " snapshots", env).text.find("3 snapshots"),
            std::string::npos);
  Output forget = RunChatvault(repo() + " forget --keep-last 1", env);
  EXPECT_EQ(forget.exit_code, 0) << forget.text;
  EXPECT_NE(forget.text.find("(last 1)"), std::string::npos) << forget.text;
  EXPECT_NE(forget.text.find("2 snapshots forgotten"), std::string::npos)
      << forget.text;
  EXPECT_NE(RunChatvault(repo() + " snapshots", env).text.find("1 snapshot\n"),
            std::string::npos);
  EXPECT_EQ(RunChatvault(repo() + " check", env).exit_code, 0);
  Output restore =
      RunChatvault(repo() + " restore latest --target " + dir_ + "/out", env);
  ASSERT_EQ(restore.exit_code, 0) << restore.text;
  EXPECT_EQ(ReadFile(dir_ + "/out" + dir_ + "/chats/log.txt"), "day 2");
}

// forget --prune marks, prune deletes after the grace period, the space
// freed is reported, --json parses, and a held lock is exit 11 until unlock.
TEST_F(CliRepoTest, PruneFreesSpaceAndHonoursItsLock) {
  const std::string env =
      "CHATVAULT_PASSWORD=pw CHATVAULT_CACHE_DIR=" + dir_ + "/cache";
  ASSERT_EQ(RunChatvault(repo() + " init", env).exit_code, 0);
  std::filesystem::create_directories(dir_ + "/chats");
  for (int i = 0; i < 3; ++i) {
    // Each day's file replaces the last: 200 KB no later snapshot keeps.
    std::ofstream(dir_ + "/chats/media.bin", std::ios::binary)
        << std::string(200000, static_cast<char>('a' + i)) << i;
    ASSERT_EQ(
        RunChatvault(repo() + " backup " + dir_ + "/chats", env).exit_code, 0);
  }
  Output mark = RunChatvault(repo() + " forget --keep-last 1 --prune", env);
  ASSERT_EQ(mark.exit_code, 0) << mark.text;
  EXPECT_NE(mark.text.find("Marked"), std::string::npos) << mark.text;
  EXPECT_NE(mark.text.find("will be deleted by a prune run after"),
            std::string::npos)
      << mark.text;
  Output dry = RunChatvault(repo() + " prune --dry-run", env);
  EXPECT_EQ(dry.exit_code, 0) << dry.text;
  EXPECT_NE(dry.text.find("Dry run: nothing changed."), std::string::npos);
  Output bad = RunChatvault(repo() + " prune --grace 5 minutes", env);
  EXPECT_EQ(bad.exit_code, 2) << bad.text;
  Output done = RunChatvault(repo() + " --json prune --grace 0", env);
  ASSERT_EQ(done.exit_code, 0) << done.text;
  EXPECT_NE(done.text.find("\"plans_completed\":1"), std::string::npos)
      << done.text;
  EXPECT_EQ(done.text.find("\"bytes_freed\":0,"), std::string::npos)
      << done.text;
  EXPECT_EQ(RunChatvault(repo() + " check --read-data", env).exit_code, 0);
  Output restore =
      RunChatvault(repo() + " restore latest --target " + dir_ + "/out", env);
  ASSERT_EQ(restore.exit_code, 0) << restore.text;
  EXPECT_EQ(ReadFile(dir_ + "/out" + dir_ + "/chats/media.bin"),
            std::string(200000, 'c') + "2");

  // A lock held by a live process (this test's) refuses a prune...
  pid_t holder = getpid();
  {
    auto backend = chatvault::storage::LocalBackend::Open(dir_ + "/repo");
    ASSERT_TRUE(backend.ok());
    auto opened = chatvault::backup::Repository::OpenWithPassphrase(
        backend->get(), chatvault::AsBytes("pw"));
    ASSERT_TRUE(opened.ok());
    auto lock =
        chatvault::backup::RepositoryLock::Acquire(opened->get(), "prune");
    ASSERT_TRUE(lock.ok());
    Output locked = RunChatvault(repo() + " prune", env);
    EXPECT_EQ(locked.exit_code, 11) << locked.text;
    EXPECT_NE(locked.text.find("(process " + std::to_string(holder) + ")"),
              std::string::npos)
        << locked.text;
    EXPECT_NE(locked.text.find("chatvault unlock"), std::string::npos);
    // ...and unlock leaves it alone without --force.
    EXPECT_EQ(RunChatvault(repo() + " unlock", env).exit_code, 11);
    Output forced = RunChatvault(repo() + " unlock --force", env);
    EXPECT_EQ(forced.exit_code, 0) << forced.text;
    EXPECT_NE(forced.text.find("Removed the lock"), std::string::npos);
  }
  EXPECT_NE(RunChatvault(repo() + " unlock", env).text.find("not locked"),
            std::string::npos);
  EXPECT_EQ(RunChatvault(repo() + " prune", env).exit_code, 0);
}

size_t CountFiles(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    n += it->is_regular_file();
  }
  return n;
}

// kill -9 in the middle: the next backup does not upload the finished packs
// again, and a killed restore resumes with --skip-existing, clearing its
// partly written files.
TEST_F(CliRepoTest, KilledBackupAndRestoreResume) {
  const std::string env =
      "CHATVAULT_PASSWORD=pw CHATVAULT_CACHE_DIR=" + dir_ + "/cache";
  ASSERT_EQ(RunChatvault(repo() + " init --kdf-memory 64M", env).exit_code, 0);
  const std::string src = dir_ + "/chats";
  std::filesystem::create_directories(src);
  std::ifstream random("/dev/urandom", std::ios::binary);
  std::string chunk(1 << 20, '\0');
  for (int f = 0; f < 6; ++f) {
    std::ofstream out(src + "/video" + std::to_string(f) + ".mp4",
                      std::ios::binary);
    for (int mb = 0; mb < 16; ++mb) {
      random.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      out << chunk;
    }
  }
  const uint64_t total = 96u << 20;
  // Slowed to 24 MiB/s so that it is still running after two packs.
  auto start = [&](const std::string& args) {
    pid_t pid = fork();
    if (pid == 0) {
      ::setenv("CHATVAULT_PASSWORD", "pw", 1);
      ::setenv("CHATVAULT_CACHE_DIR", (dir_ + "/cache").c_str(), 1);
      const std::string cmd = std::string(CHATVAULT_BINARY) +
                              " -q --limit-upload 24576 --limit-download "
                              "24576 -r " +
                              dir_ + "/repo " + args;
      ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), nullptr);
      ::_exit(127);
    }
    return pid;
  };
  auto kill_after = [&](pid_t pid, const std::function<bool()>& ready) {
    for (int i = 0; i < 3000 && !ready(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFSIGNALED(status);
  };
  ASSERT_TRUE(kill_after(start("backup " + src), [&] {
    return CountFiles(dir_ + "/repo/index") >= 2;
  })) << "the backup finished before it could be killed";
  const size_t indexed = CountFiles(dir_ + "/repo/index");
  Output again = RunChatvault(repo() + " --json backup " + src, env);
  ASSERT_EQ(again.exit_code, 0) << again.text;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(again.text, m, std::regex("\"added_bytes\":([0-9]+)")));
  const uint64_t added = std::stoull(m[1].str());
  // Each finished pack (about 16 MiB) is indexed and reused.
  EXPECT_LT(added, total - (indexed * 15u << 20)) << again.text;
  EXPECT_GT(added, 0u);
  EXPECT_EQ(RunChatvault(repo() + " check", env).exit_code, 0);

  const std::string target = dir_ + "/out";
  ASSERT_TRUE(kill_after(start("restore latest --target " + target), [&] {
    return CountFiles(target) >= 2;
  })) << "the restore finished before it could be killed";
  Output resumed = RunChatvault(
      repo() + " restore latest --skip-existing --target " + target, env);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.text;
  for (int f = 0; f < 6; ++f) {
    const std::string name = "/video" + std::to_string(f) + ".mp4";
    EXPECT_TRUE(ReadFile(target + src + name) == ReadFile(src + name)) << name;
  }
  // Nothing but the six files: no partly written file is left.
  EXPECT_EQ(CountFiles(target), 6u) << resumed.text;
}

// key passwd and recovery-code regenerate: the new secret opens the
// repository, the old one is refused (exit 12), the other kind is kept.
TEST_F(CliRepoTest, ChangedSecretsReplaceTheOldOnes) {
  const std::string code1 = dir_ + "/code1", code2 = dir_ + "/code2";
  ASSERT_EQ(RunChatvault(repo() + " --recovery-code-file " + code1 + " init",
                         "CHATVAULT_PASSWORD=old-pass")
                .exit_code,
            0);
  Output list =
      RunChatvault(repo() + " key list", "CHATVAULT_PASSWORD=old-pass");
  EXPECT_EQ(list.exit_code, 0) << list.text;
  EXPECT_NE(list.text.find("passphrase"), std::string::npos) << list.text;
  EXPECT_NE(list.text.find("recovery-code"), std::string::npos) << list.text;
  Output passwd = RunChatvault(
      repo() + " key passwd",
      "CHATVAULT_PASSWORD=old-pass CHATVAULT_NEW_PASSWORD=new-pass");
  EXPECT_EQ(passwd.exit_code, 0) << passwd.text;
  EXPECT_EQ(RunChatvault(repo() + " snapshots", "CHATVAULT_PASSWORD=old-pass")
                .exit_code,
            12);
  EXPECT_EQ(RunChatvault(repo() + " snapshots", "CHATVAULT_PASSWORD=new-pass")
                .exit_code,
            0);
  Output regen = RunChatvault(
      repo() + " recovery-code regenerate --new-code-file " + code2,
      "CHATVAULT_PASSWORD=new-pass");
  EXPECT_EQ(regen.exit_code, 0) << regen.text;
  EXPECT_EQ(
      RunChatvault(repo() + " --recovery-code-file " + code1 + " snapshots")
          .exit_code,
      12);
  EXPECT_EQ(
      RunChatvault(repo() + " --recovery-code-file " + code2 + " snapshots")
          .exit_code,
      0);
  // The passphrase lost: the recovery code sets a new one.
  Output reset =
      RunChatvault(repo() + " --recovery-code-file " + code2 + " key passwd",
                   "CHATVAULT_NEW_PASSWORD=third-pass");
  EXPECT_EQ(reset.exit_code, 0) << reset.text;
  EXPECT_EQ(RunChatvault(repo() + " snapshots", "CHATVAULT_PASSWORD=new-pass")
                .exit_code,
            12);
  EXPECT_EQ(RunChatvault(repo() + " snapshots", "CHATVAULT_PASSWORD=third-pass")
                .exit_code,
            0);
}

// schedule install/status/run/remove against a temporary systemd user
// directory, then a crontab file that holds another job.
TEST_F(CliRepoTest, ScheduleInstallsRunsReportsAndRemoves) {
  const std::string units = dir_ + "/units", crontab = dir_ + "/crontab";
  const std::string base = "HOME=" + dir_ + " XDG_STATE_HOME=" + dir_ +
                           "/state CHATVAULT_CACHE_DIR=" + dir_ + "/cache ";
  const std::string systemd = base + "CHATVAULT_SYSTEMD_USER_DIR=" + units;
  ASSERT_EQ(RunChatvault(repo() + " init", "CHATVAULT_PASSWORD=pw").exit_code,
            0);
  std::filesystem::create_directories(dir_ + "/chats");
  std::ofstream(dir_ + "/chats/a.txt") << "hello";
  const std::string pwfile = dir_ + "/pw";
  std::ofstream(pwfile) << "pw";
  ::chmod(pwfile.c_str(), 0644);
  const std::string install = repo() + " --password-file " + pwfile +
                              " schedule install --daily 03:30 "
                              "--on-ac-power -- " +
                              dir_ + "/chats";
  // A password file others can read is refused.
  EXPECT_EQ(RunChatvault(install, systemd).exit_code, 12);
  ::chmod(pwfile.c_str(), 0600);
  Output installed = RunChatvault(install, systemd);
  ASSERT_EQ(installed.exit_code, 0) << installed.text;
  const std::string timer = ReadFile(units + "/chatvault-backup.timer");
  const std::string service = ReadFile(units + "/chatvault-backup.service");
  EXPECT_NE(timer.find("OnCalendar=*-*-* 03:30:00"), std::string::npos)
      << timer;
  EXPECT_NE(service.find("ConditionACPower=true"), std::string::npos);
  EXPECT_NE(service.find("\"--password-file\" \"" + pwfile + "\""),
            std::string::npos)
      << service;
  Output status = RunChatvault("schedule status", systemd);
  EXPECT_NE(status.text.find("daily 03:30"), std::string::npos) << status.text;
  EXPECT_NE(status.text.find("Last run: none yet"), std::string::npos);
  Output run = RunChatvault(repo() + " --password-file " + pwfile +
                                " schedule run -- " + dir_ + "/chats",
                            systemd);
  EXPECT_EQ(run.exit_code, 0) << run.text;
  status = RunChatvault("schedule status", systemd);
  EXPECT_NE(status.text.find("succeeded"), std::string::npos) << status.text;
  EXPECT_NE(ReadFile(dir_ + "/state/chatvault/backup.log").find("Snapshot "),
            std::string::npos);
  EXPECT_EQ(RunChatvault("schedule remove", systemd).exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(units + "/chatvault-backup.timer"));

  const std::string cron = base + "CHATVAULT_CRONTAB_FILE=" + crontab;
  std::ofstream(crontab) << "0 1 * * * /usr/bin/other-job\n";
  // A relative repository would be looked for elsewhere when cron runs.
  EXPECT_EQ(RunChatvault("-r relative/repo --password-file " + pwfile +
                             " schedule install --daily 01:00 -- " + dir_,
                         cron)
                .exit_code,
            2);
  Output every = RunChatvault(repo() + " --password-file " + pwfile +
                                  " schedule install --every 30min -- " + dir_ +
                                  "/chats --tag units",
                              cron);
  ASSERT_EQ(every.exit_code, 0) << every.text;
  EXPECT_NE(ReadFile(crontab).find("*/30 * * * * '"), std::string::npos)
      << ReadFile(crontab);
  // An option's value is kept as given, even where a file has its name.
  EXPECT_NE(ReadFile(crontab).find("'--tag' 'units'"), std::string::npos)
      << ReadFile(crontab);
  EXPECT_NE(RunChatvault("schedule status", cron).text.find("every 30min"),
            std::string::npos);
  EXPECT_EQ(RunChatvault("schedule remove", cron).exit_code, 0);
  EXPECT_EQ(ReadFile(crontab), "0 1 * * * /usr/bin/other-job\n");
}

TEST_F(CliRepoTest, ExitCodesForWrongPassphraseMissingRepoAndSecondInit) {
  ASSERT_EQ(
      RunChatvault(repo() + " init", "CHATVAULT_PASSWORD=pw-one").exit_code, 0);
  Output wrong =
      RunChatvault(repo() + " snapshots", "CHATVAULT_PASSWORD=pw-two");
  EXPECT_EQ(wrong.exit_code, 12) << wrong.text;
  EXPECT_NE(wrong.text.find("wrong passphrase"), std::string::npos);
  Output missing = RunChatvault("-r " + dir_ + "/nothing snapshots",
                                "CHATVAULT_PASSWORD=pw-one");
  EXPECT_EQ(missing.exit_code, 10) << missing.text;
  EXPECT_NE(missing.text.find("chatvault init"), std::string::npos);
  Output again = RunChatvault(repo() + " init", "CHATVAULT_PASSWORD=pw-one");
  EXPECT_EQ(again.exit_code, 16) << again.text;
  Output no_secret =
      RunChatvault(repo() + " snapshots < /dev/null", "setsid -w");
  EXPECT_EQ(no_secret.exit_code, 14) << no_secret.text;
  EXPECT_NE(no_secret.text.find("CHATVAULT_PASSWORD"), std::string::npos);
}

TEST_F(CliRepoTest, RecoveryCodeFileIsWrittenPrivatelyAndNeverReplaced) {
  std::string code_file = dir_ + "/code";
  Output init =
      RunChatvault(repo() + " --recovery-code-file " + code_file + " init",
                   "CHATVAULT_PASSWORD=pw");
  ASSERT_EQ(init.exit_code, 0) << init.text;
  EXPECT_EQ(init.text.find("Recovery code ("),
            std::string::npos);  // not printed
  struct stat st;
  ASSERT_EQ(stat(code_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Output other = RunChatvault(
      "-r " + dir_ + "/repo2 --recovery-code-file " + code_file + " init",
      "CHATVAULT_PASSWORD=pw");
  EXPECT_EQ(other.exit_code, 16) << other.text;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/repo2/config"));
  Output open = RunChatvault(repo() + " --recovery-code-file " + code_file +
                             " snapshots");
  EXPECT_EQ(open.exit_code, 0) << open.text;
}

// Runs `chatvault args` in the background, handing each line it prints to
// `on_line`; returns the exit code.
int RunLines(const std::string& args, const std::string& env,
             const std::function<void(const std::string&)>& on_line) {
  std::string cmd =
      env + " " + std::string(CHATVAULT_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  std::array<char, 4096> buf;
  while (fgets(buf.data(), buf.size(), p) != nullptr) on_line(buf.data());
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The value of "key":"..." in a JSON line, or "".
std::string JsonField(const std::string& line, const std::string& key) {
  std::smatch m;
  std::regex re("\"" + key + "\":\"([^\"]*)\"");
  return std::regex_search(line, m, re) ? m.str(1) : "";
}

TEST_F(CliRepoTest, DeviceJoinLinkSyncAndRevoke) {
  const std::string phone = "CHATVAULT_PASSWORD=pw CHATVAULT_HOME=" + dir_ +
                            "/phone CHATVAULT_CACHE_DIR=" + dir_ + "/pc";
  // The laptop has no passphrase: it opens the repository with its own key.
  const std::string laptop =
      "CHATVAULT_HOME=" + dir_ + "/laptop CHATVAULT_CACHE_DIR=" + dir_ + "/lc";
  ASSERT_EQ(RunChatvault(repo() + " init", phone).exit_code, 0);
  std::filesystem::create_directories(dir_ + "/chats/Media");
  std::ofstream(dir_ + "/chats/msgstore.db") << std::string(100000, 'm');
  std::ofstream(dir_ + "/chats/Media/a.jpg") << "jpeg";
  Output backup =
      RunChatvault(repo() + " backup --json " + dir_ + "/chats", phone);
  ASSERT_EQ(backup.exit_code, 0) << backup.text;
  EXPECT_NE(backup.text.find("\"published\":true"), std::string::npos)
      << backup.text;

  std::string code, join_sas, joined;
  std::promise<std::string> got_code;
  std::thread join([&] {
    int rc =
        RunLines(repo() + " --json device join --name laptop", laptop,
                 [&](const std::string& line) {
                   if (line.find("\"type\":\"code\"") != std::string::npos) {
                     got_code.set_value(JsonField(line, "code"));
                   }
                   if (line.find("\"type\":\"sas\"") != std::string::npos) {
                     join_sas = JsonField(line, "sas");
                   }
                   joined += line;
                 });
    joined += "exit " + std::to_string(rc);
  });
  auto future = got_code.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(30)),
            std::future_status::ready);
  code = future.get();
  // The code goes on standard input, never on the command line.
  std::ofstream(dir_ + "/code.txt") << code << "\n";
  std::ofstream(dir_ + "/garbage.txt") << "12345\n";
  Output link = RunChatvault(
      repo() + " --json device link --yes < " + dir_ + "/code.txt", phone);
  join.join();
  ASSERT_EQ(link.exit_code, 0) << link.text;
  EXPECT_NE(joined.find("exit 0"), std::string::npos) << joined;
  EXPECT_FALSE(join_sas.empty());
  EXPECT_EQ(JsonField(link.text, "sas"), join_sas) << link.text;

  // The code works once.
  Output replay = RunChatvault(
      repo() + " device link --yes < " + dir_ + "/code.txt", phone);
  EXPECT_EQ(replay.exit_code, 17) << replay.text;
  Output garbage = RunChatvault(
      repo() + " device link --yes < " + dir_ + "/garbage.txt", phone);
  EXPECT_EQ(garbage.exit_code, 2) << garbage.text;

  Output list = RunChatvault(repo() + " --json device list", laptop);
  ASSERT_EQ(list.exit_code, 0) << list.text;
  EXPECT_NE(list.text.find("\"kind\":\"desktop\""), std::string::npos);
  std::string phone_id = JsonField(list.text, "id").substr(0, 8);
  Output sync = RunChatvault(
      repo() + " sync --from " + phone_id + " --target " + dir_ + "/mirror",
      laptop);
  ASSERT_EQ(sync.exit_code, 0) << sync.text;
  EXPECT_EQ(ReadFile(dir_ + "/mirror/msgstore.db"),
            ReadFile(dir_ + "/chats/msgstore.db"));
  EXPECT_EQ(ReadFile(dir_ + "/mirror/Media/a.jpg"), "jpeg");

  Output revoke = RunChatvault(repo() + " device revoke laptop", phone);
  ASSERT_EQ(revoke.exit_code, 0) << revoke.text;
  Output after = RunChatvault(repo() + " sync --from " + phone_id +
                                  " --target " + dir_ + "/mirror < /dev/null",
                              "setsid -w env " + laptop);
  EXPECT_EQ(after.exit_code, 12) << after.text;
  EXPECT_NE(after.text.find("revoked"), std::string::npos) << after.text;
}

TEST_F(CliRepoTest, ExpiredLinkCodeGivesExitCode17) {
  ASSERT_EQ(RunChatvault(repo() + " init", "CHATVAULT_PASSWORD=pw").exit_code,
            0);
  Output join = RunChatvault(repo() + " device join --expires 1s --no-qr");
  EXPECT_EQ(join.exit_code, 17) << join.text;
  EXPECT_NE(join.text.find("expired"), std::string::npos) << join.text;
}

}  // namespace

// Disk full and permission denied, on the restore target and on the cache.
// A full disk is a small tmpfs mounted in a private mount namespace
// (`unshare -m` as root, else a user namespace with `unshare -rm`), so the
// mount is gone when the command ends.
class CliDiskTest : public CliRepoTest {
 protected:
  void SetUp() override {
    CliRepoTest::SetUp();
    env_ = "CHATVAULT_PASSWORD=pw";
    ASSERT_EQ(RunChatvault(repo() + " init", env_).exit_code, 0);
    // Six incompressible 400 KB files: 2.4 MB.
    std::filesystem::create_directories(dir_ + "/chats/Media");
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 6; ++i) {
      std::string data(400'000, '\0');
      for (char& c : data) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        c = static_cast<char>(x);
      }
      std::ofstream(dir_ + "/chats/Media/p" + std::to_string(i) + ".jpg",
                    std::ios::binary)
          << data;
    }
    Output b = RunChatvault(repo() + " backup " + dir_ + "/chats", env_);
    ASSERT_EQ(b.exit_code, 0) << b.text;
    repo_before_ = Listing(dir_ + "/repo");
  }

  // Every file under `root` with its size.
  static std::map<std::string, uintmax_t> Listing(const std::string& root) {
    std::map<std::string, uintmax_t> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root))
      if (e.is_regular_file()) out[e.path().string()] = e.file_size();
    return out;
  }

  // Runs `command` (a chatvault command line, without the binary) with a
  // `size` tmpfs mounted on `mount`, then reports every file under `mount`
  // as "same <path>" when it is a whole copy of its source (the restored
  // path minus `strip`) and "other <path>" otherwise; the exit status is
  // printed as "rc=N".
  Output RunOnSmallDisk(const std::string& command, const std::string& mount,
                        const std::string& size, const std::string& strip) {
    std::filesystem::create_directories(mount);
    const std::string script = dir_ + "/disk.sh";
    std::ofstream(script)
        << "set -u\n"
        << "mount -t tmpfs -o size=" << size << " tmpfs '" << mount
        << "' || { echo 'cannot mount a tmpfs'; exit 99; }\n"
        << env_ << " " << CHATVAULT_BINARY << " " << command << " 2>&1\n"
        << "echo rc=$?\n"
        << "find '" << mount << "' -type f | while read -r f; do\n"
        << "  src=\"${f#" << strip << "}\"\n"
        << "  if [ \"$src\" != \"$f\" ] && cmp -s \"$f\" \"$src\"; then "
           "echo \"same $f\"; else echo \"other $f\"; fi\n"
        << "done\n";
    const std::string unshare =
        ::geteuid() == 0 ? "unshare -m sh " : "unshare -rm sh ";
    return RunChatvault("", "", unshare + script + " #");
  }

  std::string env_;
  std::map<std::string, uintmax_t> repo_before_;
};

TEST_F(CliDiskTest, FullRestoreTargetFailsClearlyAndLeavesNoPartialFile) {
  const std::string mnt = dir_ + "/small";
  Output o = RunOnSmallDisk(repo() + " restore latest --target " + mnt, mnt,
                            "1m", mnt);
  ASSERT_EQ(o.text.find("cannot mount"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("rc=15"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("No space left on device"), std::string::npos)
      << o.text;
  // What is there is whole; no temporary is left behind.
  EXPECT_EQ(o.text.find("other "), std::string::npos) << o.text;
  EXPECT_EQ(Listing(dir_ + "/repo"), repo_before_);
  // The repository is as it was: a roomy target gets everything.
  Output ok =
      RunChatvault(repo() + " restore latest --target " + dir_ + "/big", env_);
  EXPECT_EQ(ok.exit_code, 0) << ok.text;
}

TEST_F(CliDiskTest, FullCacheDoesNotStopBackupOrRestore) {
  const std::string cache = dir_ + "/cache";
  for (const std::string& command :
       {repo() + " backup " + dir_ + "/chats",
        repo() + " restore latest --target " + dir_ + "/out"}) {
    SCOPED_TRACE(command);
    Output o = RunOnSmallDisk(command + " --cache-dir " + cache, cache, "16k",
                              "/nothing");
    ASSERT_EQ(o.text.find("cannot mount"), std::string::npos) << o.text;
    EXPECT_NE(o.text.find("rc=0"), std::string::npos) << o.text;
  }
  Output check = RunChatvault(repo() + " check --read-data", env_);
  EXPECT_EQ(check.exit_code, 0) << check.text;
}

// Permission denied on the target and on the cache, for an ordinary user
// (as root, chatvault runs as nobody: root writes anywhere).
TEST_F(CliDiskTest, UnwritableTargetAndCacheFailClearly) {
  const bool root = ::geteuid() == 0;
  const std::string runner = AsNobody();
  if (root) {
    for (const std::string& p : {dir_, dir_ + "/repo", dir_ + "/home"}) {
      ASSERT_EQ(::chown(p.c_str(), kNobody, kNobody), 0);
    }
    for (const auto& e :
         std::filesystem::recursive_directory_iterator(dir_ + "/repo"))
      ASSERT_EQ(::lchown(e.path().c_str(), kNobody, kNobody), 0);
    for (const auto& e :
         std::filesystem::recursive_directory_iterator(dir_ + "/home"))
      ASSERT_EQ(::lchown(e.path().c_str(), kNobody, kNobody), 0);
  }
  // Owned by root (or by us, mode 0555): nobody can write in them.
  const std::string locked = dir_ + "/locked";
  std::filesystem::create_directories(locked + "/cache");
  ASSERT_EQ(::chmod((locked + "/cache").c_str(), 0555), 0);
  ASSERT_EQ(::chmod(locked.c_str(), 0555), 0);

  Output r = RunChatvault(
      repo() + " restore latest --target " + locked + "/out", env_, runner);
  EXPECT_EQ(r.exit_code, 12) << r.text;
  EXPECT_NE(r.text.find(locked + "/out"), std::string::npos) << r.text;
  EXPECT_FALSE(std::filesystem::exists(locked + "/out"));

  // An unwritable cache: the work is done without it, and said so.
  Output b = RunChatvault(
      repo() + " backup " + dir_ + "/chats --cache-dir " + locked + "/cache",
      env_, runner);
  EXPECT_EQ(b.exit_code, 0) << b.text;
  Output rc = RunChatvault(repo() + " restore latest --cache-dir " + locked +
                               "/cache --target " + dir_ + "/out",
                           env_, runner);
  EXPECT_EQ(rc.exit_code, 0) << rc.text;
  EXPECT_EQ(Listing(locked), (std::map<std::string, uintmax_t>{}));
  ::chmod(locked.c_str(), 0755);
}
