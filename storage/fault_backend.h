// FaultBackend injects failures into the wrapped backend, for tests of
// everything above the storage layer: fail the Nth call, fail a fraction of
// calls, truncate what is loaded or saved, delay calls.
//
// Thread-safety: thread-safe; the configuration may be changed between
// calls.
#ifndef CHATVAULT_STORAGE_FAULT_BACKEND_H_
#define CHATVAULT_STORAGE_FAULT_BACKEND_H_

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>

#include "base/clock.h"
#include "storage/backend_wrapper.h"
#include "storage/stats_backend.h"

namespace chatvault::storage {

struct FaultConfig {
  // Bit set of OpKinds the faults apply to (default: all).
  uint32_t ops = ~0u;
  // Fail the call with this 1-based number among matching calls (0: off).
  uint64_t fail_nth = 0;
  // Fail each matching call with this probability.
  double fail_fraction = 0.0;
  // The failure to report.
  StatusCode code = StatusCode::kUnavailable;
  // Loads return only the first half of what they read, and Saves store
  // only the first half of the data yet report success: silent corruption,
  // for tests of the layers that must detect it.
  bool truncate_loads = false;
  bool truncate_saves = false;
  // Sleep on the clock before each matching call.
  std::chrono::milliseconds delay{0};
  // Seed for fail_fraction, so that runs are reproducible.
  uint64_t seed = 1;
};

inline constexpr uint32_t OpBit(OpKind k) {
  return 1u << static_cast<uint32_t>(k);
}

class FaultBackend : public BackendWrapper {
 public:
  FaultBackend(std::unique_ptr<Backend> target, FaultConfig config = {},
               Clock* clock = Clock::Real());

  void Configure(const FaultConfig& config);
  // Number of failures injected so far.
  uint64_t injected() const { return injected_.load(); }

  Status Save(std::string_view name, ByteView data, SaveMode mode) override;
  Result<Bytes> Load(std::string_view name, uint64_t offset,
                     uint64_t length) override;
  Result<std::optional<Bytes>> LoadIfChanged(std::string_view name,
                                             std::string* tag) override;
  Result<ObjectInfo> Stat(std::string_view name) override;
  Status List(std::string_view prefix, const ListFn& fn) override;
  Status Remove(std::string_view name) override;

 private:
  // Applies delay and decides whether this call fails.
  Status Before(OpKind kind, std::string_view name);

  Clock* clock_;
  std::mutex mu_;
  FaultConfig config_;
  std::mt19937_64 rng_;
  uint64_t calls_ = 0;
  std::atomic<uint64_t> injected_{0};
};

}  // namespace chatvault::storage

#endif  // CHATVAULT_STORAGE_FAULT_BACKEND_H_
