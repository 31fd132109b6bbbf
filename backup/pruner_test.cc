// prune: what no snapshot uses goes, after the grace period; what any
// snapshot uses, including delta bases and dictionaries, stays and restores
// byte for byte; a backup racing a prune loses nothing; the prune lock.
#include "backup/pruner.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "backup/archiver.h"
#include "backup/checker.h"
#include "backup/lock.h"
#include "backup/restorer.h"
#include "backup/sqlite_test_util.h"
#include "backup/test_util.h"
#include "storage/local_backend.h"
#include "storage/mem_backend.h"

namespace chatvault::backup {
namespace {

namespace fs = std::filesystem;
using Files = std::map<std::string, std::string>;  // relative path → bytes

std::string Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every regular file below `dir`, by path relative to it.
Files ReadTree(const std::string& dir) {
  Files files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) {
      files[fs::relative(e.path(), dir).string()] = ReadFile(e.path());
    }
  }
  return files;
}

using testing::Exec;

class PrunerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/chatvault-prune-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    src_ = dir_ + "/app";
    fs::create_directories(src_);
    clock_.SetWall(std::chrono::system_clock::now());
    Open(&mem_);
  }
  void TearDown() override {
    repo_.reset();
    fs::remove_all(dir_);
  }

  void Open(storage::Backend* backend) {
    backend_ = backend;
    Result<std::unique_ptr<Repository>> r =
        Repository::Init(backend_, AsBytes("pw"),
                         crypto::RecoveryCode::Generate(), testing::FastInit());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    repo_ = std::move(*r);
  }

  void Write(const std::string& name, const std::string& bytes) {
    fs::create_directories(fs::path(src_ + "/" + name).parent_path());
    std::ofstream(src_ + "/" + name, std::ios::binary) << bytes;
  }

  // Backs up the source; remembers what it held.
  std::string Snap(const ProgressFn& progress = nullptr) {
    BackupOptions o;
    o.paths = {src_};
    Result<BackupResult> r = Backup(repo_.get(), o, progress);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    last_warnings_ = r->warnings;
    held_[r->snapshot_id] = ReadTree(src_);
    return r->snapshot_id;
  }

  void Forget(const std::string& id) {
    ASSERT_TRUE(backend_->Remove("snapshots/" + id).ok());
  }

  PruneResult Prune(std::chrono::milliseconds grace, double repack = 0.5) {
    PruneOptions o;
    o.grace = grace;
    o.repack_below = repack;
    o.clock = &clock_;
    Result<PruneResult> r = backup::Prune(repo_.get(), o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : PruneResult{};
  }

  // The snapshot restores to exactly what the source held when it was
  // taken.
  void ExpectRestores(const std::string& id) {
    const std::string target = dir_ + "/restore-" + id.substr(0, 8);
    RestoreOptions o;
    o.target = target;
    Result<RestoreResult> r = Restore(repo_.get(), id, o);
    ASSERT_TRUE(r.ok()) << id << ": " << r.status().ToString();
    Files got = ReadTree(target + src_);
    const Files& want = held_[id];
    ASSERT_EQ(got.size(), want.size()) << id;
    for (const auto& [path, bytes] : want) {
      EXPECT_TRUE(got[path] == bytes) << id << ": " << path << " differs";
    }
    fs::remove_all(target);
  }

  void ExpectSound(bool read_data = true) {
    CheckOptions o;
    o.read_data = read_data;
    Result<CheckResult> r = Check(repo_.get(), o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::string all;
    for (const std::string& p : r->problems) all += p + "\n";
    EXPECT_TRUE(r->problems.empty()) << all;
  }

  // The objects below `prefix`, by name.
  std::map<std::string, Bytes> Objects(const std::string& prefix) {
    std::map<std::string, Bytes> objects;
    EXPECT_TRUE(backend_
                    ->List(prefix,
                           [&](const storage::ObjectInfo& i) {
                             Result<Bytes> b =
                                 backend_->Load(i.name, 0, storage::kToEnd);
                             if (b.ok()) objects[i.name] = *b;
                             return b.status();
                           })
                    .ok());
    return objects;
  }

  size_t Count(const std::string& prefix) {
    size_t n = 0;
    EXPECT_TRUE(backend_
                    ->List(prefix,
                           [&](const storage::ObjectInfo&) {
                             ++n;
                             return Status::OK();
                           })
                    .ok());
    return n;
  }

  std::string dir_, src_;
  storage::MemBackend mem_;
  storage::Backend* backend_ = nullptr;
  std::unique_ptr<Repository> repo_;
  FakeClock clock_;
  std::map<std::string, Files> held_;
  std::vector<std::string> last_warnings_;
};

constexpr std::chrono::milliseconds kHour = std::chrono::hours(1);
constexpr std::chrono::milliseconds kNoGrace{0};

TEST_F(PrunerTest, UnusedPacksGoOnlyAfterTheGracePeriod) {
  Write("a.bin", Random(2 << 20, 1));
  const std::string s1 = Snap();
  fs::remove(src_ + "/a.bin");
  Write("b.bin", Random(2 << 20, 2));
  const std::string s2 = Snap();
  fs::remove(src_ + "/b.bin");
  Write("c.bin", Random(2 << 20, 3));
  const std::string s3 = Snap();
  Forget(s1);
  Forget(s2);
  const size_t packs = Count("data/");
  const size_t indexes = Count("index/");

  PruneResult marked = Prune(kHour);
  EXPECT_EQ(marked.snapshots, 1u);
  EXPECT_GE(marked.packs_unused, 2u);
  EXPECT_GT(marked.bytes_condemned, 4u << 20);
  EXPECT_FALSE(marked.plan_id.empty());
  EXPECT_EQ(marked.plans_waiting, 1u);
  EXPECT_EQ(marked.packs_deleted, 0u);
  EXPECT_EQ(Count("data/"), packs);  // nothing deleted yet
  EXPECT_EQ(Count("prune/"), 1u);
  EXPECT_EQ(marked.indexes_superseded, indexes);
  ExpectRestores(s3);
  ExpectSound();
  // check says what waits, once per plan.
  Result<CheckResult> checked = Check(repo_.get(), {});
  ASSERT_TRUE(checked.ok());
  ASSERT_EQ(checked->notes.size(), 1u);
  EXPECT_NE(checked->notes[0].find("prune plan " + marked.plan_id.substr(0, 8)),
            std::string::npos)
      << checked->notes[0];

  // Within the grace period a prune deletes nothing, and marks nothing
  // twice.
  clock_.Advance(std::chrono::minutes(59));
  PruneResult early = Prune(kHour);
  EXPECT_EQ(early.packs_deleted, 0u);
  EXPECT_TRUE(early.plan_id.empty());
  EXPECT_EQ(early.plans_waiting, 1u);
  EXPECT_EQ(Count("data/"), packs);

  clock_.Advance(std::chrono::minutes(2));
  PruneResult done = Prune(kHour);
  EXPECT_EQ(done.plans_completed, 1u);
  EXPECT_EQ(done.packs_deleted, marked.packs_unused);
  EXPECT_EQ(done.bytes_freed, marked.bytes_condemned);
  EXPECT_EQ(Count("data/"), packs - marked.packs_unused);
  EXPECT_EQ(Count("prune/"), 0u);
  EXPECT_EQ(Count("locks/"), 0u);
  ExpectRestores(s3);
  ExpectSound();
}

TEST_F(PrunerTest, SparselyUsedPacksAreRepacked) {
  Write("keep.bin", Random(1 << 20, 4));
  Write("drop.bin", Random(3 << 20, 5));
  const std::string s1 = Snap();
  fs::remove(src_ + "/drop.bin");
  Write("note.txt", "a day later");
  const std::string s2 = Snap();
  Forget(s1);
  const uint64_t before = [&] {
    uint64_t b = 0;
    (void)backend_->List("data/", [&](const storage::ObjectInfo& i) {
      b += i.size;
      return Status::OK();
    });
    return b;
  }();

  PruneResult r = Prune(kNoGrace);
  EXPECT_EQ(r.packs_repacked, 1u);
  EXPECT_EQ(r.packs_written, 1u);
  EXPECT_GT(r.bytes_written, 1u << 20);
  EXPECT_EQ(r.plans_completed, 1u);
  EXPECT_EQ(r.bytes_freed, r.bytes_condemned);
  uint64_t after = 0;
  ASSERT_TRUE(backend_
                  ->List("data/",
                         [&](const storage::ObjectInfo& i) {
                           after += i.size;
                           return Status::OK();
                         })
                  .ok());
  EXPECT_LT(after, before - (3u << 20) + (64u << 10));
  ExpectRestores(s2);
  ExpectSound();

  // With repacking off, a partly used pack stays as it is.
  Write("drop2.bin", Random(3 << 20, 6));
  const std::string s3 = Snap();
  fs::remove(src_ + "/drop2.bin");
  const std::string s4 = Snap();
  Forget(s3);
  PruneResult none = Prune(kNoGrace, /*repack=*/0);
  EXPECT_EQ(none.packs_repacked, 0u);
  ExpectRestores(s4);
  ExpectSound();
}

// Deltas need their bases and compressed pages their dictionary: forgetting
// the snapshots that stored those must not delete them.
TEST_F(PrunerTest, DeltaBasesAndDictionariesStay) {
  const std::string db = src_ + "/msgstore.db";
  Exec(db,
       "PRAGMA page_size=4096; CREATE TABLE m(id INTEGER PRIMARY KEY, t TEXT);"
       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n "
       "WHERE i < 12000) INSERT INTO m(t) SELECT printf('message %d from "
       "chat %d with some text', i, i % 17) FROM n;");
  std::vector<std::string> snaps = {Snap()};
  for (int day = 1; day <= 4; ++day) {
    Exec(db, "UPDATE m SET t = t || '!' WHERE id % " +
                 std::to_string(89 + day) + " = 0;");
    snaps.push_back(Snap());
  }
  // Keep only the newest: its pages are deltas against pages the first
  // backup stored, compressed with the first backup's dictionary.
  for (size_t i = 0; i + 1 < snaps.size(); ++i) Forget(snaps[i]);
  PruneResult r = Prune(kNoGrace, /*repack=*/1.0);
  EXPECT_GT(r.packs_repacked + r.packs_unused, 0u);
  EXPECT_EQ(r.plans_completed, 1u);
  ExpectRestores(snaps.back());
  ExpectSound();
  // A second prune finds everything used.
  PruneResult again = Prune(kNoGrace, /*repack=*/0.5);
  EXPECT_EQ(again.packs_unused, 0u);
  EXPECT_EQ(again.blobs_used, again.blobs);
  ExpectRestores(snaps.back());
}

// A backup that began before a prune marked data, and reused it, copies
// that data before it returns: the prune's later deletion loses nothing.
TEST_F(PrunerTest, BackupRacingAMarkCopiesWhatItReused) {
  Write("old.bin", Random(2 << 20, 7));
  const std::string s1 = Snap();
  Forget(s1);  // old.bin's blobs are now unused...
  bool pruned = false;
  PruneResult mark;
  // ...and a backup that still finds old.bin reuses them while a prune
  // (elsewhere) condemns them.
  const std::string s2 = Snap([&](const BackupProgress&) {
    if (pruned) return;
    pruned = true;
    mark = Prune(kHour);
  });
  ASSERT_TRUE(pruned);
  EXPECT_GE(mark.packs_unused, 1u);
  ASSERT_FALSE(last_warnings_.empty());
  EXPECT_NE(last_warnings_.back().find("copied"), std::string::npos);
  clock_.Advance(2 * kHour);
  PruneResult done = Prune(kHour);
  EXPECT_GE(done.packs_deleted, 1u);
  ExpectRestores(s2);
  ExpectSound();
}

// If the prune has already deleted what the backup reused, the backup
// withdraws its snapshot and says to run again; nothing else changes.
TEST_F(PrunerTest, BackupWithdrawsItsSnapshotWhenReusedDataIsGone) {
  Write("old.bin", Random(2 << 20, 8));
  Write("kept.txt", "kept");
  const std::string s1 = Snap();
  Write("other.txt", "other");
  const std::string s2 = Snap();
  fs::remove(src_ + "/other.txt");
  Forget(s1);
  fs::remove(src_ + "/old.bin");
  const std::string s3 = Snap();  // s2 still uses old.bin
  Forget(s2);
  Write("old.bin", Random(2 << 20, 8));
  BackupOptions o;
  o.paths = {src_};
  bool pruned = false;
  Result<BackupResult> r = Backup(repo_.get(), o, [&](const BackupProgress&) {
    if (pruned) return;
    pruned = true;
    PruneResult p = Prune(kNoGrace);
    EXPECT_GE(p.packs_deleted, 1u);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("Run the backup again"),
            std::string::npos)
      << r.status().ToString();
  EXPECT_EQ(Count("snapshots/"), 1u);  // s3 only
  ExpectRestores(s3);
  ExpectSound();
  // The next run stores old.bin anew.
  const std::string s5 = Snap();
  ExpectRestores(s5);
  ExpectSound();
}

// A snapshot saved after the mark that uses condemned data (a backup
// between its own check and its snapshot) makes the re-check list the pack
// again instead of deleting it.
TEST_F(PrunerTest, TheReCheckKeepsWhatANewSnapshotUses) {
  Write("old.bin", Random(2 << 20, 9));
  const std::string s1 = Snap();
  pb::Snapshot snap;
  ASSERT_TRUE(
      repo_->LoadObject(ObjectType::kSnapshot, "snapshots", s1, &snap).ok());
  Forget(s1);
  PruneResult mark = Prune(kHour);
  ASSERT_GE(mark.packs_unused, 1u);
  const size_t packs = Count("data/");
  Result<std::string> s2 =
      repo_->SaveObject(ObjectType::kSnapshot, "snapshots", snap);
  ASSERT_TRUE(s2.ok());
  held_[*s2] = held_[s1];
  clock_.Advance(2 * kHour);
  PruneResult done = Prune(kHour);
  EXPECT_EQ(done.plans_completed, 1u);
  EXPECT_GE(done.packs_listed_again, 1u);
  EXPECT_EQ(Count("data/"), packs - done.packs_deleted);
  ExpectRestores(*s2);
  ExpectSound();
}

TEST_F(PrunerTest, PacksInNoIndexWaitAnHourWhateverTheGrace) {
  Write("a.txt", "a");
  const std::string s1 = Snap();
  // A pack a backup uploaded and has not indexed yet (or never will).
  crypto::Digest256 id{};
  id[0] = std::byte{0xab};
  ASSERT_TRUE(backend_
                  ->Save(PackName(id), AsBytes(std::string(1000, 'x')),
                         storage::SaveMode::kCreateIfAbsent)
                  .ok());
  PruneResult r = Prune(kNoGrace);
  EXPECT_EQ(r.packs_unindexed, 1u);
  EXPECT_EQ(r.packs_deleted, 0u);
  EXPECT_TRUE(backend_->Stat(PackName(id)).ok());
  clock_.Advance(std::chrono::minutes(61));
  r = Prune(kNoGrace);
  EXPECT_EQ(r.packs_deleted, 1u);
  EXPECT_EQ(r.bytes_freed, 1000u);
  EXPECT_EQ(backend_->Stat(PackName(id)).status().code(),
            StatusCode::kNotFound);
  ExpectRestores(s1);
}

// A pack whose index arrives after a prune saw it unindexed (a backup
// between its pack and its index) is kept when the plan completes.
TEST_F(PrunerTest, APackIndexedAfterTheMarkIsKept) {
  Write("a.bin", Random(1 << 20, 13));
  const std::string s1 = Snap();
  const std::map<std::string, Bytes> saved = Objects("index/");
  for (const auto& [name, bytes] : saved) {
    ASSERT_TRUE(backend_->Remove(name).ok());
  }
  Forget(s1);  // nothing to walk: the packs are simply in no index
  PruneResult r = Prune(kNoGrace);
  EXPECT_GE(r.packs_unindexed, 1u);
  // The index arrives late; the snapshot too.
  for (const auto& [name, bytes] : saved) {
    ASSERT_TRUE(
        backend_->Save(name, bytes, storage::SaveMode::kCreateIfAbsent).ok());
  }
  const std::string s2 = Snap();
  clock_.Advance(std::chrono::minutes(61));
  r = Prune(kNoGrace);
  EXPECT_EQ(r.packs_deleted, 0u);
  ExpectRestores(s2);
  ExpectSound();
}

// A mark that stopped after its plan and before the index superseding the
// old ones leaves them in force: completing the plan deletes nothing they
// list.
TEST_F(PrunerTest, AMarkThatStoppedBeforeItsIndexDeletesNothingInUse) {
  Write("keep.bin", Random(1 << 20, 14));
  Write("drop.bin", Random(3 << 20, 15));
  const std::string s1 = Snap();
  fs::remove(src_ + "/drop.bin");
  const std::string s2 = Snap();
  Forget(s1);
  const std::map<std::string, Bytes> before = Objects("index/");
  PruneResult mark = Prune(kHour);
  ASSERT_GE(mark.packs_repacked + mark.packs_unused, 1u);
  // Undo what came after the plan: the new indexes, the deletions.
  for (const auto& [name, bytes] : Objects("index/")) {
    ASSERT_TRUE(backend_->Remove(name).ok());
  }
  for (const auto& [name, bytes] : before) {
    ASSERT_TRUE(
        backend_->Save(name, bytes, storage::SaveMode::kCreateIfAbsent).ok());
  }
  clock_.Advance(2 * kHour);
  PruneResult done = Prune(kHour);
  EXPECT_EQ(done.plans_completed, 1u);
  EXPECT_EQ(done.packs_deleted, 0u);  // then marks anew, properly
  EXPECT_FALSE(done.plan_id.empty());
  ExpectRestores(s2);
  ExpectSound();
}

TEST_F(PrunerTest, DamageStopsThePruneBeforeItDeletesAnything) {
  Write("a.bin", Random(1 << 20, 10));
  const std::string s1 = Snap();
  const std::map<std::string, Bytes> first_indexes = Objects("index/");
  Write("b.bin", Random(1 << 20, 11));
  Snap();
  Forget(s1);
  // Lose the indexes of the first backup, whose a.bin the second uses.
  for (const auto& [name, bytes] : first_indexes) {
    ASSERT_TRUE(backend_->Remove(name).ok());
  }
  const size_t before = Count("");
  PruneOptions o;
  o.grace = kNoGrace;
  o.clock = &clock_;
  // While the snapshot is young, a backup may still be securing it: a
  // retryable failure.
  Result<PruneResult> r = backup::Prune(repo_.get(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Count(""), before);
  clock_.Advance(std::chrono::minutes(20));
  r = backup::Prune(repo_.get(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("chatvault check"), std::string::npos);
  EXPECT_EQ(Count(""), before);  // the lock is gone, nothing else changed
}

TEST_F(PrunerTest, DryRunChangesNothing) {
  Write("a.bin", Random(1 << 20, 12));
  const std::string s1 = Snap();
  fs::remove(src_ + "/a.bin");
  Snap();
  Forget(s1);
  const size_t before = Count("");
  PruneOptions o;
  o.dry_run = true;
  o.clock = &clock_;
  Result<PruneResult> r = backup::Prune(repo_.get(), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GE(r->packs_unused + r->packs_repacked, 1u);
  EXPECT_GT(r->bytes_condemned, 0u);
  EXPECT_TRUE(r->plan_id.empty());
  EXPECT_EQ(Count(""), before);
}

// Backups and prunes (with forgets) at the same time, on a directory
// repository: every snapshot left restores exactly, and the repository
// checks clean. A backup may be withdrawn (and is then retried), never
// left incomplete.
TEST_F(PrunerTest, ConcurrentBackupsAndPrunesLoseNothing) {
  auto local = storage::LocalBackend::Open(dir_ + "/repo");
  ASSERT_TRUE(local.ok());
  std::unique_ptr<storage::LocalBackend> backend = std::move(*local);
  Open(backend.get());
  std::mutex mu;
  std::atomic<bool> done{false};
  int withdrawn = 0, prunes = 0;
  std::thread backups([&] {
    for (int round = 0; round < 12; ++round) {
      // Files come, change and go; some come back with old contents.
      Write("f" + std::to_string(round % 4) + ".bin",
            Random(256 << 10, 100 + round % 6));
      if (round % 3 == 2)
        fs::remove(src_ + "/f" + std::to_string((round + 1) % 4) + ".bin");
      BackupOptions o;
      o.paths = {src_};
      Files now = ReadTree(src_);
      Result<BackupResult> r = Backup(repo_.get(), o);
      if (!r.ok()) {
        EXPECT_EQ(r.status().code(), StatusCode::kUnavailable)
            << r.status().ToString();
        std::lock_guard lock(mu);
        ++withdrawn;
        continue;
      }
      std::lock_guard lock(mu);
      held_[r->snapshot_id] = std::move(now);
    }
    done = true;
  });
  std::thread pruner([&] {
    while (!done) {
      // Forget all but the two newest snapshots, then prune at once.
      std::vector<std::pair<uint64_t, std::string>> snaps;
      (void)backend_->List("snapshots/", [&](const storage::ObjectInfo& i) {
        pb::Snapshot s;
        std::string id = i.name.substr(10);
        if (repo_->LoadObject(ObjectType::kSnapshot, "snapshots", id, &s)
                .ok()) {
          snaps.emplace_back(s.time_unix_ms(), id);
        }
        return Status::OK();
      });
      std::sort(snaps.begin(), snaps.end());
      for (size_t i = 0; i + 2 < snaps.size(); ++i) {
        (void)backend_->Remove("snapshots/" + snaps[i].second);
      }
      PruneOptions o;
      o.grace = kNoGrace;
      Result<PruneResult> r = backup::Prune(repo_.get(), o);
      // A snapshot a backup is still securing stops a prune, as a retryable
      // failure; anything else is a defect.
      EXPECT_TRUE(r.ok() || r.status().code() == StatusCode::kUnavailable)
          << r.status().ToString();
      ++prunes;
    }
  });
  backups.join();
  pruner.join();
  EXPECT_GT(prunes, 1);
  RecordProperty("prunes", prunes);
  RecordProperty("withdrawn", withdrawn);
  // One last prune with nothing running, then every snapshot left.
  Prune(kNoGrace);
  size_t restored = 0;
  (void)backend_->List("snapshots/", [&](const storage::ObjectInfo& i) {
    ExpectRestores(i.name.substr(10));
    ++restored;
    return Status::OK();
  });
  EXPECT_GE(restored, 1u);
  ExpectSound();
  repo_.reset();
}

TEST(LockTest, ASecondHolderIsToldWhoHasItAndWhatToDo) {
  storage::MemBackend backend;
  auto repo =
      Repository::Init(&backend, AsBytes("pw"),
                       crypto::RecoveryCode::Generate(), testing::FastInit());
  ASSERT_TRUE(repo.ok());
  FakeClock clock;
  clock.SetWall(std::chrono::system_clock::now());
  auto first = RepositoryLock::Acquire(repo->get(), "prune", nullptr, &clock);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = RepositoryLock::Acquire(repo->get(), "prune", nullptr, &clock);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kLocked);
  EXPECT_NE(second.status().message().find("chatvault unlock"),
            std::string::npos);
  EXPECT_NE(
      second.status().message().find("process " + std::to_string(::getpid())),
      std::string::npos);
  // A prune is refused the same way.
  PruneOptions o;
  o.clock = &clock;
  EXPECT_EQ(Prune(repo->get(), o).status().code(), StatusCode::kLocked);
  // unlock refuses a live holder without --force.
  EXPECT_EQ(BreakLock(repo->get(), "prune", false, &clock).status().code(),
            StatusCode::kLocked);
  EXPECT_TRUE((*first)->Refresh().ok());
  first->reset();  // released
  auto third = RepositoryLock::Acquire(repo->get(), "prune", nullptr, &clock);
  EXPECT_TRUE(third.ok());
}

TEST(LockTest, ALockNotRefreshedForHalfAnHourIsTakenOver) {
  storage::MemBackend backend;
  auto repo =
      Repository::Init(&backend, AsBytes("pw"),
                       crypto::RecoveryCode::Generate(), testing::FastInit());
  ASSERT_TRUE(repo.ok());
  FakeClock clock;
  clock.SetWall(std::chrono::system_clock::now());
  auto first = RepositoryLock::Acquire(repo->get(), "prune", nullptr, &clock);
  ASSERT_TRUE(first.ok());
  clock.Advance(std::chrono::minutes(29));
  EXPECT_FALSE(
      RepositoryLock::Acquire(repo->get(), "prune", nullptr, &clock).ok());
  clock.Advance(std::chrono::minutes(2));
  std::vector<std::string> notes;
  auto second = RepositoryLock::Acquire(repo->get(), "prune", &notes, &clock);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("stale"), std::string::npos);
  // The first holder finds out before it deletes anything more...
  Status lost = (*first)->Refresh();
  EXPECT_EQ(lost.code(), StatusCode::kLocked);
  // ...and, going away, leaves the new holder's lock alone.
  first->reset();
  EXPECT_TRUE((*second)->Refresh().ok());
  EXPECT_FALSE(
      RepositoryLock::Acquire(repo->get(), "prune", nullptr, &clock).ok());
}

TEST(LockTest, ALockWhoseProcessIsGoneIsStale) {
  char tmpl[] = "/tmp/chatvault-lock-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    auto backend = storage::LocalBackend::Open(dir);
    ASSERT_TRUE(backend.ok());
    auto repo =
        Repository::Init(backend->get(), AsBytes("pw"),
                         crypto::RecoveryCode::Generate(), testing::FastInit());
    ASSERT_TRUE(repo.ok());
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // Takes the lock and dies holding it.
      auto lock = RepositoryLock::Acquire(repo->get(), "prune");
      if (lock.ok()) (void)lock->release();
      ::_exit(lock.ok() ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    auto held = ReadLock(repo->get(), "prune");
    ASSERT_TRUE(held.ok() && held->has_value());
    EXPECT_NE((*held)->stale.find("is gone"), std::string::npos);
    auto removed = BreakLock(repo->get(), "prune", false);
    ASSERT_TRUE(removed.ok()) << removed.status().ToString();
    EXPECT_TRUE(removed->has_value());
    auto again = ReadLock(repo->get(), "prune");
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->has_value());
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace chatvault::backup
