// init, backup and restore through every real backend: a local directory
// and S3 on the radosgw test server; and two devices backing up into one
// repository at the same time, without a lock.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "backup/archiver.h"
#include "backup/restorer.h"
#include "backup/test_util.h"
#include "crypto/random.h"
#include "storage/local_backend.h"
#include "tests/storage_conformance/fixture.h"

namespace chatvault::backup {
namespace {

namespace fs = std::filesystem;

InitOptions Fast() {
  return testing::FastInit({16 << 10, 64 << 10, 256 << 10, 1});
}

std::string Tmp(const char* tag) {
  std::string tmpl = "/tmp/cv" + std::string(tag) + "XXXXXX";
  return mkdtemp(tmpl.data());
}

void MakeTree(const std::string& dir, uint64_t seed) {
  std::mt19937_64 rng(seed);
  fs::create_directories(dir + "/Media");
  for (int i = 0; i < 20; ++i) {
    std::string content(static_cast<size_t>(rng() % 200'000), '\0');
    for (char& c : content)
      c = static_cast<char>(rng() % 7 + 'a');  // compressible
    std::ofstream(dir + (i % 2 ? "/Media/f" : "/f") + std::to_string(i),
                  std::ios::binary)
        << content;
  }
}

bool SameTree(const std::string& a, const std::string& b) {
  for (const auto& e : fs::recursive_directory_iterator(a)) {
    fs::path other = b / e.path().lexically_relative(a);
    if (!fs::exists(fs::symlink_status(other))) return false;
    if (e.is_regular_file()) {
      std::ifstream fa(e.path(), std::ios::binary), fb(other, std::ios::binary);
      if (std::string((std::istreambuf_iterator<char>(fa)), {}) !=
          std::string((std::istreambuf_iterator<char>(fb)), {})) {
        return false;
      }
    }
  }
  return true;
}

class BackupIntegration : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<storage::testing::BackendFixture>> f =
        storage::testing::MakeFixture(GetParam());
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    fixture_ = std::move(*f);
    dir_ = Tmp("integ");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<storage::testing::BackendFixture> fixture_;
  std::string dir_;
};

TEST_P(BackupIntegration, InitBackupRestoreRoundTrip) {
  storage::Backend* backend = fixture_->backend();
  crypto::RecoveryCode code = crypto::RecoveryCode::Generate();
  ASSERT_TRUE(Repository::Init(backend, AsBytes("pw"), code, Fast()).ok());
  Result<std::unique_ptr<Repository>> repo =
      Repository::OpenWithPassphrase(backend, AsBytes("pw"));
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  MakeTree(dir_ + "/src", 1);
  BackupOptions bo;
  bo.paths = {dir_ + "/src"};
  Result<BackupResult> b = Backup(repo->get(), bo);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  Result<BackupResult> again = Backup(repo->get(), bo);
  ASSERT_TRUE(again.ok());
  // No file data again; at most the trees of the directories above the
  // source, whose mtimes other tests change (/tmp).
  EXPECT_LT(again->pack_bytes_written, 4096u);

  // A new session with the recovery code restores it.
  Result<std::unique_ptr<Repository>> by_code =
      Repository::OpenWithRecoveryCode(backend, code);
  ASSERT_TRUE(by_code.ok());
  RestoreOptions ro;
  ro.target = dir_ + "/restore";
  ASSERT_TRUE(Restore(by_code->get(), b->snapshot_id, ro).ok());
  EXPECT_TRUE(SameTree(dir_ + "/src", ro.target + dir_ + "/src"));
}

TEST_P(BackupIntegration, TwoDevicesBackUpConcurrentlyWithoutALock) {
  storage::Backend* backend = fixture_->backend();
  ASSERT_TRUE(Repository::Init(backend, AsBytes("pw"),
                               crypto::RecoveryCode::Generate(), Fast())
                  .ok());
  MakeTree(dir_ + "/phone", 2);
  MakeTree(dir_ + "/laptop", 3);
  std::vector<std::string> ids(2);
  {
    std::vector<std::jthread> devices;
    for (int d = 0; d < 2; ++d) {
      devices.emplace_back([&, d] {
        Result<std::unique_ptr<Repository>> repo =
            Repository::OpenWithPassphrase(backend, AsBytes("pw"));
        ASSERT_TRUE(repo.ok());
        BackupOptions bo;
        bo.paths = {dir_ + (d ? "/laptop" : "/phone")};
        Result<BackupResult> b = Backup(repo->get(), bo);
        ASSERT_TRUE(b.ok()) << b.status().ToString();
        ids[d] = b->snapshot_id;
      });
    }
  }
  Result<std::unique_ptr<Repository>> repo =
      Repository::OpenWithPassphrase(backend, AsBytes("pw"));
  ASSERT_TRUE(repo.ok());
  for (int d = 0; d < 2; ++d) {
    RestoreOptions ro;
    ro.target = dir_ + "/restore" + std::to_string(d);
    ASSERT_TRUE(Restore(repo->get(), ids[d], ro).ok());
    std::string name = d ? "/laptop" : "/phone";
    EXPECT_TRUE(SameTree(dir_ + name, ro.target + dir_ + name)) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, BackupIntegration,
                         ::testing::Values("Local", "S3"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace chatvault::backup
