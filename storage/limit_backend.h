// Bandwidth limits (--limit-upload / --limit-download, KiB/s): a token
// bucket per direction that delays transfers so that the average rate stays
// at the limit. A transfer larger than the bucket is let through and paid
// for by waiting afterwards, so the limit holds on average over seconds.
//
// Thread-safety: thread-safe; concurrent transfers share one budget.
#ifndef CHATVAULT_STORAGE_LIMIT_BACKEND_H_
#define CHATVAULT_STORAGE_LIMIT_BACKEND_H_

#include <mutex>

#include "base/clock.h"
#include "storage/backend_wrapper.h"

namespace chatvault::storage {

class RateLimiter {
 public:
  // `bytes_per_second` > 0; `burst` bytes may pass without waiting.
  RateLimiter(uint64_t bytes_per_second, uint64_t burst, Clock* clock);
  // Blocks until `bytes` may be transferred (or, for large transfers, until
  // the debt they ran up is paid).
  void Acquire(uint64_t bytes);

 private:
  const double rate_;   // bytes per nanosecond
  const double burst_;  // bytes
  Clock* clock_;
  std::mutex mu_;
  double tokens_;
  Clock::TimePoint last_;
};

class LimitBackend : public BackendWrapper {
 public:
  // A limit of 0 means unlimited in that direction.
  LimitBackend(std::unique_ptr<Backend> target, uint64_t upload_kib_per_s,
               uint64_t download_kib_per_s, Clock* clock = Clock::Real());

  Status Save(std::string_view name, ByteView data, SaveMode mode) override;
  Result<Bytes> Load(std::string_view name, uint64_t offset,
                     uint64_t length) override;
  Result<std::optional<Bytes>> LoadIfChanged(std::string_view name,
                                             std::string* tag) override;

 private:
  std::unique_ptr<RateLimiter> upload_;
  std::unique_ptr<RateLimiter> download_;
};

}  // namespace chatvault::storage

#endif  // CHATVAULT_STORAGE_LIMIT_BACKEND_H_
