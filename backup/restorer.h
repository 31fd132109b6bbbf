// Restoring a snapshot into a directory: every backed-up path is laid out
// below the target as it was (restic's layout: /home/u/chats → TARGET/home/
// u/chats), with modes, mtimes, symlinks, empty and sparse files, and, when
// restoring as root, owners.
//
// Names come from the repository, which is not trusted: a name that is
// empty, "." or "..", or contains '/' or NUL is refused (Corruption), so no
// path escapes the target. Below the target everything is created relative
// to open directory descriptors, and no symlink is ever followed: not one
// already in the target, not one the restore created itself. Files and
// symlinks are built under a temporary name in their directory and renamed
// into place when complete, so a failed restore leaves no partial file
// under a real name. The rules are docs/design.md, section 5.8.
//
// Thread-safety: one Restore call at a time per Repository object.
#ifndef CHATVAULT_BACKUP_RESTORER_H_
#define CHATVAULT_BACKUP_RESTORER_H_

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "backup/repository.h"

namespace chatvault::backup {

struct RestoreOptions {
  // Created if missing; followed if it is a symlink (it is the caller's
  // choice), unlike anything below it.
  std::string target;
  std::vector<std::string>
      includes;  // fnmatch on the snapshot path; empty: all
  std::vector<std::string> excludes;
  // The local cache's directory, for the index cache; empty: none.
  std::string cache_dir;
  // Restore only the chat databases (files captured as SQLite databases)
  // and the directories that lead to them: the quick start on a new phone.
  bool only_databases = false;
  // Replace files and symlinks that exist in the target. Without it such an
  // entry is AlreadyExists. Existing directories are always merged into;
  // a directory where the snapshot has a file is never replaced.
  bool overwrite = false;
  // Leave files and symlinks already in the target as they are, to finish
  // an interrupted restore or one begun with only_databases. A file whose
  // content matches the snapshot (read and checked against the snapshot's
  // blob IDs, without reading the repository) counts as verified; anything
  // else is kept, never replaced (a database the app has written to since
  // holds newer messages), and listed in RestoreResult::kept. Exclusive
  // with overwrite.
  bool skip_existing = false;
  // Called as soon as the databases are restored and synced, before the
  // rest (not called when the snapshot has none).
  std::function<void(const struct RestoreResult&)> on_databases_ready;
};

struct RestoreResult {
  uint64_t files = 0;
  uint64_t dirs = 0;
  uint64_t symlinks = 0;
  uint64_t bytes = 0;
  // Chat databases restored (and synced) before everything else, and when
  // the last of them was in place.
  uint64_t databases = 0;
  std::chrono::milliseconds databases_ready{0};
  // With skip_existing: entries found in the target with the snapshot's
  // content, and those kept although they differ from it.
  uint64_t verified = 0;
  std::vector<std::string> kept;
  // With skip_existing: temporary files of an interrupted restore removed.
  uint64_t temporaries_removed = 0;
  // Damage worked around: index objects that could not be read and were
  // skipped (the files restored did not need them).
  std::vector<std::string> warnings;
};

// Resolves "latest" or an ID prefix of at least 4 hex digits to a snapshot
// ID. NotFound if none matches, InvalidArgument if several do.
Result<std::string> ResolveSnapshot(Repository* repo, std::string_view name);

// Restores snapshot `snapshot_id` below `options.target`. Directories are
// merged into existing ones. Stops at the first error: AlreadyExists for an
// entry in the way (naming its path and, where it helps, --overwrite);
// Corruption for damaged data or unsafe names; the errno-derived Status for
// the local file system. What was completed before an error stays; files
// and symlinks being written are removed.
Result<RestoreResult> Restore(Repository* repo, std::string_view snapshot_id,
                              const RestoreOptions& options);

// Calls `fn(path, node)` for every node of the snapshot, depth first in
// name order; paths are "/"-joined from the snapshot root. Stops at the
// first error, from `fn` or from reading a tree.
Status ListSnapshot(
    Repository* repo, std::string_view snapshot_id,
    const std::function<Status(const std::string&, const pb::Node&)>& fn);

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_RESTORER_H_
