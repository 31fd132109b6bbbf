// Retention: which snapshots a `forget` policy keeps, and why.
//
// Snapshots are grouped (by host and paths unless told otherwise), and the
// policy applies to each group on its own, newest first:
//   last N      the N newest;
//   hourly N    the newest of each of the N most recent hours that have a
//               snapshot (likewise daily, weekly, monthly, yearly);
//   within D    every snapshot less than D older than the group's newest;
//   tag T       every snapshot with tag T.
// Hours, days, weeks (ISO 8601, Monday first), months and years are those of
// the local calendar (the TZ environment variable), so a day with a
// daylight-saving change is still one day, and month ends fall where the
// calendar puts them. A snapshot is kept if any rule keeps it; the reasons
// are recorded. A policy that keeps nothing at all is refused, so that
// `forget` with no options cannot empty a repository.
//
// Thread-safety: pure functions.
#ifndef CHATVAULT_BACKUP_RETENTION_H_
#define CHATVAULT_BACKUP_RETENTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace chatvault::backup {

struct RetentionPolicy {
  int last = 0;
  int hourly = 0;
  int daily = 0;
  int weekly = 0;
  int monthly = 0;
  int yearly = 0;
  int64_t within_ms = 0;  // 0: unused
  std::vector<std::string> tags;
  // Let a group lose every snapshot (e.g. --keep-tag alone, where no
  // snapshot of a group has the tag); refused otherwise.
  bool allow_empty_group = false;
  bool empty() const {
    return last == 0 && hourly == 0 && daily == 0 && weekly == 0 &&
           monthly == 0 && yearly == 0 && within_ms == 0 && tags.empty();
  }
};

// What grouping compares: host, paths, or both (the default), or neither
// (one group).
struct RetentionGrouping {
  bool host = true;
  bool paths = true;
};

struct SnapshotInfo {
  std::string id;
  uint64_t time_unix_ms = 0;
  std::string host;
  std::vector<std::string> paths;
  std::vector<std::string> tags;
};

struct RetentionDecision {
  SnapshotInfo snapshot;
  bool keep = false;
  std::vector<std::string> reasons;  // e.g. "daily 3", "tag monthly-review"
  std::string group;                 // "host vm, paths /a /b"
};

// The decision for every snapshot, grouped, newest first within a group.
// InvalidArgument for a policy that keeps nothing or has a negative count,
// or that would forget every snapshot of a group (naming it) unless
// allow_empty_group.
Result<std::vector<RetentionDecision>> ApplyRetention(
    std::vector<SnapshotInfo> snapshots, const RetentionPolicy& policy,
    const RetentionGrouping& grouping = {});

// Parses "30d", "12h", "2w", "6m" (months, 30 days), "1y" (365 days), or a
// combination such as "1y6m"; InvalidArgument otherwise.
Result<int64_t> ParseRetentionDuration(std::string_view text);

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_RETENTION_H_
