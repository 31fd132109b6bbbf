// Backing up: walking the given paths, chunking files, storing new blobs,
// building tree blobs bottom-up, and writing the snapshot last.
//
// Thread-safety: one Backup call at a time per Repository object.
#ifndef CHATVAULT_BACKUP_ARCHIVER_H_
#define CHATVAULT_BACKUP_ARCHIVER_H_

#include <functional>
#include <string>
#include <vector>

#include "backup/blob_store.h"
#include "backup/repository.h"

namespace chatvault::backup {

struct BackupOptions {
  std::vector<std::string> paths;     // absolute or relative to the cwd
  std::vector<std::string> excludes;  // fnmatch patterns, matched against
                                      // the base name and the full path
  std::vector<std::string> tags;
  std::string hostname;  // default: gethostname()
  // The file-change cache's directory (see backup/file_cache.h); empty:
  // read every file.
  std::string cache_dir;
  // Packs close at this size; smaller than the default only in tests that
  // need many packs from little data.
  size_t pack_bytes = kTargetPackBytes;
};

struct BackupProgress {
  uint64_t files = 0;
  uint64_t dirs = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_new = 0;      // plaintext of blobs not in the repository yet
  uint64_t bytes_skipped = 0;  // of files the cache showed unchanged
  std::string current;         // the file being read
};

struct BackupResult {
  std::string snapshot_id;
  std::vector<std::string> paths;  // as recorded: absolute
  pb::SnapshotSummary summary;
  uint64_t packs_written = 0;
  uint64_t pack_bytes_written = 0;
  // Files that could not be read (permissions, vanished); the snapshot
  // lacks them. A non-empty list means "completed with warnings".
  std::vector<std::string> unreadable;
  // Files not read again because the cache showed them unchanged.
  uint64_t files_unchanged = 0;
  // New blobs stored as deltas against their previous version.
  uint64_t delta_blobs = 0;
  // The snapshot whose trees and database pages served as delta bases
  // (same host and paths, newest); empty if none.
  std::string parent_id;
  // Problems that did not affect the snapshot (e.g. the cache).
  std::vector<std::string> warnings;
};

using ProgressFn = std::function<void(const BackupProgress&)>;

// Backs up `options.paths` into a new snapshot. A path that does not exist
// is NotFound before anything is written.
Result<BackupResult> Backup(Repository* repo, const BackupOptions& options,
                            const ProgressFn& progress = nullptr);

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_ARCHIVER_H_
