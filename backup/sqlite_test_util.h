// A helper for backup tests that build SQLite databases.
#ifndef CHATVAULT_BACKUP_SQLITE_TEST_UTIL_H_
#define CHATVAULT_BACKUP_SQLITE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

namespace chatvault::backup::testing {

// Runs `sql` on the database at `db_path` (created if missing) in one
// connection; a failure fails the calling test.
inline void Exec(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
}

}  // namespace chatvault::backup::testing

#endif  // CHATVAULT_BACKUP_SQLITE_TEST_UTIL_H_
