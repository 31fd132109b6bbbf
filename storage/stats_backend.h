// StatsBackend counts requests, failures and bytes per kind of call, for
// progress reports and benchmarks ("how many requests did a backup cost?").
//
// Thread-safety: thread-safe; Snapshot may be taken while calls run.
#ifndef CHATVAULT_STORAGE_STATS_BACKEND_H_
#define CHATVAULT_STORAGE_STATS_BACKEND_H_

#include <array>
#include <atomic>
#include <string>

#include "storage/backend_wrapper.h"

namespace chatvault::storage {

enum class OpKind { kSave = 0, kLoad, kStat, kList, kRemove, kCount };

std::string_view OpKindName(OpKind kind);

struct OpStats {
  uint64_t requests = 0;
  uint64_t failures = 0;
  uint64_t bytes = 0;  // saved, loaded, or objects listed/removed
};

struct StatsSnapshot {
  std::array<OpStats, static_cast<size_t>(OpKind::kCount)> ops{};
  const OpStats& operator[](OpKind k) const {
    return ops[static_cast<size_t>(k)];
  }
  // "save 12 req 1.2 MiB, load 3 req 40 KiB, ..."
  std::string ToString() const;
};

class StatsBackend : public BackendWrapper {
 public:
  using BackendWrapper::BackendWrapper;

  Status Save(std::string_view name, ByteView data, SaveMode mode) override;
  Result<Bytes> Load(std::string_view name, uint64_t offset,
                     uint64_t length) override;
  Result<std::optional<Bytes>> LoadIfChanged(std::string_view name,
                                             std::string* tag) override;
  Result<ObjectInfo> Stat(std::string_view name) override;
  Status List(std::string_view prefix, const ListFn& fn) override;
  Status Remove(std::string_view name) override;
  Status RemoveMany(std::span<const std::string> names) override;

  StatsSnapshot Snapshot() const;

 private:
  struct Counters {
    std::atomic<uint64_t> requests{0}, failures{0}, bytes{0};
  };
  void Count(OpKind kind, bool ok, uint64_t bytes);
  std::array<Counters, static_cast<size_t>(OpKind::kCount)> counters_;
};

}  // namespace chatvault::storage

#endif  // CHATVAULT_STORAGE_STATS_BACKEND_H_
