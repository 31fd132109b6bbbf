// Network faults between chatvault and its S3 server: a fault-injecting
// proxy (tests/fault_proxy.h) sits on loopback in front of radosgw and
// resets, stalls, answers 503, truncates or drips the traffic. Backup and
// restore go through it and must either complete (through retries), with
// the restore byte-identical, or fail with a clear error; either way a
// check over a direct connection finds no snapshot that names missing
// data. Each case prints one "network-summary" line for
// docs/reliability.md. CHATVAULT_STRESS_ROUNDS (scripts/stress.sh) runs
// more rounds with other seeds.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "backup/archiver.h"
#include "backup/checker.h"
#include "backup/restorer.h"
#include "backup/test_util.h"
#include "base/bytes.h"
#include "crypto/random.h"
#include "storage/s3_backend.h"
#include "tests/fault_proxy.h"
#include "tests/storage_conformance/fixture.h"

namespace chatvault::backup {
namespace {

namespace fs = std::filesystem;
using chatvault::testing::FaultProxy;
using chatvault::testing::ProxyCounts;
using chatvault::testing::ProxyFaults;

constexpr const char* kPassphrase = "network test";

int Rounds() {
  const char* r = std::getenv("CHATVAULT_STRESS_ROUNDS");
  return r != nullptr && std::atoi(r) > 0 ? std::atoi(r) : 1;
}

struct Case {
  std::string name;
  ProxyFaults faults;
  // Every operation must complete (the faults are survivable); otherwise
  // operations may fail, but only with a clear error.
  bool must_complete = true;
};

class NetworkFaultTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/cvnetXXXXXX";
    dir_ = mkdtemp(tmpl.data());
    std::mt19937_64 rng(7);
    for (int i = 0; i < 16; ++i) {
      std::string content(20'000 + rng() % 60'000, '\0');
      for (char& c : content) c = static_cast<char>(rng());
      fs::create_directories(dir_ + "/src/chat");
      std::ofstream(dir_ + "/src/chat/f" + std::to_string(i), std::ios::binary)
          << content;
    }
    Result<storage::S3Config> direct = storage::testing::TestS3Config();
    ASSERT_TRUE(direct.ok()) << direct.status().ToString();
    ASSERT_TRUE(
        chatvault::testing::SplitEndpoint(direct->endpoint, &host_, &port_)
            .ok());
    std::byte rnd[8];
    crypto::RandomBytes(rnd);
    prefix_ = "network/" + HexEncode(rnd);
  }
  void TearDown() override {
    Result<std::unique_ptr<storage::Backend>> b = Open(0);
    if (b.ok()) {
      std::vector<std::string> names;
      if ((*b)->List("",
                     [&](const storage::ObjectInfo& i) {
                       names.push_back(i.name);
                       return Status::OK();
                     })
              .ok()) {
        (*b)->RemoveMany(names).IgnoreError();
      }
    }
    fs::remove_all(dir_);
  }

  // A backend through the proxy on `port`, or straight to radosgw (0).
  // Short timeouts and backoff, so that a stall costs about a second.
  Result<std::unique_ptr<storage::Backend>> Open(int port) {
    ASSIGN_OR_RETURN(storage::S3Config c, storage::testing::TestS3Config());
    c.prefix = prefix_;
    if (port != 0) c.endpoint = "http://127.0.0.1:" + std::to_string(port);
    c.http.low_speed_bytes_per_s = 1024;
    c.http.low_speed_time = std::chrono::seconds(1);
    c.http.connect_timeout = std::chrono::milliseconds(2000);
    c.retry.initial_delay = std::chrono::milliseconds(10);
    c.retry.max_delay = std::chrono::milliseconds(200);
    c.retry.deadline = std::chrono::milliseconds(30'000);
    c.retry.max_attempts = 10;
    ASSIGN_OR_RETURN(std::unique_ptr<storage::S3Backend> b,
                     storage::S3Backend::Open(std::move(c)));
    return std::unique_ptr<storage::Backend>(std::move(b));
  }

  // Check over a direct connection: no damage at all.
  void ExpectSound() {
    Result<std::unique_ptr<storage::Backend>> b = Open(0);
    ASSERT_TRUE(b.ok());
    Result<std::unique_ptr<Repository>> repo =
        Repository::OpenWithPassphrase(b->get(), AsBytes(kPassphrase));
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    CheckOptions co;
    co.read_data = true;
    Result<CheckResult> check = Check(repo->get(), co);
    ASSERT_TRUE(check.ok()) << check.status().ToString();
    for (const std::string& p : check->problems) ADD_FAILURE() << p;
  }

  std::string dir_, host_, prefix_;
  int port_ = 0;
};

// A failure must say what failed and where, and be of a kind the CLI maps
// to its storage exit code.
void ExpectClear(const Status& s) {
  EXPECT_TRUE(s.code() == StatusCode::kUnavailable ||
              s.code() == StatusCode::kIOError)
      << s.ToString();
  EXPECT_NE(s.message().find("127.0.0.1"), std::string::npos)
      << "the error does not name the server: " << s.ToString();
}

TEST_P(NetworkFaultTest, BackupAndRestoreSurviveOrFailClearly) {
  const Case& c = GetParam();
  // The repository is made over a direct connection.
  {
    Result<std::unique_ptr<storage::Backend>> b = Open(0);
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE(
        Repository::Init(b->get(), AsBytes(kPassphrase),
                         crypto::RecoveryCode::Generate(),
                         testing::FastInit({16 << 10, 64 << 10, 256 << 10, 1}))
            .ok());
  }
  ProxyCounts total;
  int completed = 0, failed = 0;
  for (int round = 0; round < Rounds(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ProxyFaults faults = c.faults;
    faults.seed = c.faults.seed + 1000 * round;
    Result<std::unique_ptr<FaultProxy>> proxy =
        FaultProxy::Start(host_, port_, faults);
    ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
    Result<std::unique_ptr<storage::Backend>> b = Open((*proxy)->port());
    ASSERT_TRUE(b.ok());

    // Open and back up through the proxy (a new file each round).
    std::ofstream(dir_ + "/src/chat/round" + std::to_string(round))
        << "round " << round;
    Result<std::unique_ptr<Repository>> repo =
        Repository::OpenWithPassphrase(b->get(), AsBytes(kPassphrase));
    Result<BackupResult> backup = repo.status();
    if (repo.ok()) {
      BackupOptions bo;
      bo.paths = {dir_ + "/src"};
      bo.pack_bytes = 64 << 10;
      backup = Backup(repo->get(), bo);
    }
    if (c.must_complete) {
      ASSERT_TRUE(backup.ok()) << backup.status().ToString();
    } else if (!backup.ok()) {
      ExpectClear(backup.status());
    }

    // Restore through the proxy whatever snapshot there is.
    if (backup.ok()) {
      RestoreOptions ro;
      ro.target = dir_ + "/restore" + std::to_string(round);
      Result<RestoreResult> r = Restore(repo->get(), backup->snapshot_id, ro);
      if (c.must_complete) {
        ASSERT_TRUE(r.ok()) << r.status().ToString();
      } else if (!r.ok()) {
        ExpectClear(r.status());
      }
      if (r.ok()) {
        EXPECT_TRUE(testing::ReadFiles(ro.target + dir_ + "/src") ==
                    testing::ReadFiles(dir_ + "/src"))
            << "the restore through the proxy differs";
      }
      fs::remove_all(ro.target);
      (backup.ok() && r.ok() ? completed : failed)++;
    } else {
      ++failed;
    }
    repo = Status::Cancelled("closed");
    b = Status::Cancelled("closed");
    ProxyCounts n = (*proxy)->counts();
    total.connections += n.connections;
    total.resets += n.resets;
    total.stalls += n.stalls;
    total.errors += n.errors;
    total.truncations += n.truncations;
    total.drips += n.drips;
    ExpectSound();
  }
  EXPECT_GT(total.faults(), 0u) << "no fault was injected";
  if (c.faults.error == 1.0) {
    EXPECT_EQ(completed, 0);
  }
  printf(
      "network-summary case=%s rounds=%d connections=%llu resets=%llu "
      "stalls=%llu errors_503=%llu truncations=%llu drips=%llu "
      "completed=%d failed_clearly=%d\n",
      c.name.c_str(), Rounds(), (unsigned long long)total.connections,
      (unsigned long long)total.resets, (unsigned long long)total.stalls,
      (unsigned long long)total.errors, (unsigned long long)total.truncations,
      (unsigned long long)total.drips, completed, failed);
}

// A create-if-absent save whose answer is lost on the way back: the retry
// finds the object there. It is this save's own object, so the save
// succeeds; an object of other bytes under the name is still AlreadyExists.
TEST_F(NetworkFaultTest, CreateIfAbsentSurvivesALostAnswer) {
  ProxyFaults faults;
  faults.truncate = 1.0;
  faults.window = 64;  // inside the status line or headers
  faults.max_faults = 1;
  Result<std::unique_ptr<FaultProxy>> proxy =
      FaultProxy::Start(host_, port_, faults);
  ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
  Result<std::unique_ptr<storage::Backend>> b = Open((*proxy)->port());
  ASSERT_TRUE(b.ok());
  Bytes data(5000, std::byte{7});
  Status s = (*b)->Save("index/ours", data, storage::SaveMode::kCreateIfAbsent);
  EXPECT_EQ((*proxy)->counts().truncations, 1u);
  EXPECT_TRUE(s.ok()) << s.ToString();
  Result<Bytes> back = (*b)->Load("index/ours", 0, storage::kToEnd);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, data);
  // Someone else's object of the same name is not ours.
  Bytes other(5000, std::byte{8});
  EXPECT_EQ((*b)->Save("index/ours", other, storage::SaveMode::kCreateIfAbsent)
                .code(),
            StatusCode::kAlreadyExists);
}

// Names the case in test listings, not its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Case Make(std::string name, ProxyFaults f, bool must_complete = true) {
  return Case{std::move(name), f, must_complete};
}

INSTANTIATE_TEST_SUITE_P(
    S3, NetworkFaultTest,
    ::testing::Values(Make("Resets", {.reset = 0.3, .seed = 11}),
                      Make("Stalls", {.stall = 0.1, .seed = 12}),
                      Make("Errors503", {.error = 0.3, .seed = 13}),
                      Make("Truncations", {.truncate = 0.3, .seed = 14}),
                      Make("SlowDrip", {.drip = 0.5, .seed = 15}),
                      Make("Mixed", {.reset = 0.08,
                                     .stall = 0.02,
                                     .error = 0.08,
                                     .truncate = 0.08,
                                     .drip = 0.08,
                                     .seed = 16}),
                      // Every connection fails: nothing completes, every error
                      // is clear, and the repository is as sound as before.
                      Make("Outage", {.error = 1.0, .seed = 17}, false)),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace chatvault::backup
