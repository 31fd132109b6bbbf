// Crash consistency. A child process runs a backup, a prune or a restore
// and is killed with SIGKILL at one point of its storage traffic: just
// before or just after a call to the store, halfway through writing or
// uploading an object, or with an object written but not yet published.
// After every kill:
//   - check, reading every pack, finds no damage;
//   - every snapshot that existed before restores byte-identical, and so
//     does one the killed process managed to save;
//   - the interrupted operation, run again, succeeds; a backup re-uploads
//     at most the pack that was in flight; a restore finishes what it began
//     and leaves no temporary behind;
//   - a restore never wrote to the repository.
// Each point gets a fresh repository. The points are counted first, on a
// run that is not killed; CI kills at a spread of them (every point with
// CHATVAULT_CRASH_EVERY_POINT=1, as scripts/stress.sh runs it). Each case
// prints one "crash-summary" line; docs/reliability.md reports them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "backup/archiver.h"
#include "backup/checker.h"
#include "backup/pruner.h"
#include "backup/restorer.h"
#include "backup/test_util.h"
#include "base/bytes.h"
#include "crypto/random.h"
#include "storage/backend_wrapper.h"
#include "storage/local_backend.h"
#include "storage/s3_backend.h"
#include "tests/crash_points.h"
#include "tests/storage_conformance/fixture.h"

namespace chatvault::backup {
namespace {

namespace fs = std::filesystem;
using chatvault::testing::CrashBackend;
using chatvault::testing::Points;
using chatvault::testing::RunInChild;

constexpr size_t kPackBytes = 64 << 10;
constexpr const char* kPassphrase = "crash test";

std::string Tmp(const char* tag) {
  std::string tmpl = "/tmp/cv" + std::string(tag) + "XXXXXX";
  return mkdtemp(tmpl.data());
}

// Where a repository lives. Open() gives a new backend on it each time, so
// that a child never shares a connection with its parent; with `points`, the
// backend's own save hooks ("partial-write": half the object written or
// sent; "before-publish": written, not yet renamed or completed) are points
// too.
class Place {
 public:
  static Result<std::unique_ptr<Place>> Make(const std::string& kind) {
    auto p = std::unique_ptr<Place>(new Place());
    p->kind_ = kind;
    p->dir_ = Tmp("crash");
    if (kind == "S3") {
      RETURN_IF_ERROR(storage::testing::TestS3Config().status());
      std::byte rnd[8];
      crypto::RandomBytes(rnd);
      p->s3_prefix_ = "crash/" + HexEncode(rnd);
    }
    return p;
  }
  ~Place() {
    if (kind_ == "S3") {
      Result<std::unique_ptr<storage::Backend>> b = Open(nullptr, false);
      if (b.ok()) {
        std::vector<std::string> names;
        Status s = (*b)->List("", [&](const storage::ObjectInfo& info) {
          names.push_back(info.name);
          return Status::OK();
        });
        if (s.ok()) (*b)->RemoveMany(names).IgnoreError();
      }
    }
    fs::remove_all(dir_);
  }

  Result<std::unique_ptr<storage::Backend>> Open(Points* points = nullptr,
                                                 bool loads = false) {
    storage::SaveFaultHook hook;
    if (points != nullptr) {
      hook = [points](std::string_view) {
        points->Point();
        return Status::OK();
      };
    }
    std::unique_ptr<storage::Backend> backend;
    if (kind_ == "S3") {
      ASSIGN_OR_RETURN(storage::S3Config config,
                       storage::testing::TestS3Config());
      config.prefix = s3_prefix_;
      ASSIGN_OR_RETURN(std::unique_ptr<storage::S3Backend> s3,
                       storage::S3Backend::Open(std::move(config)));
      s3->set_save_fault_hook(hook);
      backend = std::move(s3);
    } else {
      ASSIGN_OR_RETURN(std::unique_ptr<storage::LocalBackend> local,
                       storage::LocalBackend::Open(dir_ + "/repo"));
      local->set_save_fault_hook(hook);
      backend = std::move(local);
    }
    if (points == nullptr) return backend;
    return std::unique_ptr<storage::Backend>(
        std::make_unique<CrashBackend>(std::move(backend), points, loads));
  }

  const std::string& dir() const { return dir_; }
  std::string cache() const { return dir_ + "/cache"; }

 private:
  std::string kind_;
  std::string dir_;
  std::string s3_prefix_;
};

void WriteRandom(const fs::path& path, size_t size, std::mt19937_64& rng) {
  std::string content(size, '\0');
  for (char& c : content) c = static_cast<char>(rng());  // incompressible
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

// Object name -> size, of every object under `prefix`.
std::map<std::string, uint64_t> Objects(storage::Backend* b,
                                        const std::string& prefix = "") {
  std::map<std::string, uint64_t> out;
  Status s = b->List(prefix, [&](const storage::ObjectInfo& info) {
    out[info.name] = info.size;
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

uint64_t Sum(const std::map<std::string, uint64_t>& objects) {
  uint64_t sum = 0;
  for (const auto& [name, size] : objects) sum += size;
  return sum;
}

// Runs `body` in a child process with a backend whose point `kill_at` kills
// it. Returns "killed", "completed" or what went wrong.
std::string RunChild(Place* place, uint64_t kill_at, bool loads,
                     const std::function<Status(storage::Backend*)>& body) {
  return RunInChild(kill_at, [&](Points* points) {
    Result<std::unique_ptr<storage::Backend>> b = place->Open(points, loads);
    return b.ok() ? body(b->get()) : b.status();
  });
}

Result<std::unique_ptr<Repository>> OpenRepo(storage::Backend* b) {
  return Repository::OpenWithPassphrase(b, AsBytes(kPassphrase));
}

// Which points to kill at, of `total`: every one with
// CHATVAULT_CRASH_EVERY_POINT=1, else about `want` spread evenly, always
// including the first and the last.
std::vector<uint64_t> Choose(uint64_t total, uint64_t want) {
  const char* every = std::getenv("CHATVAULT_CRASH_EVERY_POINT");
  uint64_t stride = 1;
  if (!(every != nullptr && std::string(every) == "1") && total > want) {
    stride = (total + want - 1) / want;
  }
  std::vector<uint64_t> out;
  for (uint64_t k = 1; k <= total; k += stride) out.push_back(k);
  if (out.back() != total) out.push_back(total);
  return out;
}

class CrashTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    trees_ = Tmp("crashsrc");
    std::mt19937_64 rng(42);
    // v1: 12 files; v2 changes 3 of them and adds 12; v3 drops half of
    // v2's files. Incompressible, so that packs fill predictably.
    for (int i = 0; i < 12; ++i) {
      WriteRandom(trees_ + "/v1/chat/f" + std::to_string(i),
                  20'000 + rng() % 40'000, rng);
    }
    fs::copy(trees_ + "/v1", trees_ + "/v2", fs::copy_options::recursive);
    for (int i = 0; i < 3; ++i) {
      WriteRandom(trees_ + "/v2/chat/f" + std::to_string(i * 4),
                  30'000 + rng() % 30'000, rng);
    }
    for (int i = 0; i < 12; ++i) {
      WriteRandom(trees_ + "/v2/chat/media/m" + std::to_string(i),
                  20'000 + rng() % 60'000, rng);
    }
    fs::copy(trees_ + "/v2", trees_ + "/v3", fs::copy_options::recursive);
    for (int i = 0; i < 12; i += 2) {
      fs::remove(trees_ + "/v3/chat/f" + std::to_string(i));
      fs::remove(trees_ + "/v3/chat/media/m" + std::to_string(i));
    }
  }
  void TearDown() override { fs::remove_all(trees_); }

  std::string Tree(int version) const {
    return trees_ + "/v" + std::to_string(version);
  }

  // A fresh repository with a snapshot of each of `versions`; returns
  // their IDs.
  std::vector<std::string> Prepare(Place* place, std::vector<int> versions) {
    std::vector<std::string> ids;
    Result<std::unique_ptr<storage::Backend>> b = place->Open();
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    if (!b.ok()) return ids;
    Status init =
        Repository::Init(b->get(), AsBytes(kPassphrase),
                         crypto::RecoveryCode::Generate(),
                         testing::FastInit({16 << 10, 64 << 10, 256 << 10, 1}))
            .status();
    EXPECT_TRUE(init.ok()) << init.ToString();
    for (int v : versions) {
      Result<BackupResult> r = BackUp(place, b->get(), v);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (r.ok()) ids.push_back(r->snapshot_id);
    }
    return ids;
  }

  Result<BackupResult> BackUp(Place* place, storage::Backend* b, int version) {
    ASSIGN_OR_RETURN(std::unique_ptr<Repository> repo, OpenRepo(b));
    BackupOptions bo;
    bo.paths = {Tree(version)};
    bo.cache_dir = place->cache();
    bo.pack_bytes = kPackBytes;
    return Backup(repo.get(), bo);
  }

  // Check reads every pack and finds nothing wrong; each snapshot in
  // `expect` (ID -> tree version) restores byte-identical.
  void ExpectSound(Place* place, const std::map<std::string, int>& expect) {
    Result<std::unique_ptr<storage::Backend>> b = place->Open();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    Result<std::unique_ptr<Repository>> repo = OpenRepo(b->get());
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    CheckOptions co;
    co.read_data = true;
    Result<CheckResult> check = Check(repo->get(), co);
    ASSERT_TRUE(check.ok()) << check.status().ToString();
    for (const std::string& p : check->problems) ADD_FAILURE() << p;
    for (const auto& [id, version] : expect) {
      std::string target = place->dir() + "/verify";
      fs::remove_all(target);
      RestoreOptions ro;
      ro.target = target;
      Result<RestoreResult> r = Restore(repo->get(), id, ro);
      ASSERT_TRUE(r.ok()) << id << ": " << r.status().ToString();
      EXPECT_TRUE(testing::ReadFiles(target + Tree(version)) ==
                  testing::ReadFiles(Tree(version)))
          << "snapshot " << id << " of v" << version
          << " does not restore byte-identical";
      fs::remove_all(target);
    }
  }

  // The points of `body` on a repository prepared with `versions`, counted
  // on a run that is not killed.
  uint64_t Census(
      std::vector<int> versions, bool loads,
      const std::function<Status(Place*, storage::Backend*)>& body) {
    Result<std::unique_ptr<Place>> place = Place::Make(GetParam());
    EXPECT_TRUE(place.ok()) << place.status().ToString();
    if (!place.ok()) return 0;
    Prepare(place->get(), versions);
    Points points(0);
    Result<std::unique_ptr<storage::Backend>> b =
        (*place)->Open(&points, loads);
    EXPECT_TRUE(b.ok());
    if (!b.ok()) return 0;
    Status s = body(place->get(), b->get());
    EXPECT_TRUE(s.ok()) << s.ToString();
    return points.count();
  }

  // How many points to kill at in CI, per backend.
  uint64_t Want(uint64_t local, uint64_t s3) const {
    return GetParam() == "S3" ? s3 : local;
  }

  std::string trees_;
};

TEST_P(CrashTest, KilledBackupLosesNothingAndResumes) {
  auto backup_v2 = [&](Place* place, storage::Backend* b) {
    return BackUp(place, b, 2).status();
  };
  // The clean backup of v2, for what a resumed one may write.
  uint64_t clean_bytes = 0;
  uint64_t total = Census({1}, false, [&](Place* place, storage::Backend* b) {
    Result<BackupResult> r = BackUp(place, b, 2);
    if (r.ok()) clean_bytes = r->pack_bytes_written;
    return r.status();
  });
  ASSERT_GT(total, 40u) << "too few points to be a test";
  uint64_t killed = 0, saved_snapshot = 0, max_waste = 0;
  for (uint64_t k : Choose(total, Want(45, 8))) {
    SCOPED_TRACE("kill at point " + std::to_string(k) + " of " +
                 std::to_string(total));
    Result<std::unique_ptr<Place>> place = Place::Make(GetParam());
    ASSERT_TRUE(place.ok()) << place.status().ToString();
    std::vector<std::string> ids = Prepare(place->get(), {1});
    ASSERT_EQ(ids.size(), 1u);
    Result<std::unique_ptr<storage::Backend>> b = (*place)->Open();
    ASSERT_TRUE(b.ok());
    std::map<std::string, uint64_t> before = Objects(b->get());

    std::string outcome = RunChild(
        place->get(), k, false,
        [&](storage::Backend* cb) { return backup_v2(place->get(), cb); });
    ASSERT_TRUE(outcome == "killed" || outcome == "completed") << outcome;
    killed += outcome == "killed";

    // The earlier snapshot, and a new one if the child saved it.
    std::map<std::string, int> expect = {{ids[0], 1}};
    for (const auto& [name, size] : Objects(b->get(), "snapshots/")) {
      std::string id = name.substr(std::string("snapshots/").size());
      if (id != ids[0]) {
        expect[id] = 2;
        ++saved_snapshot;
      }
    }
    ExpectSound(place->get(), expect);

    // Run again: it succeeds and writes about what the killed run had not.
    Result<BackupResult> again = BackUp(place->get(), b->get(), 2);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    expect[again->snapshot_id] = 2;
    ExpectSound(place->get(), expect);
    uint64_t data_before = 0;
    for (const auto& [name, size] : before) {
      if (name.starts_with("data/")) data_before += size;
    }
    uint64_t added = Sum(Objects(b->get(), "data/")) - data_before;
    uint64_t waste = added > clean_bytes ? added - clean_bytes : 0;
    max_waste = std::max(max_waste, waste);
    // One pack in flight when killed: its target size, one more blob of at
    // most 256 KiB, and the header.
    EXPECT_LE(waste, kPackBytes + (256 << 10) + (8 << 10))
        << "the resumed backup re-uploaded " << waste << " bytes";
  }
  printf(
      "crash-summary backend=%s op=backup points=%llu killed=%llu "
      "snapshot_saved_before_kill=%llu clean_bytes=%llu "
      "max_reuploaded_bytes=%llu\n",
      GetParam().c_str(), (unsigned long long)total, (unsigned long long)killed,
      (unsigned long long)saved_snapshot, (unsigned long long)clean_bytes,
      (unsigned long long)max_waste);
}

TEST_P(CrashTest, KilledPruneLosesNothingAndResumes) {
  PruneOptions po;
  po.grace = std::chrono::milliseconds(0);
  po.repack_below = 0.9;
  // v1's and v2's snapshots are forgotten; v3's stays. Half of v2's files
  // are in it, so some packs go whole and some are repacked.
  auto prepare = [&](Place* place) {
    std::vector<std::string> ids = Prepare(place, {1, 2, 3});
    Result<std::unique_ptr<storage::Backend>> b = place->Open();
    EXPECT_TRUE(b.ok());
    if (ids.size() == 3 && b.ok()) {
      EXPECT_TRUE((*b)->Remove("snapshots/" + ids[0]).ok());
      EXPECT_TRUE((*b)->Remove("snapshots/" + ids[1]).ok());
    }
    return ids;
  };
  auto prune = [&](Place* place, storage::Backend* b) -> Status {
    ASSIGN_OR_RETURN(std::unique_ptr<Repository> repo, OpenRepo(b));
    PruneOptions o = po;
    o.cache_dir = place->cache();
    return Prune(repo.get(), o).status();
  };
  uint64_t total = 0;
  {
    Result<std::unique_ptr<Place>> place = Place::Make(GetParam());
    ASSERT_TRUE(place.ok()) << place.status().ToString();
    prepare(place->get());
    Points points(0);
    Result<std::unique_ptr<storage::Backend>> b = (*place)->Open(&points);
    ASSERT_TRUE(b.ok());
    Status s = prune(place->get(), b->get());
    ASSERT_TRUE(s.ok()) << s.ToString();
    total = points.count();
  }
  ASSERT_GT(total, 10u) << "too few points to be a test";
  uint64_t killed = 0;
  for (uint64_t k : Choose(total, Want(25, 6))) {
    SCOPED_TRACE("kill at point " + std::to_string(k) + " of " +
                 std::to_string(total));
    Result<std::unique_ptr<Place>> place = Place::Make(GetParam());
    ASSERT_TRUE(place.ok());
    std::vector<std::string> ids = prepare(place->get());
    ASSERT_EQ(ids.size(), 3u);
    std::string outcome =
        RunChild(place->get(), k, false,
                 [&](storage::Backend* cb) { return prune(place->get(), cb); });
    ASSERT_TRUE(outcome == "killed" || outcome == "completed") << outcome;
    killed += outcome == "killed";
    std::map<std::string, int> expect = {{ids[2], 3}};
    ExpectSound(place->get(), expect);

    // Prune again: it completes what was marked, and nothing is lost.
    Result<std::unique_ptr<storage::Backend>> b = (*place)->Open();
    ASSERT_TRUE(b.ok());
    Status again = prune(place->get(), b->get());
    ASSERT_TRUE(again.ok()) << again.ToString();
    ExpectSound(place->get(), expect);
    // And the next backup works.
    Result<BackupResult> next = BackUp(place->get(), b->get(), 1);
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    expect[next->snapshot_id] = 1;
    ExpectSound(place->get(), expect);
  }
  printf("crash-summary backend=%s op=prune points=%llu killed=%llu\n",
         GetParam().c_str(), (unsigned long long)total,
         (unsigned long long)killed);
}

TEST_P(CrashTest, KilledRestoreFinishesAndNeverWritesTheRepository) {
  auto restore = [&](Place* place, storage::Backend* b, const std::string& id,
                     bool skip_existing) -> Result<RestoreResult> {
    ASSIGN_OR_RETURN(std::unique_ptr<Repository> repo, OpenRepo(b));
    RestoreOptions ro;
    ro.target = place->dir() + "/target";
    ro.cache_dir = place->cache();
    ro.skip_existing = skip_existing;
    return Restore(repo.get(), id, ro);
  };
  uint64_t total = 0;
  {
    Result<std::unique_ptr<Place>> place = Place::Make(GetParam());
    ASSERT_TRUE(place.ok()) << place.status().ToString();
    std::vector<std::string> ids = Prepare(place->get(), {2});
    ASSERT_EQ(ids.size(), 1u);
    Points points(0);
    Result<std::unique_ptr<storage::Backend>> b = (*place)->Open(&points, true);
    ASSERT_TRUE(b.ok());
    Result<RestoreResult> r = restore(place->get(), b->get(), ids[0], false);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    total = points.count();
  }
  ASSERT_GT(total, 5u) << "too few points to be a test";
  uint64_t killed = 0, partial_targets = 0, temporaries = 0;
  for (uint64_t k : Choose(total, Want(15, 6))) {
    SCOPED_TRACE("kill at point " + std::to_string(k) + " of " +
                 std::to_string(total));
    Result<std::unique_ptr<Place>> place = Place::Make(GetParam());
    ASSERT_TRUE(place.ok());
    std::vector<std::string> ids = Prepare(place->get(), {2});
    ASSERT_EQ(ids.size(), 1u);
    Result<std::unique_ptr<storage::Backend>> b = (*place)->Open();
    ASSERT_TRUE(b.ok());
    std::map<std::string, uint64_t> repo_before = Objects(b->get());
    std::string outcome =
        RunChild(place->get(), k, true, [&](storage::Backend* cb) {
          return restore(place->get(), cb, ids[0], false).status();
        });
    ASSERT_TRUE(outcome == "killed" || outcome == "completed") << outcome;
    killed += outcome == "killed";

    // Whatever is under a file's own name is the whole file.
    std::string restored = (*place)->dir() + "/target" + Tree(2);
    std::map<std::string, std::string> want = testing::ReadFiles(Tree(2));
    std::map<std::string, std::string> got = testing::ReadFiles(restored);
    for (const auto& [path, content] : got) {
      if (fs::path(path).filename().string().starts_with(".")) {
        ++temporaries;
        continue;
      }
      ASSERT_TRUE(want.contains(path)) << path;
      EXPECT_EQ(content, want[path]) << path << " is partial";
    }
    partial_targets += got.size() < want.size();

    // Finishing it gives the whole snapshot, and no temporary remains.
    Result<RestoreResult> again = restore(place->get(), b->get(), ids[0], true);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_TRUE(testing::ReadFiles(restored) == want)
        << "the finished restore differs";
    EXPECT_EQ(Objects(b->get()), repo_before)
        << "a restore changed the repository";
  }
  printf(
      "crash-summary backend=%s op=restore points=%llu killed=%llu "
      "targets_incomplete=%llu temporaries_found=%llu\n",
      GetParam().c_str(), (unsigned long long)total, (unsigned long long)killed,
      (unsigned long long)partial_targets, (unsigned long long)temporaries);
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashTest, ::testing::Values("Local", "S3"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace chatvault::backup
