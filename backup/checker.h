// Checking a repository: that every snapshot can be restored from what the
// indexes list, and, with read_data, that the packs hold it intact.
//
// The structure check reads every index and snapshot object and every tree
// blob, and checks that every blob a snapshot uses, and every delta base
// and dictionary a blob names (docs/design.md 5.3), is listed by an index
// and lies in a pack that exists and is long enough. Reading data
// downloads packs (all, or a subset), checks each against its name (the
// unkeyed hash), opens its header, compares it with the indexes, and
// decodes and checks every blob it holds against its ID.
//
// Problems are collected, not fatal: each names the object at fault and
// what it affects (snapshots and paths where known), so that one damaged
// pack does not hide another. Packs no index lists (left by an interrupted
// backup) are reported as notes, not problems.
//
// Thread-safety: one Check at a time per Repository object.
#ifndef CHATVAULT_BACKUP_CHECKER_H_
#define CHATVAULT_BACKUP_CHECKER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "backup/repository.h"

namespace chatvault::backup {

struct CheckOptions {
  // Download and check packs, not only the structure.
  bool read_data = false;
  // With read_data, only some packs: those whose ID falls in group
  // `subset_n` of `subset_m` (1 <= n <= m; by the ID's first eight bytes,
  // so that running 1/m … m/m covers every pack once), or a random
  // `subset_percent` of them (0 < percent <= 100). Zero: all packs.
  uint32_t subset_n = 0;
  uint32_t subset_m = 0;
  double subset_percent = 0;
};

struct CheckResult {
  std::vector<std::string> problems;  // empty: the repository is sound
  std::vector<std::string> notes;     // e.g. packs no index lists
  uint64_t snapshots = 0;
  uint64_t trees = 0;
  uint64_t blobs = 0;       // distinct blobs the snapshots use
  uint64_t packs = 0;       // packs the indexes list
  uint64_t packs_read = 0;  // with read_data
  uint64_t bytes_read = 0;
};

// Reports which phase runs and how far it is, for progress lines.
using CheckProgressFn = std::function<void(const std::string& phase,
                                           uint64_t done, uint64_t total)>;

// Errors are returned only when the check itself cannot go on (the
// repository cannot be listed); damage is reported in the result.
Result<CheckResult> Check(Repository* repo, const CheckOptions& options,
                          const CheckProgressFn& progress = nullptr);

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_CHECKER_H_
