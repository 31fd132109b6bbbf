// Capturing a live SQLite database at one committed state while its owner
// (the chat app) keeps writing, without a temporary copy: the database file
// itself is held still while the backup reads it. docs/design.md section
// 5.9 gives the method and its guarantees; in short:
//
// - Rollback-journal databases: a read transaction holds SQLite's SHARED
//   lock, under which no writer can change the file (a hot journal left by
//   a crashed writer is rolled back first). The writer waits while the file
//   is read.
// - WAL databases: with the write lock taken for a moment (so no commit
//   happens), every WAL frame is checkpointed into the database file; a read
//   transaction then pins that state and the write lock is released. While
//   the read transaction lasts, checkpoints cannot write the file (they
//   stop at this reader's mark, which is already backfilled), so it holds
//   exactly the pinned state; the writer goes on appending to the WAL.
//
// Caution (POSIX advisory locks): closing any descriptor of the database
// file in this process drops SQLite's locks on it. The caller opens its own
// descriptor before Begin and closes it only after the capture ends.
//
// Thread-safety: a capture is used from one thread.
#ifndef CHATVAULT_BACKUP_SQLITE_CAPTURE_H_
#define CHATVAULT_BACKUP_SQLITE_CAPTURE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/result.h"

struct sqlite3;

namespace chatvault::backup {

// The first 100 bytes of a database file.
inline constexpr size_t kSqliteHeaderBytes = 100;

struct SqliteHeader {
  uint32_t page_size = 0;  // 512 .. 65536, a power of two
  bool wal = false;        // file format versions 2 (WAL) rather than 1
};

// The header's facts if `head` starts like an SQLite 3 database file with a
// valid page size; nullopt for anything else.
std::optional<SqliteHeader> ParseSqliteHeader(ByteView head);

// The companions SQLite keeps beside a database: "-wal", "-shm",
// "-journal". Returns the suffix `name` ends with, or empty.
std::string_view SqliteCompanionSuffix(std::string_view name);

class SqliteCapture {
 public:
  // Pins the committed state of the database at `path`. Waits at most
  // `max_wait` for the app's writer (and old readers, for a WAL
  // checkpoint); Unavailable after that. InvalidArgument if SQLite does not
  // accept the file as a database.
  static Result<std::unique_ptr<SqliteCapture>> Begin(
      const std::string& path, std::chrono::milliseconds max_wait);
  // Ends the read transaction, releasing the database.
  ~SqliteCapture();

  uint32_t page_size() const { return page_size_; }
  // Bytes of the pinned state: page count times page size. The file may be
  // longer (free space a checkpoint has not truncated); the rest is not
  // part of the database.
  uint64_t size() const { return uint64_t{page_count_} * page_size_; }
  bool wal() const { return wal_; }
  // How long the app's writer was held off (the WAL checkpoint), or zero
  // for rollback-journal databases, where the writer waits for the reading.
  std::chrono::microseconds writer_blocked() const { return writer_blocked_; }

 private:
  SqliteCapture() = default;
  sqlite3* reader_ = nullptr;
  uint32_t page_size_ = 0;
  uint32_t page_count_ = 0;
  bool wal_ = false;
  std::chrono::microseconds writer_blocked_{0};
};

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_SQLITE_CAPTURE_H_
