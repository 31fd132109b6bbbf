#include "backup/sqlite_capture.h"

#include <sqlite3.h>

#include <cstring>
#include <thread>

namespace chatvault::backup {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kMagic[] = "SQLite format 3";  // and a NUL: 16 bytes

// Closes a connection when it goes out of scope.
struct Connection {
  sqlite3* db = nullptr;
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (db) sqlite3_close_v2(db);
  }
  sqlite3* release() { return std::exchange(db, nullptr); }
};

Status FromSqlite(sqlite3* db, int rc, const std::string& what) {
  std::string msg =
      what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(msg + " (the database stayed busy)");
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_FORMAT:
      return Status::InvalidArgument(msg);
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
    case SQLITE_CANTOPEN:
      return Status::PermissionDenied(msg);
    case SQLITE_NOMEM:
    case SQLITE_FULL:
      return Status::ResourceExhausted(msg);
    default:
      return Status::IOError(msg);
  }
}

Status Open(const std::string& path, std::chrono::milliseconds max_wait,
            Connection* c) {
  // Read-write, so that a hot journal left by a crashed writer can be
  // rolled back and a WAL checkpointed; never created, never through a
  // symlink.
  int rc =
      sqlite3_open_v2(path.c_str(), &c->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr);
  if (rc != SQLITE_OK) {
    return FromSqlite(c->db, rc, "cannot open database '" + path + "'");
  }
  sqlite3_extended_result_codes(c->db, 1);
  sqlite3_busy_timeout(c->db, static_cast<int>(max_wait.count()));
  return Status::OK();
}

Status Exec(const Connection& c, const char* sql, const std::string& path) {
  int rc = sqlite3_exec(c.db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return FromSqlite(c.db, rc, "database '" + path + "'");
  }
  return Status::OK();
}

Result<int64_t> QueryInt(const Connection& c, const char* sql,
                         const std::string& path) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(c.db, sql, -1, &stmt, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  int64_t v = 0;
  if (rc == SQLITE_ROW) {
    v = sqlite3_column_int64(stmt, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_OK) return FromSqlite(c.db, rc, "database '" + path + "'");
  return v;
}

// Starts a read transaction: the first read takes SQLite's shared lock
// (rollback journal) or a WAL read mark.
Status BeginRead(const Connection& c, const std::string& path) {
  RETURN_IF_ERROR(Exec(c, "BEGIN", path));
  return QueryInt(c, "SELECT count(*) FROM sqlite_master", path).status();
}

}  // namespace

std::optional<SqliteHeader> ParseSqliteHeader(ByteView head) {
  if (head.size() < kSqliteHeaderBytes ||
      std::memcmp(head.data(), kMagic, sizeof kMagic) != 0) {
    return std::nullopt;
  }
  const auto byte = [&](size_t i) { return static_cast<uint32_t>(head[i]); };
  uint32_t page_size = byte(16) << 8 | byte(17);
  if (page_size == 1) page_size = 65536;
  if (page_size < 512 || page_size > 65536 ||
      (page_size & (page_size - 1)) != 0) {
    return std::nullopt;
  }
  SqliteHeader h;
  h.page_size = page_size;
  h.wal = byte(18) == 2 || byte(19) == 2;
  return h;
}

std::string_view SqliteCompanionSuffix(std::string_view name) {
  for (std::string_view suffix : {"-wal", "-shm", "-journal"}) {
    if (name.size() > suffix.size() && name.ends_with(suffix)) return suffix;
  }
  return {};
}

SqliteCapture::~SqliteCapture() {
  if (reader_) {
    sqlite3_exec(reader_, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close_v2(reader_);
  }
}

Result<std::unique_ptr<SqliteCapture>> SqliteCapture::Begin(
    const std::string& path, std::chrono::milliseconds max_wait) {
  auto capture = std::unique_ptr<SqliteCapture>(new SqliteCapture());
  Connection reader;
  RETURN_IF_ERROR(Open(path, max_wait, &reader));
  ASSIGN_OR_RETURN(int64_t wal_mode,
                   QueryInt(reader,
                            "SELECT journal_mode = 'wal' FROM "
                            "pragma_journal_mode",
                            path));
  capture->wal_ = wal_mode != 0;
  if (capture->wal_) {
    // Hold off commits, checkpoint every frame into the database file, pin
    // that state with a read transaction, then let the writer go on.
    Connection writer, checkpointer;
    RETURN_IF_ERROR(Open(path, max_wait, &writer));
    RETURN_IF_ERROR(Open(path, max_wait, &checkpointer));
    // A connection finds out that the database is in WAL mode only when it
    // first reads it; until then it would report a checkpoint of nothing.
    RETURN_IF_ERROR(
        QueryInt(checkpointer, "SELECT count(*) FROM sqlite_master", path)
            .status());
    // First without holding the app off, so that few frames are left to
    // checkpoint under the write lock.
    sqlite3_wal_checkpoint_v2(checkpointer.db, nullptr,
                              SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    RETURN_IF_ERROR(Exec(writer, "BEGIN IMMEDIATE", path));
    const Clock::time_point deadline = Clock::now() + max_wait;
    const Clock::time_point blocked = Clock::now();
    for (;;) {
      int frames = -1, backfilled = -1;
      int rc = sqlite3_wal_checkpoint_v2(checkpointer.db, nullptr,
                                         SQLITE_CHECKPOINT_PASSIVE, &frames,
                                         &backfilled);
      if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY) {
        Exec(writer, "ROLLBACK", path).IgnoreError();
        return FromSqlite(checkpointer.db, rc,
                          "cannot checkpoint database '" + path + "'");
      }
      if (rc == SQLITE_OK && frames >= 0 && frames == backfilled) break;
      if (Clock::now() >= deadline) {
        Exec(writer, "ROLLBACK", path).IgnoreError();
        return Status::Unavailable(
            "database '" + path +
            "': another reader kept an old state for too long to capture it");
      }
      // Another reader still uses older frames; it finishes soon.
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    Status s = BeginRead(reader, path);
    Status released = Exec(writer, "ROLLBACK", path);
    capture->writer_blocked_ =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() -
                                                              blocked);
    RETURN_IF_ERROR(s);
    RETURN_IF_ERROR(released);
  } else {
    RETURN_IF_ERROR(BeginRead(reader, path));
  }
  // The app may have switched journal modes in between; the method above
  // holds only for the mode it was chosen for.
  ASSIGN_OR_RETURN(int64_t wal_now, QueryInt(reader,
                                             "SELECT journal_mode = 'wal' FROM "
                                             "pragma_journal_mode",
                                             path));
  if ((wal_now != 0) != capture->wal_) {
    return Status::Unavailable("database '" + path +
                               "' changed its journal mode during the capture");
  }
  ASSIGN_OR_RETURN(int64_t page_size,
                   QueryInt(reader, "PRAGMA page_size", path));
  ASSIGN_OR_RETURN(int64_t page_count,
                   QueryInt(reader, "PRAGMA page_count", path));
  if (page_size < 512 || page_size > 65536 || page_count < 0 ||
      page_count > UINT32_MAX) {
    return Status::InvalidArgument("database '" + path +
                                   "' reports an impossible size");
  }
  capture->page_size_ = static_cast<uint32_t>(page_size);
  capture->page_count_ = static_cast<uint32_t>(page_count);
  capture->reader_ = reader.release();
  return capture;
}

}  // namespace chatvault::backup
