// Retrying transient failures: exponential backoff with full jitter
// (delay before retry n is uniform in [0, min(max_delay, initial * 2^n)]),
// bounded by an attempt count and an overall deadline, honouring a server's
// Retry-After hint. Used by RetryBackend for any backend and by the S3
// backend per HTTP request.
//
// Thread-safety: a Backoff belongs to one operation on one thread;
// RetryBackend is thread-safe.
#ifndef CHATVAULT_STORAGE_RETRY_H_
#define CHATVAULT_STORAGE_RETRY_H_

#include <chrono>
#include <optional>
#include <random>

#include "base/clock.h"
#include "storage/backend_wrapper.h"

namespace chatvault::storage {

struct RetryPolicy {
  std::chrono::milliseconds initial_delay{200};
  std::chrono::milliseconds max_delay{20'000};
  // No retry starts later than this after the first attempt began.
  std::chrono::milliseconds deadline{120'000};
  int max_attempts = 8;
};

class Backoff {
 public:
  Backoff(const RetryPolicy& policy, Clock* clock);

  // Called after a retryable failure. Sleeps before the next attempt and
  // returns true, or returns false without sleeping when the attempts or the
  // deadline are used up. `retry_after`, a server's hint, replaces the
  // computed delay when longer (but never extends past the deadline).
  bool WaitBeforeRetry(
      std::optional<Clock::Duration> retry_after = std::nullopt);

  int attempts() const { return attempts_; }
  Clock::Duration elapsed() const { return clock_->Now() - start_; }

 private:
  RetryPolicy policy_;
  Clock* clock_;
  Clock::TimePoint start_;
  int attempts_ = 1;
  std::mt19937_64 rng_;
};

// Retries Unavailable failures of every call of the wrapped backend.
// Create-if-absent saves stay correct: if a retry finds the object present
// because an earlier, apparently failed attempt stored it, the contents are
// compared and an identical object counts as success.
class RetryBackend : public BackendWrapper {
 public:
  RetryBackend(std::unique_ptr<Backend> target, RetryPolicy policy = {},
               Clock* clock = Clock::Real());

  Status Save(std::string_view name, ByteView data, SaveMode mode) override;
  Result<Bytes> Load(std::string_view name, uint64_t offset,
                     uint64_t length) override;
  Result<std::optional<Bytes>> LoadIfChanged(std::string_view name,
                                             std::string* tag) override;
  Result<ObjectInfo> Stat(std::string_view name) override;
  // Retried only while no object has been reported yet.
  Status List(std::string_view prefix, const ListFn& fn) override;
  Status Remove(std::string_view name) override;
  Status RemoveMany(std::span<const std::string> names) override;

 private:
  template <typename Fn>
  auto Retry(Fn&& fn) -> decltype(fn());

  RetryPolicy policy_;
  Clock* clock_;
};

// Appends "(gave up after N attempts in S s)" to a retryable failure's
// message.
Status GaveUp(const Status& status, const Backoff& backoff);

}  // namespace chatvault::storage

#endif  // CHATVAULT_STORAGE_RETRY_H_
