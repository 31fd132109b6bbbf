// Capturing live SQLite databases: header recognition, what a capture holds
// still (and what it lets the app do meanwhile), and backups taken while
// another process commits, in rollback-journal and WAL modes, restored and
// checked with PRAGMA integrity_check and an invariant every commit keeps.
#include "backup/sqlite_capture.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "backup/archiver.h"
#include "backup/restorer.h"
#include "backup/test_util.h"
#include "storage/mem_backend.h"

namespace chatvault::backup {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

class Db {
 public:
  explicit Db(const std::string& path, int busy_ms = 5000) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, busy_ms);
  }
  ~Db() { sqlite3_close_v2(db_); }
  int Exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }
  int64_t Int(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      v = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return v;
  }
  std::string Text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    std::string v;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    return v;
  }

 private:
  sqlite3* db_ = nullptr;
};

// A chat-like database whose every commit keeps an invariant: the counter
// row equals the number of messages and the sum of their lengths.
void CreateChatDb(const std::string& path, bool wal, int page_size = 4096) {
  Db db(path);
  ASSERT_EQ(db.Exec("PRAGMA page_size=" + std::to_string(page_size)),
            SQLITE_OK);
  if (wal) {
    ASSERT_EQ(db.Text("PRAGMA journal_mode=WAL"), "wal");
    // Leave frames in the WAL, as a busy app does between checkpoints.
    db.Exec("PRAGMA wal_autocheckpoint=0");
  }
  ASSERT_EQ(db.Exec("CREATE TABLE message(id INTEGER PRIMARY KEY, "
                    "chat INTEGER, text TEXT);"
                    "CREATE INDEX by_chat ON message(chat);"
                    "CREATE TABLE counter(n INTEGER, bytes INTEGER);"
                    "INSERT INTO counter VALUES(0, 0);"),
            SQLITE_OK);
}

// One commit: a message, an edit of an older one, the counter.
int Commit(Db& db, int64_t i) {
  std::string text(static_cast<size_t>(40 + i % 300), 'a' + i % 26);
  std::string sql =
      "BEGIN IMMEDIATE;"
      "INSERT INTO message(chat, text) VALUES(" +
      std::to_string(i % 17) + ", '" + text +
      "');"
      "UPDATE message SET text = text WHERE id = " +
      std::to_string(1 + (i * 7919) % (i + 1)) +
      ";"
      "UPDATE counter SET n = n + 1, bytes = bytes + " +
      std::to_string(text.size()) +
      ";"
      "COMMIT;";
  int rc = db.Exec(sql);
  if (rc != SQLITE_OK) db.Exec("ROLLBACK");
  return rc;
}

// Whether the database at `path` is sound and at one committed state.
void ExpectConsistent(const std::string& path, int64_t* messages = nullptr) {
  Db db(path);
  EXPECT_EQ(db.Text("PRAGMA integrity_check"), "ok") << path;
  int64_t n = db.Int("SELECT n FROM counter");
  EXPECT_EQ(n, db.Int("SELECT count(*) FROM message")) << path;
  EXPECT_EQ(db.Int("SELECT bytes FROM counter"),
            db.Int("SELECT coalesce(sum(length(text)), 0) FROM message"))
      << path;
  if (messages) *messages = n;
}

class SqliteCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/chatvault-sqlite-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The app's directory, as backed up.
  std::string src() const { return dir_ + "/app"; }

  // src()/<name>: a chat database that `commits` commits have written.
  std::string MakeAppDb(const std::string& name, bool wal, int commits,
                        int page_size = 4096) {
    fs::create_directories(src());
    const std::string path = src() + "/" + name;
    CreateChatDb(path, wal, page_size);
    Db app(path);
    for (int i = 0; i < commits; ++i) EXPECT_EQ(Commit(app, i), SQLITE_OK);
    return path;
  }

  // A repository in memory that unlocks quickly.
  Repository* NewRepo(const InitOptions& init = testing::FastInit()) {
    Result<std::unique_ptr<Repository>> r = Repository::Init(
        &backend_, AsBytes("pw"), crypto::RecoveryCode::Generate(), init);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    repo_ = r.ok() ? std::move(*r) : nullptr;
    return repo_.get();
  }

  // A snapshot of src().
  Result<BackupResult> BackUpApp() {
    BackupOptions o;
    o.paths = {src()};
    return Backup(repo_.get(), o);
  }

  std::string dir_;
  storage::MemBackend backend_;
  std::unique_ptr<Repository> repo_;
};

TEST_F(SqliteCaptureTest, RecognisesDatabaseHeaders) {
  for (int page : {512, 4096, 65536}) {
    const std::string path = dir_ + "/p" + std::to_string(page) + ".db";
    CreateChatDb(path, /*wal=*/page == 4096, page);
    std::string head = ReadAll(path).substr(0, kSqliteHeaderBytes);
    std::optional<SqliteHeader> h = ParseSqliteHeader(AsBytes(head));
    ASSERT_TRUE(h) << page;
    EXPECT_EQ(h->page_size, static_cast<uint32_t>(page));
    EXPECT_EQ(h->wal, page == 4096);
    // Damaged or foreign headers are not databases.
    std::string bad = head;
    bad[16] = 0x0b;  // 0x0b00 = 2816, not a power of two
    EXPECT_FALSE(ParseSqliteHeader(AsBytes(bad)));
    bad = head;
    bad[3] = 'l';
    EXPECT_FALSE(ParseSqliteHeader(AsBytes(bad)));
    EXPECT_FALSE(ParseSqliteHeader(AsBytes(head.substr(0, 99))));
  }
  EXPECT_EQ(SqliteCompanionSuffix("msgstore.db-wal"), "-wal");
  EXPECT_EQ(SqliteCompanionSuffix("msgstore.db-shm"), "-shm");
  EXPECT_EQ(SqliteCompanionSuffix("msgstore.db-journal"), "-journal");
  EXPECT_EQ(SqliteCompanionSuffix("-wal"), "");
  EXPECT_EQ(SqliteCompanionSuffix("msgstore.db"), "");
}

TEST_F(SqliteCaptureTest, RollbackJournalDatabaseIsHeldWhileCaptured) {
  const std::string path = dir_ + "/chat.db";
  CreateChatDb(path, /*wal=*/false);
  Db app(path, /*busy_ms=*/0);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(Commit(app, i), SQLITE_OK);
  {
    Result<std::unique_ptr<SqliteCapture>> c =
        SqliteCapture::Begin(path, milliseconds(2000));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_FALSE((*c)->wal());
    EXPECT_EQ((*c)->page_size(), 4096u);
    EXPECT_EQ((*c)->size(), fs::file_size(path));
    const std::string before = ReadAll(path);
    // The app cannot commit while the file is read.
    EXPECT_EQ(Commit(app, 200) & 0xff, SQLITE_BUSY);
    EXPECT_EQ(ReadAll(path), before);
  }
  EXPECT_EQ(Commit(app, 200), SQLITE_OK);
}

TEST_F(SqliteCaptureTest, WalDatabaseIsPinnedWhileTheAppGoesOnWriting) {
  const std::string path = dir_ + "/chat.db";
  CreateChatDb(path, /*wal=*/true);
  Db app(path, /*busy_ms=*/0);
  app.Exec("PRAGMA wal_autocheckpoint=0");
  for (int i = 0; i < 300; ++i) ASSERT_EQ(Commit(app, i), SQLITE_OK);
  ASSERT_GT(fs::file_size(path + "-wal"), 0u);
  Result<std::unique_ptr<SqliteCapture>> c =
      SqliteCapture::Begin(path, milliseconds(2000));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE((*c)->wal());
  const std::string captured = ReadAll(path).substr(0, (*c)->size());
  // The app commits and checkpoints freely; the file does not change.
  for (int i = 300; i < 400; ++i) ASSERT_EQ(Commit(app, i), SQLITE_OK);
  app.Exec("PRAGMA wal_checkpoint(PASSIVE)");
  EXPECT_EQ(ReadAll(path).substr(0, (*c)->size()), captured);
  c->reset();
  // The captured bytes alone are the database with its 300 commits, though
  // they were in the WAL when the capture began.
  const std::string copy = dir_ + "/copy.db";
  std::ofstream(copy, std::ios::binary) << captured;
  int64_t n = 0;
  ExpectConsistent(copy, &n);
  EXPECT_EQ(n, 300);
}

TEST_F(SqliteCaptureTest, NotADatabaseIsInvalidArgument) {
  const std::string path = dir_ + "/fake.db";
  std::string head(4096, '\0');
  std::memcpy(head.data(), "SQLite format 3", 16);
  head[16] = 0x10;  // 4096
  head[18] = head[19] = 1;
  std::ofstream(path, std::ios::binary) << head << std::string(8192, 'x');
  Result<std::unique_ptr<SqliteCapture>> c =
      SqliteCapture::Begin(path, milliseconds(500));
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument)
      << c.status().ToString();
}

// A child process that commits as fast as it can, until this object (or
// the test process) goes away.
class Writer {
 public:
  explicit Writer(const std::string& path) : pid_(::fork()) {
    if (pid_ == 0) Run(path);
  }
  ~Writer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }

 private:
  [[noreturn]] static void Run(const std::string& path) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Not the test's output: an orphan must not hold the pipe open.
    ::close(STDOUT_FILENO);
    ::close(STDERR_FILENO);
    Db db(path, /*busy_ms=*/10000);
    db.Exec("PRAGMA wal_autocheckpoint=100");
    // Commits back to back, with the short pauses of a busy app (a
    // writer that never pauses starves every other writer in rollback
    // mode, the test's own included).
    for (int64_t i = 1'000'000;; ++i) {
      Commit(db, i);
      ::usleep(500);
    }
  }
  pid_t pid_;
};

class LiveBackupTest : public SqliteCaptureTest,
                       public ::testing::WithParamInterface<bool> {};

TEST_P(LiveBackupTest, BackupsWhileTheAppCommitsRestoreConsistentStates) {
  const std::string db_path = MakeAppDb("msgstore.db", GetParam(), 0);
  {
    Db app(db_path);
    ASSERT_EQ(app.Exec("CREATE TABLE marker(round INTEGER)"), SQLITE_OK);
    for (int i = 0; i < 2000; ++i) ASSERT_EQ(Commit(app, i), SQLITE_OK);
  }
  Repository* repo = NewRepo();
  ASSERT_NE(repo, nullptr);

  std::optional<Writer> writer(std::in_place, db_path);
  ASSERT_GT(writer->pid(), 0);
  std::vector<std::string> snapshots;
  Db marker(db_path, /*busy_ms=*/10000);
  for (int round = 0; round < 4; ++round) {
    std::this_thread::sleep_for(milliseconds(150));
    // Committed before the backup starts, so every capture must hold it
    // (a stale state, such as the last checkpoint's, would not).
    ASSERT_EQ(
        marker.Exec("INSERT INTO marker VALUES(" + std::to_string(round) + ")"),
        SQLITE_OK);
    Result<BackupResult> r = BackUpApp();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->warnings.empty()) << r->warnings.front();
    EXPECT_TRUE(r->unreadable.empty());
    snapshots.push_back(r->snapshot_id);
  }
  writer.reset();

  std::set<int64_t> states;
  for (size_t i = 0; i < snapshots.size(); ++i) {
    RestoreOptions o;
    o.target = dir_ + "/restore" + std::to_string(i);
    Result<RestoreResult> r = Restore(repo, snapshots[i], o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const std::string restored = o.target + db_path;
    // The companions are not in the snapshot: the database alone is whole.
    EXPECT_FALSE(fs::exists(restored + "-wal"));
    EXPECT_FALSE(fs::exists(restored + "-journal"));
    int64_t n = 0;
    ExpectConsistent(restored, &n);
    EXPECT_GE(n, 2000);
    EXPECT_EQ(Db(restored).Int("SELECT max(round) FROM marker"),
              static_cast<int64_t>(i));
    states.insert(n);
  }
  // The writer got on between backups: they captured different states.
  EXPECT_GT(states.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Modes, LiveBackupTest, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "Wal" : "RollbackJournal";
                         });

// Pieces larger than the content-defined chunker's window (64 KiB pages,
// 64 pages a blob, 16 KiB chunks) must still be cut and round-trip.
TEST_F(SqliteCaptureTest, LargePagesAndSmallChunksRoundTrip) {
  const std::string db_path = MakeAppDb("big.db", /*wal=*/false, 3000, 65536);
  InitOptions init = testing::FastInit({4096, 16384, 65536, 1});
  init.sqlite_pages_per_blob = kMaxSqlitePagesPerBlob;
  Repository* repo = NewRepo(init);
  ASSERT_NE(repo, nullptr);
  Result<BackupResult> r = BackUpApp();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  RestoreOptions ro;
  ro.target = dir_ + "/restore";
  ASSERT_TRUE(Restore(repo, r->snapshot_id, ro).ok());
  EXPECT_EQ(ReadAll(ro.target + db_path), ReadAll(db_path));
  ExpectConsistent(ro.target + db_path);
}

// A restored database must not meet an older state's WAL or journal.
TEST_F(SqliteCaptureTest, RestoreRemovesOrRefusesStaleCompanions) {
  const std::string db_path = MakeAppDb("msgstore.db", /*wal=*/true, 500);
  Repository* repo = NewRepo();
  ASSERT_NE(repo, nullptr);
  Result<BackupResult> r = BackUpApp();
  ASSERT_TRUE(r.ok()) << r.status().ToString();

  // The app's directory in the target, at a later state: its WAL holds
  // commits the snapshot does not have.
  RestoreOptions ro;
  ro.target = dir_ + "/restore";
  const std::string restored = ro.target + db_path;
  fs::create_directories(fs::path(restored).parent_path());
  fs::copy_file(db_path, restored);
  {
    Db later(restored);
    later.Exec("PRAGMA wal_autocheckpoint=0");
    for (int i = 500; i < 900; ++i) ASSERT_EQ(Commit(later, i), SQLITE_OK);
    // Keep the WAL: copy it aside before the connection checkpoints it
    // away on close.
    fs::copy_file(restored + "-wal", dir_ + "/stale-wal");
  }
  fs::remove(restored);
  fs::copy_file(dir_ + "/stale-wal", restored + "-wal");

  // Without --overwrite the stale WAL is refused, and no database is put
  // beside it.
  Result<RestoreResult> refused = Restore(repo, r->snapshot_id, ro);
  EXPECT_EQ(refused.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(refused.status().message().find("-wal"), std::string::npos);
  EXPECT_FALSE(fs::exists(restored));

  // With it, the WAL goes and the database is the snapshot's.
  ro.overwrite = true;
  ASSERT_TRUE(Restore(repo, r->snapshot_id, ro).ok());
  EXPECT_FALSE(fs::exists(restored + "-wal"));
  int64_t n = 0;
  ExpectConsistent(restored, &n);
  EXPECT_EQ(n, 500);
}

TEST_F(SqliteCaptureTest, DatabasesAreMarkedAndRestoredFirstOrAlone) {
  const std::string db_path = MakeAppDb("msgstore.db", /*wal=*/true, 300);
  const std::string src = this->src();
  fs::create_directories(src + "/Media");
  std::ofstream(src + "/Media/photo.jpg", std::ios::binary)
      << std::string("\xFF\xD8\xFF\xE0", 4) << std::string(5000, 'p');
  std::ofstream(src + "/notes.txt") << "not a database";
  Repository* repo = NewRepo();
  ASSERT_NE(repo, nullptr);
  Result<BackupResult> r = BackUpApp();
  ASSERT_TRUE(r.ok()) << r.status().ToString();

  // Only the captured database carries its page size.
  std::set<std::string> marked;
  ASSERT_TRUE(ListSnapshot(repo, r->snapshot_id,
                           [&](const std::string& path, const pb::Node& n) {
                             if (n.sqlite_page_size() != 0) {
                               EXPECT_EQ(n.sqlite_page_size(), 4096u);
                               marked.insert(path);
                             }
                             return Status::OK();
                           })
                  .ok());
  EXPECT_EQ(marked, std::set<std::string>{db_path});

  RestoreOptions only;
  only.target = dir_ + "/quick";
  only.only_databases = true;
  Result<RestoreResult> quick = Restore(repo, r->snapshot_id, only);
  ASSERT_TRUE(quick.ok()) << quick.status().ToString();
  EXPECT_EQ(quick->databases, 1u);
  EXPECT_EQ(quick->files, 1u);
  ExpectConsistent(only.target + db_path);
  EXPECT_FALSE(fs::exists(only.target + src + "/Media/photo.jpg"));
  EXPECT_FALSE(fs::exists(only.target + src + "/notes.txt"));

  RestoreOptions all;
  all.target = dir_ + "/full";
  Result<RestoreResult> full = Restore(repo, r->snapshot_id, all);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_EQ(full->databases, 1u);
  EXPECT_EQ(full->files, 3u);
  EXPECT_EQ(ReadAll(all.target + src + "/Media/photo.jpg"),
            ReadAll(src + "/Media/photo.jpg"));
  EXPECT_EQ(ReadAll(all.target + src + "/notes.txt"), "not a database");
  int64_t n = 0;
  ExpectConsistent(all.target + db_path, &n);
  EXPECT_EQ(n, 300);
}

// The quick start on a new phone: the database alone, told the moment it is
// ready, then the app is used while --skip-existing brings the rest; the
// database the app has written to since is kept, not replaced.
TEST_F(SqliteCaptureTest, OnlyDbThenSkipExistingKeepsTheUsedDatabase) {
  const std::string db_path = MakeAppDb("msgstore.db", /*wal=*/true, 300);
  const std::string src = this->src();
  fs::create_directories(src + "/Media");
  std::ofstream(src + "/Media/photo.jpg", std::ios::binary)
      << std::string("\xFF\xD8\xFF\xE0", 4) << std::string(5000, 'p');
  Repository* repo = NewRepo();
  ASSERT_NE(repo, nullptr);
  Result<BackupResult> r = BackUpApp();
  ASSERT_TRUE(r.ok()) << r.status().ToString();

  RestoreOptions o;
  o.target = dir_ + "/phone";
  int told = 0;
  o.on_databases_ready = [&](const RestoreResult& ready) {
    ++told;
    EXPECT_EQ(ready.databases, 1u);
    // Told before the media are written.
    EXPECT_TRUE(fs::exists(o.target + db_path));
    EXPECT_FALSE(fs::exists(o.target + src + "/Media/photo.jpg"));
  };
  o.only_databases = true;
  ASSERT_TRUE(Restore(repo, r->snapshot_id, o).ok());
  EXPECT_EQ(told, 1);
  {
    Db app(o.target + db_path);
    ASSERT_EQ(Commit(app, 300), SQLITE_OK);
  }
  o.only_databases = false;
  o.skip_existing = true;
  Result<RestoreResult> rest = Restore(repo, r->snapshot_id, o);
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(told, 2);
  EXPECT_EQ(rest->kept, std::vector<std::string>{o.target + db_path});
  EXPECT_EQ(ReadAll(o.target + src + "/Media/photo.jpg"),
            ReadAll(src + "/Media/photo.jpg"));
  int64_t n = 0;
  ExpectConsistent(o.target + db_path, &n);
  EXPECT_EQ(n, 301);

  // A complete restore checked again: everything verified, nothing kept.
  RestoreOptions again;
  again.target = dir_ + "/full";
  ASSERT_TRUE(Restore(repo, r->snapshot_id, again).ok());
  again.skip_existing = true;
  Result<RestoreResult> checked = Restore(repo, r->snapshot_id, again);
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  EXPECT_EQ(checked->verified, 2u);
  EXPECT_TRUE(checked->kept.empty());
}

// Twelve versions of a database, each backed up: later snapshots store the
// pages an update touched as deltas against the parent snapshot's, and
// every snapshot restores to exactly the bytes the database had.
TEST_F(SqliteCaptureTest, DatabaseVersionsStoredAsDeltasRestoreExactly) {
  const std::string db_path = MakeAppDb("msgstore.db", /*wal=*/false, 6000);
  ASSERT_GE(fs::file_size(db_path), 256u * 4096);  // a dictionary's worth
  Repository* repo = NewRepo();
  ASSERT_NE(repo, nullptr);
  std::vector<std::string> copies, snapshots;
  for (int v = 0; v < 12; ++v) {
    if (v > 0) {
      Db app(db_path);
      for (int i = 0; i < 20; ++i) {
        ASSERT_EQ(Commit(app, 6000 + v * 20 + i), SQLITE_OK);
      }
      // Scattered small updates, as read receipts and status changes make.
      ASSERT_EQ(app.Exec("UPDATE message SET chat = chat + 100 WHERE id % 41 "
                         "= " +
                         std::to_string(v)),
                SQLITE_OK);
    }
    copies.push_back(ReadAll(db_path));
    Result<BackupResult> r = BackUpApp();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->parent_id, snapshots.empty() ? "" : snapshots.back()) << v;
    if (v > 0) {
      EXPECT_GT(r->delta_blobs, 0u) << v;
    }
    snapshots.push_back(r->snapshot_id);
  }
  // The database is large enough for a dictionary: trained once, named by
  // every snapshot's node.
  std::set<std::string> dictionaries;
  for (const std::string& id : snapshots) {
    ASSERT_TRUE(
        ListSnapshot(repo, id, [&](const std::string& path, const pb::Node& n) {
          if (path == db_path) {
            dictionaries.insert(n.sqlite_dictionary());
          }
          return Status::OK();
        }).ok());
  }
  ASSERT_EQ(dictionaries.size(), 1u);
  EXPECT_EQ(dictionaries.begin()->size(), crypto::kDigest256Bytes);
  for (size_t v = 0; v < snapshots.size(); ++v) {
    RestoreOptions ro;
    ro.target = dir_ + "/restore" + std::to_string(v);
    Result<RestoreResult> r = Restore(repo, snapshots[v], ro);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(ReadAll(ro.target + db_path), copies[v]) << "version " << v;
    ExpectConsistent(ro.target + db_path);
  }

  // Another host's backup has no parent here, so it stores the changed
  // pages whole: the deltas' gain, on this workload.
  {
    Db app(db_path);
    ASSERT_EQ(app.Exec("UPDATE message SET chat = chat + 100 WHERE id % 41 "
                       "= 30"),
              SQLITE_OK);
  }
  storage::MemBackend other_backend;
  Result<std::unique_ptr<Repository>> other =
      Repository::Init(&other_backend, AsBytes("pw"),
                       crypto::RecoveryCode::Generate(), testing::FastInit());
  ASSERT_TRUE(other.ok());
  BackupOptions o;
  o.paths = {src()};
  ASSERT_TRUE(Backup(other->get(), o).ok());
  {
    Db app(db_path);
    ASSERT_EQ(app.Exec("UPDATE message SET chat = chat + 100 WHERE id % 41 "
                       "= 31"),
              SQLITE_OK);
  }
  Result<BackupResult> with_parent = Backup(other->get(), o);
  o.hostname = "another-host";
  {
    Db app(db_path);
    ASSERT_EQ(app.Exec("UPDATE message SET chat = chat + 100 WHERE id % 41 "
                       "= 32"),
              SQLITE_OK);
  }
  Result<BackupResult> without = Backup(other->get(), o);
  ASSERT_TRUE(with_parent.ok() && without.ok());
  EXPECT_TRUE(without->parent_id.empty());
  EXPECT_EQ(without->delta_blobs, 0u);
  EXPECT_GT(with_parent->delta_blobs, 0u);
  EXPECT_LT(with_parent->pack_bytes_written * 2, without->pack_bytes_written)
      << with_parent->pack_bytes_written << " vs "
      << without->pack_bytes_written;
}

}  // namespace
}  // namespace chatvault::backup
