#include "backup/lock.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "crypto/blake2b.h"
#include "crypto/random.h"

namespace chatvault::backup {
namespace {

constexpr std::string_view kLockDir = "locks";

uint64_t UnixMs(Clock* clock) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          clock->WallNow().time_since_epoch())
          .count());
}

std::string Hostname() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof(buf) - 1);
  return buf;
}

// The lock's fixed object ID: BLAKE2b-256 of its purpose, so that every
// device names the same lock the same way.
std::string LockId(const std::string& purpose) {
  Result<Bytes> d = crypto::Blake2b(AsBytes("chatvault lock " + purpose),
                                    crypto::kDigest256Bytes);
  return d.ok() ? HexEncode(*d) : std::string(64, '0');
}

std::string Ago(uint64_t then_ms, uint64_t now_ms) {
  if (then_ms >= now_ms) return "just now";
  const uint64_t s = (now_ms - then_ms) / 1000;
  if (s < 120) return std::to_string(s) + " s ago";
  if (s < 2 * 3600) return std::to_string(s / 60) + " min ago";
  if (s < 2 * 86400) return std::to_string(s / 3600) + " h ago";
  return std::to_string(s / 86400) + " days ago";
}

std::string Stale(const pb::Lock& lock, Clock* clock) {
  const uint64_t now = UnixMs(clock);
  const uint64_t limit =
      std::chrono::duration_cast<std::chrono::milliseconds>(kLockStaleAfter)
          .count();
  if (lock.hostname() == Hostname() && lock.pid() != 0 &&
      ::kill(static_cast<pid_t>(lock.pid()), 0) != 0 && errno == ESRCH) {
    return "process " + std::to_string(lock.pid()) + " on this host is gone";
  }
  if (now > lock.refreshed_unix_ms() &&
      now - lock.refreshed_unix_ms() > limit) {
    return "not refreshed since " + LocalTimeString(lock.refreshed_unix_ms()) +
           " (" + Ago(lock.refreshed_unix_ms(), now) + ")";
  }
  return "";
}

}  // namespace

std::string DescribeLock(const pb::Lock& lock, Clock* clock) {
  return lock.purpose() + " on host '" + lock.hostname() + "' (process " +
         std::to_string(lock.pid()) + "), started " +
         LocalTimeString(lock.created_unix_ms()) + ", last refreshed " +
         Ago(lock.refreshed_unix_ms(), UnixMs(clock));
}

Result<std::optional<LockInfo>> ReadLock(Repository* repo,
                                         const std::string& purpose,
                                         Clock* clock) {
  pb::Lock lock;
  Status s =
      repo->LoadObject(ObjectType::kLock, kLockDir, LockId(purpose), &lock);
  if (s.code() == StatusCode::kNotFound) return std::optional<LockInfo>();
  if (s.code() == StatusCode::kCorruption) {
    // A damaged lock protects nothing: it is as good as stale.
    lock.set_purpose(purpose);
    return std::optional<LockInfo>(LockInfo{
        lock, "the lock object is damaged (" + std::string(s.message()) + ")"});
  }
  RETURN_IF_ERROR(s);
  return std::optional<LockInfo>(LockInfo{lock, Stale(lock, clock)});
}

Result<std::unique_ptr<RepositoryLock>> RepositoryLock::Acquire(
    Repository* repo, const std::string& purpose,
    std::vector<std::string>* notes, Clock* clock) {
  const std::string id = LockId(purpose);
  pb::Lock lock;
  lock.set_purpose(purpose);
  lock.set_hostname(Hostname());
  lock.set_pid(static_cast<uint32_t>(::getpid()));
  lock.set_created_unix_ms(UnixMs(clock));
  lock.set_refreshed_unix_ms(lock.created_unix_ms());
  Bytes nonce(16);
  crypto::RandomBytes(nonce);
  lock.set_nonce(std::string(AsChars(nonce)));
  // Twice at most: once more after removing a stale lock.
  for (int attempt = 0;; ++attempt) {
    Status s = repo->SaveObjectAs(ObjectType::kLock, kLockDir, id, lock,
                                  storage::SaveMode::kCreateIfAbsent);
    if (s.ok()) {
      return std::unique_ptr<RepositoryLock>(
          new RepositoryLock(repo, id, std::move(lock), clock));
    }
    if (s.code() != StatusCode::kAlreadyExists) return s;
    ASSIGN_OR_RETURN(std::optional<LockInfo> held,
                     ReadLock(repo, purpose, clock));
    if (!held) continue;  // released meanwhile
    if (held->stale.empty() || attempt > 0) {
      return Status::Locked(
          "the repository is locked by " + DescribeLock(held->lock, clock) +
          ". Wait for it to finish; if that process is gone for good, run "
          "'chatvault unlock' (a lock not refreshed for " +
          std::to_string(kLockStaleAfter.count()) +
          " min is removed by itself)");
    }
    // Two prunes may find the same stale lock: only the one that claims it
    // (a marker named after its bytes, created only if absent) removes it,
    // so neither removes the lock the other has just taken.
    Result<Bytes> raw = repo->backend()->Load(std::string(kLockDir) + "/" + id,
                                              0, storage::kToEnd);
    if (raw.status().code() == StatusCode::kNotFound) continue;
    RETURN_IF_ERROR(raw.status());
    Result<Bytes> claim_id =
        crypto::Blake2b(AsBytes("chatvault lock break " + HexEncode(*raw)),
                        crypto::kDigest256Bytes);
    RETURN_IF_ERROR(claim_id.status());
    Status claimed =
        repo->SaveObjectAs(ObjectType::kLock, kLockDir, HexEncode(*claim_id),
                           held->lock, storage::SaveMode::kCreateIfAbsent);
    if (claimed.code() == StatusCode::kAlreadyExists) {
      return Status::Locked(
          "another process is taking over the stale lock of " +
          DescribeLock(held->lock, clock) + "; try again in a minute");
    }
    RETURN_IF_ERROR(claimed);
    RETURN_IF_ERROR(repo->backend()->Remove(std::string(kLockDir) + "/" + id));
    if (notes != nullptr) {
      notes->push_back("removed a stale lock: " +
                       DescribeLock(held->lock, clock) + "; " + held->stale);
    }
  }
}

RepositoryLock::~RepositoryLock() {
  pb::Lock stored;
  if (repo_->LoadObject(ObjectType::kLock, kLockDir, id_, &stored).ok() &&
      stored.nonce() == lock_.nonce()) {
    (void)repo_->backend()->Remove(std::string(kLockDir) + "/" + id_);
  }
}

Status RepositoryLock::Refresh() {
  pb::Lock stored;
  Status s = repo_->LoadObject(ObjectType::kLock, kLockDir, id_, &stored);
  if (s.code() == StatusCode::kNotFound ||
      (s.ok() && stored.nonce() != lock_.nonce())) {
    return Status::Locked(
        "this " + lock_.purpose() +
        " lost its lock (someone ran 'chatvault unlock' or took it as "
        "stale); stopped before deleting anything more");
  }
  RETURN_IF_ERROR(s);
  const uint64_t now = UnixMs(clock_);
  const uint64_t interval =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          kLockRefreshInterval)
          .count();
  if (now - lock_.refreshed_unix_ms() < interval) return Status::OK();
  lock_.set_refreshed_unix_ms(now);
  return repo_->SaveObjectAs(ObjectType::kLock, kLockDir, id_, lock_,
                             storage::SaveMode::kOverwrite);
}

Result<std::optional<pb::Lock>> BreakLock(Repository* repo,
                                          const std::string& purpose,
                                          bool force, Clock* clock) {
  ASSIGN_OR_RETURN(std::optional<LockInfo> held,
                   ReadLock(repo, purpose, clock));
  if (!held) return std::optional<pb::Lock>();
  if (held->stale.empty() && !force) {
    return Status::Locked(
        "the lock is held by " + DescribeLock(held->lock, clock) +
        ", which may still be running; wait for it, or use --force if you "
        "know it is gone");
  }
  RETURN_IF_ERROR(
      repo->backend()->Remove(std::string(kLockDir) + "/" + LockId(purpose)));
  return std::optional<pb::Lock>(held->lock);
}

}  // namespace chatvault::backup
