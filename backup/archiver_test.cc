// Backup and restore round trips on generated trees, compared byte for byte
// with their metadata; deduplication; interrupted backups; hostile names.
#include "backup/archiver.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "backup/blob_store.h"
#include "backup/restorer.h"
#include "backup/test_util.h"
#include "storage/fault_backend.h"
#include "storage/mem_backend.h"

namespace chatvault::backup {
namespace {

namespace fs = std::filesystem;

InitOptions SmallChunks() { return testing::FastInit({4096, 16384, 65536, 1}); }

std::string RandomText(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

void WriteFile(const std::string& path, const std::string& content, mode_t mode,
               int64_t mtime_s) {
  std::ofstream(path, std::ios::binary) << content;
  ::chmod(path.c_str(), mode);
  struct timespec ts[2] = {{mtime_s, 123456789}, {mtime_s, 123456789}};
  ::utimensat(AT_FDCWD, path.c_str(), ts, 0);
}

class ArchiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cvarchXXXXXX";
    dir_ = mkdtemp(tmpl);
    src_ = dir_ + "/src";
    fs::create_directories(src_ + "/chats/Media/Sent");
    fs::create_directories(src_ + "/empty-dir");
    WriteFile(src_ + "/chats/msgstore.db", RandomText(300'000, 1), 0600,
              1'700'000'000);
    WriteFile(src_ + "/chats/Media/photo 1.jpg", RandomText(150'000, 2), 0644,
              1'600'000'000);
    WriteFile(src_ + "/chats/Media/Sent/ünïcødé 名前.txt", "hello", 0640,
              1'500'000'000);
    WriteFile(src_ + "/chats/empty", "", 0600, 1'400'000'000);
    WriteFile(src_ + "/chats/new\nline", "odd name", 0600, 1'400'000'000);
    // Sparse: a hole between two written regions.
    {
      std::ofstream f(src_ + "/chats/sparse", std::ios::binary);
      f << "head";
      f.seekp(1 << 20);
      f << "tail";
    }
    ::symlink("msgstore.db", (src_ + "/chats/link").c_str());
    ::chmod((src_ + "/chats/Media").c_str(), 0750);
    Result<std::unique_ptr<Repository>> r =
        Repository::Init(&backend_, AsBytes("pw"),
                         crypto::RecoveryCode::Generate(), SmallChunks());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    repo_ = std::move(*r);
  }
  void TearDown() override { fs::remove_all(dir_); }

  BackupResult BackupOk() {
    BackupOptions o;
    o.paths = {src_};
    Result<BackupResult> r = Backup(repo_.get(), o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : BackupResult{};
  }

  // Compares two trees: contents byte for byte, modes, mtimes, link targets.
  static void ExpectSameTree(const std::string& a, const std::string& b) {
    for (auto it = fs::recursive_directory_iterator(a);
         it != fs::recursive_directory_iterator(); ++it) {
      std::string rel = it->path().lexically_relative(a).string();
      std::string other = b + "/" + rel;
      struct stat sa, sb;
      ASSERT_EQ(::lstat(it->path().c_str(), &sa), 0);
      ASSERT_EQ(::lstat(other.c_str(), &sb), 0) << "missing " << rel;
      EXPECT_EQ(sa.st_mode, sb.st_mode) << rel;
      if (S_ISLNK(sa.st_mode)) {
        EXPECT_EQ(fs::read_symlink(it->path()), fs::read_symlink(other)) << rel;
        continue;
      }
      EXPECT_EQ(sa.st_mtim.tv_sec, sb.st_mtim.tv_sec) << rel;
      EXPECT_EQ(sa.st_mtim.tv_nsec, sb.st_mtim.tv_nsec) << rel;
      if (S_ISREG(sa.st_mode)) {
        std::ifstream fa(it->path(), std::ios::binary),
            fb(other, std::ios::binary);
        std::string ca((std::istreambuf_iterator<char>(fa)), {});
        std::string cb((std::istreambuf_iterator<char>(fb)), {});
        EXPECT_TRUE(ca == cb) << rel;
      }
    }
  }

  std::string dir_, src_;
  storage::MemBackend backend_;
  std::unique_ptr<Repository> repo_;
};

TEST_F(ArchiverTest, RoundTripByteForByteWithMetadata) {
  BackupResult b = BackupOk();
  EXPECT_EQ(b.summary.files(), 6u);
  EXPECT_TRUE(b.unreadable.empty());
  Result<std::string> id = ResolveSnapshot(repo_.get(), "latest");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, b.snapshot_id);
  RestoreOptions o;
  o.target = dir_ + "/restore";
  Result<RestoreResult> r = Restore(repo_.get(), *id, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files, 6u);
  ExpectSameTree(src_, o.target + src_);
  // The hole stayed a hole.
  struct stat st;
  ASSERT_EQ(::stat((o.target + src_ + "/chats/sparse").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, (1 << 20) + 4);
  EXPECT_LT(st.st_blocks * 512, 1 << 19);
}

TEST_F(ArchiverTest, UnreadableFileIsReportedAndLeftOutOfTheSnapshot) {
  const std::string src = dir_ + "/partial";
  fs::create_directories(src);
  const std::string content = RandomText(10'000, 3);
  WriteFile(src + "/readable", content, 0600, 1'700'000'000);
  WriteFile(src + "/locked", "private", 0600, 1'700'000'000);
  if (::geteuid() == 0) {
    for (const std::string& p :
         {dir_, src, src + "/readable", src + "/locked"}) {
      ASSERT_EQ(::chown(p.c_str(), testing::kNobody, testing::kNobody), 0) << p;
    }
  }
  ASSERT_EQ(::chmod((src + "/locked").c_str(), 0), 0);
  BackupOptions o;
  o.paths = {src};
  std::optional<Result<BackupResult>> b;
  {
    testing::ScopedEffectiveId nobody(testing::kNobody);
    b.emplace(Backup(repo_.get(), o));
  }
  ASSERT_TRUE(b->ok()) << b->status().ToString();
  const BackupResult& r = **b;
  ASSERT_EQ(r.unreadable.size(), 1u);
  EXPECT_EQ(r.unreadable[0].rfind(src + "/locked: ", 0), 0u) << r.unreadable[0];
  EXPECT_EQ(r.summary.files(), 1u);
  EXPECT_EQ(*ResolveSnapshot(repo_.get(), "latest"), r.snapshot_id);
  RestoreOptions ro;
  ro.target = dir_ + "/restore";
  ASSERT_TRUE(Restore(repo_.get(), r.snapshot_id, ro).ok());
  std::ifstream f(ro.target + src + "/readable", std::ios::binary);
  EXPECT_TRUE(std::string((std::istreambuf_iterator<char>(f)), {}) == content);
  EXPECT_FALSE(fs::exists(ro.target + src + "/locked"));
}

TEST_F(ArchiverTest, SecondBackupStoresOnlyChanges) {
  BackupResult first = BackupOk();
  EXPECT_GT(first.pack_bytes_written, 450'000u);
  BackupResult same = BackupOk();
  // No file data again; at most the trees of the directories above the
  // backed-up path, whose mtimes other processes may change (/tmp).
  EXPECT_LT(same.pack_bytes_written, 4096u);
  // Change 100 bytes in the middle of the database: one or two chunks and
  // the trees above it are new.
  {
    std::fstream f(src_ + "/chats/msgstore.db",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(150'000);
    f << RandomText(100, 9);
  }
  BackupResult changed = BackupOk();
  EXPECT_GT(changed.pack_bytes_written, 0u);
  EXPECT_LT(changed.pack_bytes_written, 3 * 65536u);
  RestoreOptions o;
  o.target = dir_ + "/restore";
  ASSERT_TRUE(Restore(repo_.get(), changed.snapshot_id, o).ok());
  ExpectSameTree(src_, o.target + src_);
}

TEST_F(ArchiverTest, InterruptedBackupResumesWithoutReuploading) {
  // A backup whose snapshot (the last write) fails leaves its packs and
  // indexes; the rerun finds every blob and uploads no pack.
  storage::FaultBackend faulty(std::make_unique<storage::MemBackend>());
  Result<std::unique_ptr<Repository>> r = Repository::Init(
      &faulty, AsBytes("pw"), crypto::RecoveryCode::Generate(), SmallChunks());
  ASSERT_TRUE(r.ok());
  storage::FaultConfig c;
  c.ops = storage::OpBit(storage::OpKind::kSave);
  c.code = StatusCode::kIOError;
  // Saves: one pack and one index per 16 MiB; here one pack, one index, then
  // the snapshot as the third save.
  c.fail_nth = 3;
  faulty.Configure(c);
  BackupOptions o;
  o.paths = {src_};
  Result<BackupResult> failed = Backup(r->get(), o);
  EXPECT_EQ(failed.status().code(), StatusCode::kIOError)
      << failed.status().ToString();
  faulty.Configure({});
  Result<BackupResult> again = Backup(r->get(), o);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_LT(again->pack_bytes_written, 4096u);  // trees above /tmp at most
  RestoreOptions ro;
  ro.target = dir_ + "/restore";
  ASSERT_TRUE(Restore(r->get(), again->snapshot_id, ro).ok());
  ExpectSameTree(src_, ro.target + src_);
}

TEST_F(ArchiverTest, FileCacheSkipsUnchangedFilesAndSurvivesStaleness) {
  BackupOptions o;
  o.paths = {src_};
  o.cache_dir = dir_ + "/cache";
  // Files changed within the last second are never cached ("racy": a
  // same-size write could leave their timestamps as they are).
  Result<BackupResult> racy = Backup(repo_.get(), o);
  ASSERT_TRUE(racy.ok());
  EXPECT_EQ(Backup(repo_.get(), o)->files_unchanged, 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  Result<BackupResult> first = Backup(repo_.get(), o);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->files_unchanged, 0u);
  EXPECT_TRUE(first->warnings.empty());

  Result<BackupResult> second = Backup(repo_.get(), o);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->files_unchanged, 6u);
  EXPECT_EQ(second->summary.bytes(), 0u);  // nothing read

  // A changed file is read again, the others are not.
  WriteFile(src_ + "/chats/Media/photo 1.jpg", RandomText(150'000, 77), 0644,
            1'650'000'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  Result<BackupResult> third = Backup(repo_.get(), o);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->files_unchanged, 5u);
  EXPECT_EQ(third->summary.bytes(), 150'000u);

  // A stale cache (its blobs gone from the repository) is ignored.
  std::vector<std::string> gone;
  for (const char* prefix : {"data/", "index/"}) {
    ASSERT_TRUE(backend_
                    .List(prefix,
                          [&](const storage::ObjectInfo& i) {
                            gone.push_back(i.name);
                            return Status::OK();
                          })
                    .ok());
  }
  ASSERT_TRUE(backend_.RemoveMany(gone).ok());
  Result<BackupResult> fourth = Backup(repo_.get(), o);
  ASSERT_TRUE(fourth.ok());
  // Only the empty file, which names no blobs, may come from the cache.
  EXPECT_EQ(fourth->files_unchanged, 1u);
  EXPECT_EQ(fourth->summary.bytes(), first->summary.bytes());
  RestoreOptions ro;
  ro.target = dir_ + "/restore";
  ASSERT_TRUE(Restore(repo_.get(), fourth->snapshot_id, ro).ok());
  ExpectSameTree(src_, ro.target + src_);

  // A damaged cache is rebuilt, not fatal.
  for (const auto& e : fs::recursive_directory_iterator(o.cache_dir)) {
    if (e.is_regular_file())
      std::ofstream(e.path(), std::ios::binary) << "garbage";
  }
  Result<BackupResult> fifth = Backup(repo_.get(), o);
  ASSERT_TRUE(fifth.ok()) << fifth.status().ToString();
  EXPECT_EQ(fifth->files_unchanged, 0u);
  EXPECT_TRUE(fifth->warnings.empty());
  Result<BackupResult> sixth = Backup(repo_.get(), o);
  ASSERT_TRUE(sixth.ok());
  EXPECT_EQ(sixth->files_unchanged, 6u);
}

// Regression: a pack upload failing while files were being read was taken
// for an unreadable source file, and the backup saved a snapshot naming
// blobs that were never stored.
TEST_F(ArchiverTest, RepositoryFailureMidBackupFailsTheBackup) {
  WriteFile(src_ + "/chats/big", RandomText(20 << 20, 5), 0600, 1'700'000'000);
  storage::FaultBackend faulty(std::make_unique<storage::MemBackend>());
  Result<std::unique_ptr<Repository>> r = Repository::Init(
      &faulty, AsBytes("pw"), crypto::RecoveryCode::Generate(), SmallChunks());
  ASSERT_TRUE(r.ok());
  storage::FaultConfig c;
  c.ops = storage::OpBit(storage::OpKind::kSave);
  c.code = StatusCode::kIOError;
  c.fail_nth = 1;  // the first pack, uploaded while "big" is being read
  faulty.Configure(c);
  BackupOptions o;
  o.paths = {src_};
  Result<BackupResult> b = Backup(r->get(), o);
  EXPECT_EQ(b.status().code(), StatusCode::kIOError) << b.status().ToString();
  faulty.Configure({});
  int snapshots = 0;
  ASSERT_TRUE(faulty
                  .List("snapshots/",
                        [&](const storage::ObjectInfo&) {
                          ++snapshots;
                          return Status::OK();
                        })
                  .ok());
  EXPECT_EQ(snapshots, 0);
}

TEST_F(ArchiverTest, UnsafeNamesFromTheRepositoryAreRefused) {
  std::set<std::string> before = {"restore-evil"};
  for (const auto& e : fs::directory_iterator(dir_)) {
    before.insert(e.path().filename().string());
  }
  for (const char* evil : {"..", ".", "", "a/b"}) {
    pb::Tree tree;
    pb::Node* n = tree.add_nodes();
    n->set_name(evil);
    n->set_type(pb::NODE_TYPE_FILE);
    std::string bytes = tree.SerializeAsString();
    crypto::Digest256 id = BlobId(repo_->keys().blob_id_key(), AsBytes(bytes));
    Result<std::unique_ptr<BlobStore>> store = BlobStore::Open(repo_.get());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Add(pb::BLOB_TYPE_TREE, id, AsBytes(bytes)).ok());
    ASSERT_TRUE((*store)->Flush().ok());
    pb::Snapshot snap;
    snap.set_tree(std::string(AsChars(id)));
    Result<std::string> sid =
        repo_->SaveObject(ObjectType::kSnapshot, "snapshots", snap);
    ASSERT_TRUE(sid.ok());
    RestoreOptions o;
    o.target = dir_ + "/restore-evil";
    Result<RestoreResult> r = Restore(repo_.get(), *sid, o);
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << evil;
    // Nothing was written, inside the target or next to it.
    EXPECT_TRUE(fs::is_empty(o.target)) << evil;
  }
  std::set<std::string> entries;
  for (const auto& e : fs::directory_iterator(dir_)) {
    entries.insert(e.path().filename().string());
  }
  EXPECT_EQ(entries, std::set<std::string>(before.begin(), before.end()));
}

TEST_F(ArchiverTest, DamagedPackIsDetectedOnRestore) {
  BackupOk();
  std::string pack;
  ASSERT_TRUE(backend_
                  .List("data/",
                        [&](const storage::ObjectInfo& i) {
                          pack = i.name;
                          return Status::OK();
                        })
                  .ok());
  Bytes data = *backend_.Load(pack, 0, storage::kToEnd);
  data[100] ^= std::byte{0x01};
  ASSERT_TRUE(backend_.Save(pack, data, storage::SaveMode::kOverwrite).ok());
  RestoreOptions o;
  o.target = dir_ + "/restore";
  Result<RestoreResult> r =
      Restore(repo_.get(), *ResolveSnapshot(repo_.get(), "latest"), o);
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption)
      << r.status().ToString();
}

}  // namespace
}  // namespace chatvault::backup
