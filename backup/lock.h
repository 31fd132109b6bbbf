// Repository locks, taken only where two operations truly cannot run at
// once (docs/design.md 5.12): two prunes. Backups, restores and checks take
// none; a prune stays safe for concurrent backups by marking before it
// deletes, not by locking them out.
//
// A lock is the sealed object "locks/<id>", where the ID is fixed per
// purpose, created only if absent. It names its holder (host, process, when
// taken), and the holder refreshes it while it works. A lock is stale when
// its holder is a process on this host that no longer exists, or when it
// has not been refreshed for kLockStaleAfter; Acquire then removes it, says
// so, and takes it. Of several processes that find the same stale lock, only
// the one that first creates a claim marker ("locks/<hash of the stale
// lock's bytes>", kept) removes it.
//
//   ASSIGN_OR_RETURN(auto lock, RepositoryLock::Acquire(repo, "prune"));
//   ... RETURN_IF_ERROR(lock->Refresh()); ...   // now and then
//
// Thread-safety: a RepositoryLock is used from one thread.
#ifndef CHATVAULT_BACKUP_LOCK_H_
#define CHATVAULT_BACKUP_LOCK_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backup/repository.h"
#include "base/clock.h"

namespace chatvault::backup {

// How often a holder rewrites its lock, at least.
inline constexpr std::chrono::minutes kLockRefreshInterval{5};
// A lock not refreshed for this long is taken to belong to a process that
// died (or a machine that went away).
inline constexpr std::chrono::minutes kLockStaleAfter{30};

struct LockInfo {
  pb::Lock lock;
  // Why it is stale, if it is: "process 123 on this host is gone", "not
  // refreshed for 2 h"; empty while its holder may be alive.
  std::string stale;
};

// Describes the holder for messages: "prune on host 'pc' (process 123),
// started 2026-11-26 10:02:11, last refreshed 1 min ago".
std::string DescribeLock(const pb::Lock& lock, Clock* clock = Clock::Real());

class RepositoryLock {
 public:
  // Takes lock `purpose`. Locked, naming the holder and what to do, if a
  // live holder has it; a stale lock is removed first, with a line in
  // `notes`.
  static Result<std::unique_ptr<RepositoryLock>> Acquire(
      Repository* repo, const std::string& purpose,
      std::vector<std::string>* notes = nullptr, Clock* clock = Clock::Real());
  // Removes the lock if it is still this holder's.
  ~RepositoryLock();
  RepositoryLock(const RepositoryLock&) = delete;
  RepositoryLock& operator=(const RepositoryLock&) = delete;

  // Checks that the lock is still this holder's (Locked if someone removed
  // it and perhaps took it), and rewrites its refresh time once
  // kLockRefreshInterval has passed since the last. Called before anything
  // is deleted, and now and then during long work.
  Status Refresh();

 private:
  RepositoryLock(Repository* repo, std::string id, pb::Lock lock, Clock* clock)
      : repo_(repo),
        id_(std::move(id)),
        lock_(std::move(lock)),
        clock_(clock) {}
  Repository* repo_;
  std::string id_;
  pb::Lock lock_;
  Clock* clock_;
};

// The lock `purpose`, if someone holds it, with whether it is stale.
Result<std::optional<LockInfo>> ReadLock(Repository* repo,
                                         const std::string& purpose,
                                         Clock* clock = Clock::Real());

// Removes lock `purpose` (`chatvault unlock`): only a stale one unless
// `force`. Returns the lock removed, if any; Locked if it is held by a
// holder that may be alive and `force` is false.
Result<std::optional<pb::Lock>> BreakLock(Repository* repo,
                                          const std::string& purpose,
                                          bool force,
                                          Clock* clock = Clock::Real());

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_LOCK_H_
