// Prune: deleting the data no snapshot uses any more, without ever racing a
// backup that runs at the same time on another device (docs/design.md
// 5.12).
//
// A prune works in two phases, a grace period apart:
//  1. Mark. Every snapshot is walked (trees, contents, and the delta bases
//     and dictionaries those blobs name). Packs none of whose blobs are used
//     are condemned; packs used below a threshold are repacked (their used
//     blobs copied, still sealed, into new packs) and condemned too. A
//     prune plan ("prune/<id>") records the condemned packs; new indexes
//     then list everything else and supersede the old ones, which are
//     deleted. From then on no new backup deduplicates against a condemned
//     blob.
//  2. Delete, in a later prune once the grace period has passed since the
//     mark (at once with a grace of zero): the snapshots saved since the
//     mark are walked again, and a condemned pack is deleted only if no
//     index lists it again and none of those snapshots needs it; one that
//     is needed is listed again instead.
// A backup that started before a mark and reused condemned blobs copies them
// into its own packs when it finishes (SecureSnapshot), or withdraws its
// snapshot if they are already gone. Packs no index lists (left by an
// interrupted backup, or a backup's upload in flight) are deleted only an
// hour after they were first seen so.
//
// Two prunes never run at once: prune takes the "prune" lock (lock.h).
//
// Memory: proportional to the number of blobs (32 bytes for each used one,
// plus an index entry for each kept one), one range read of a pack at a
// time, and the packs being written (16 MiB each).
//
// Thread-safety: one Prune at a time per Repository object.
#ifndef CHATVAULT_BACKUP_PRUNER_H_
#define CHATVAULT_BACKUP_PRUNER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "backup/blob_store.h"
#include "backup/repository.h"
#include "base/clock.h"

namespace chatvault::backup {

// How long packs no index lists are left alone after a prune first sees
// them: a backup uploads a pack a moment before the index naming it.
inline constexpr std::chrono::hours kUnindexedPackGrace{1};

struct PruneOptions {
  // Time between marking packs and deleting them.
  std::chrono::milliseconds grace = std::chrono::hours(1);
  // A pack whose used blobs take less than this fraction of its bytes is
  // repacked; 0: never repack.
  double repack_below = 0.5;
  // Compute and report, write and delete nothing.
  bool dry_run = false;
  std::string cache_dir;  // for the index cache; empty: none
  std::string hostname;   // recorded in the plan; default gethostname()
  Clock* clock = Clock::Real();
};

struct PruneProgress {
  std::string phase;  // "snapshots", "repack", "delete", ...
  uint64_t done = 0;
  uint64_t total = 0;
};
using PruneProgressFn = std::function<void(const PruneProgress&)>;

struct PruneResult {
  // Completing earlier marks (phase 2).
  uint64_t plans_completed = 0;
  uint64_t plans_waiting = 0;        // their grace period has not passed
  uint64_t next_delete_unix_ms = 0;  // when the first waiting one may go
  uint64_t packs_deleted = 0;
  uint64_t bytes_freed = 0;
  uint64_t packs_listed_again = 0;  // condemned, but needed after all
  // This mark (phase 1).
  std::string plan_id;  // empty: nothing to condemn
  uint64_t snapshots = 0;
  uint64_t blobs = 0;       // indexed
  uint64_t blobs_used = 0;  // by some snapshot
  uint64_t packs = 0;       // indexed
  uint64_t pack_bytes = 0;
  uint64_t used_bytes = 0;  // sealed bytes of used blobs
  uint64_t packs_unused = 0;
  uint64_t packs_repacked = 0;
  uint64_t packs_unindexed = 0;
  uint64_t bytes_condemned = 0;  // freed when this mark's plan completes
  uint64_t packs_written = 0;    // by repacking
  uint64_t bytes_written = 0;
  uint64_t indexes_superseded = 0;
  uint64_t indexes_written = 0;
  // Things the user should know (damage found, stale locks removed).
  std::vector<std::string> notes;
};

// Completes the earlier marks whose grace period has passed, then marks
// anew (and, with a zero grace, completes that mark at once). Locked if
// another prune runs; Corruption, naming it, if a snapshot uses a blob that
// no index lists (run check first: a prune never deletes around damage), or
// Unavailable while such a snapshot is less than 15 minutes old (a backup
// may still be securing it).
Result<PruneResult> Prune(Repository* repo, const PruneOptions& options,
                          const PruneProgressFn& progress = nullptr);

// For a backup that has just saved snapshot `snapshot_id` using `store`
// (opened when the backup started): if a prune marked or deleted data
// since, checks that every blob the snapshot uses is still listed by a
// current index, and copies those that are not, from where `store` knew
// them, into new packs. Unavailable, after removing the snapshot, if one
// is already gone ("run the backup again"). `copied` counts the blobs
// copied.
Status SecureSnapshot(Repository* repo, BlobStore* store,
                      const std::string& snapshot_id, const pb::Snapshot& snap,
                      uint64_t* copied = nullptr);

// The same check before the snapshot is saved, so that a backup killed
// between saving it and SecureSnapshot leaves a whole snapshot unless a
// prune marked and deleted in that moment (with a grace of zero).
// Unavailable if reused data is gone (nothing was saved).
Status SecureBlobs(Repository* repo, BlobStore* store, const pb::Snapshot& snap,
                   uint64_t* copied = nullptr);

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_PRUNER_H_
