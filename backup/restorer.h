// Restoring a snapshot into a directory: every backed-up path is laid out
// below the target as it was (restic's layout: /home/u/chats → TARGET/home/
// u/chats), with modes, mtimes, symlinks, empty and sparse files.
//
// Names come from the repository, which is not trusted: a name that is
// empty, "." or "..", or contains '/' or NUL is refused (Corruption), so no
// path escapes the target. Symlinks are created, never followed.
//
// Thread-safety: one Restore call at a time per Repository object.
#ifndef CHATVAULT_BACKUP_RESTORER_H_
#define CHATVAULT_BACKUP_RESTORER_H_

#include <functional>
#include <string>
#include <vector>

#include "backup/repository.h"

namespace chatvault::backup {

struct RestoreOptions {
  std::string target;  // created if missing
  std::vector<std::string>
      includes;  // fnmatch on the snapshot path; empty: all
  std::vector<std::string> excludes;
  // The local cache's directory, for the index cache; empty: none.
  std::string cache_dir;
};

struct RestoreResult {
  uint64_t files = 0;
  uint64_t dirs = 0;
  uint64_t symlinks = 0;
  uint64_t bytes = 0;
};

// Resolves "latest" or an ID prefix of at least 4 hex digits to a snapshot
// ID. NotFound if none matches, InvalidArgument if several do.
Result<std::string> ResolveSnapshot(Repository* repo, std::string_view name);

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
