// Following a device: detecting its new heads and materialising the store
// each one names into a target directory (docs/sync-protocol.md section 6).
//
//   Follower follower(&account, device, {.target = dir, .cache_dir = c});
//   ASSIGN_OR_RETURN(FollowResult r, follower.Poll());
//
// A poll reads the device's head with a conditional request; only a new
// head costs more. Materialising fetches only the blobs the target lacks:
// a file's previous version (recorded in a manifest in the device's home)
// supplies every blob it still has, and trees and zstd dictionaries
// are kept in a local blob cache. Each changed file is written beside its
// old version under a temporary name, synced, and renamed over it, so a
// reader (the chat app) never sees a half-applied database. Names from the
// repository are checked and no symlink below the target is followed, as
// in a restore (docs/design.md 5.8): nothing is written outside the target.
// Entries that disappeared from the store are removed if an earlier sync
// made them; anything else in the target is left alone.
//
// Thread-safety: one thread per Follower; one Follower per target.
#ifndef CHATVAULT_SYNC_FOLLOWER_H_
#define CHATVAULT_SYNC_FOLLOWER_H_

#include <string>

#include "sync/account.h"

namespace chatvault::sync {

struct FollowOptions {
  std::string target;     // created if missing
  std::string cache_dir;  // index cache and blob cache (trees, dictionaries)
  // Replace files in the target that no sync wrote (otherwise they are
  // AlreadyExists). Directories are always merged into.
  bool overwrite = false;
};

struct FollowResult {
  bool changed = false;  // a new head was materialised
  bool no_head = false;  // the device has published nothing yet
  pb::Head head;         // the head seen (when one was read)
  uint64_t files_written = 0;
  uint64_t files_removed = 0;
  uint64_t bytes_written = 0;
  uint64_t blobs_local = 0;    // taken from the target or the blob cache
  uint64_t blobs_fetched = 0;  // read from the repository
};

class Follower {
 public:
  Follower(Account* account, pb::Device device, FollowOptions options);

  // Reads the device's head (conditionally, after the first poll) and
  // materialises it unless the target holds it already. Errors: those of
  // Account::ReadHead (rollback, tampering, revocation), Corruption for
  // damaged data or unsafe names, the file system's errors.
  Result<FollowResult> Poll();

  // Materialises `head` (already verified) now.
  Result<FollowResult> Materialize(const pb::Head& head);

  // Points the follower at another session of the same repository (after
  // reopening it to learn a new key epoch).
  void Rebind(Account* account) { account_ = account; }

 private:
  Account* account_;
  pb::Device device_;
  FollowOptions options_;
  std::string tag_;  // of the head last read
};

}  // namespace chatvault::sync

#endif  // CHATVAULT_SYNC_FOLLOWER_H_
