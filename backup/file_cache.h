// FileCache: the local, disposable record of which files were read by
// earlier backups and into which blobs, so that an unchanged file (same
// size, mtime, ctime, inode and device) is not read again. Kept in LMDB
// under the cache directory, one database per repository.
//
// The cache is a hint, never a source of truth: an entry is used only if
// every blob it names is in the repository's index, so a stale or foreign
// cache costs time, not correctness. A cache that cannot be opened or was
// written by another format version is deleted and rebuilt.
//
// Thread-safety: not thread-safe; one FileCache per backup.
#ifndef CHATVAULT_BACKUP_FILE_CACHE_H_
#define CHATVAULT_BACKUP_FILE_CACHE_H_

#include <sys/stat.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "proto/repository.pb.h"

namespace chatvault::backup {

// --cache-dir, else CHATVAULT_CACHE_DIR, else $XDG_CACHE_HOME/chatvault,
// else ~/.cache/chatvault.
std::string DefaultCacheDir();

class FileCache {
 public:
  // Opens (creating or rebuilding) the cache for `repository_id_hex` below
  // `cache_dir`.
  static Result<std::unique_ptr<FileCache>> Open(
      const std::string& cache_dir, const std::string& repository_id_hex);
  ~FileCache();

  // The entry for `path` if `st` still describes the same file.
  std::optional<pb::FileCacheEntry> Lookup(const std::string& path,
                                           const struct stat& st);

  // Records that `path`, as `st` describes it, holds `content`. Kept in
  // memory until Commit.
  void Record(const std::string& path, const struct stat& st,
              std::vector<std::string> content);

  // Writes the recorded entries in one transaction.
  Status Commit();

 private:
  FileCache() = default;
  struct Lmdb;
  std::unique_ptr<Lmdb> db_;
  std::vector<std::pair<std::string, std::string>> pending_;
};

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_FILE_CACHE_H_
