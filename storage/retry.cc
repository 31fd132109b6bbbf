#include "storage/retry.h"

#include <algorithm>
#include <cstdio>

namespace chatvault::storage {
namespace {

template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.status();
}
Status StatusOf(const Status& s) { return s; }

}  // namespace

Backoff::Backoff(const RetryPolicy& policy, Clock* clock)
    : policy_(policy),
      clock_(clock),
      start_(clock->Now()),
      rng_(std::random_device{}()) {}

bool Backoff::WaitBeforeRetry(std::optional<Clock::Duration> retry_after) {
  if (attempts_ >= policy_.max_attempts) return false;
  const Clock::Duration cap = std::min<Clock::Duration>(
      policy_.max_delay,
      policy_.initial_delay * (int64_t{1} << std::min(attempts_ - 1, 30)));
  std::uniform_int_distribution<int64_t> jitter(0, cap.count());
  Clock::Duration delay(jitter(rng_));
  if (retry_after && *retry_after > delay) delay = *retry_after;
  const Clock::Duration left = policy_.deadline - elapsed();
  if (delay >= left) return false;
  clock_->SleepFor(delay);
  ++attempts_;
  return true;
}

Status GaveUp(const Status& status, const Backoff& backoff) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), " (gave up after %d attempts in %.1f s)",
                backoff.attempts(),
                std::chrono::duration<double>(backoff.elapsed()).count());
  return Status(status.code(), std::string(status.message()) + buf);
}

RetryBackend::RetryBackend(std::unique_ptr<Backend> target, RetryPolicy policy,
                           Clock* clock)
    : BackendWrapper(std::move(target)), policy_(policy), clock_(clock) {}

template <typename Fn>
auto RetryBackend::Retry(Fn&& fn) -> decltype(fn()) {
  Backoff backoff(policy_, clock_);
  for (;;) {
    auto result = fn();
    Status s = StatusOf(result);
    if (!s.IsRetryable()) return result;
    if (!backoff.WaitBeforeRetry()) return GaveUp(s, backoff);
  }
}

Status RetryBackend::Save(std::string_view name, ByteView data, SaveMode mode) {
  bool failed_before = false;
  return Retry([&]() -> Status {
    Status s = target()->Save(name, data, mode);
    if (s.code() == StatusCode::kAlreadyExists && failed_before) {
      // An earlier attempt may have stored the object before its reply was
      // lost. Identical contents mean this save succeeded.
      Result<Bytes> existing = target()->Load(name, 0, kToEnd);
      if (!existing.ok()) return existing.status();
      if (existing->size() == data.size() &&
          std::equal(existing->begin(), existing->end(), data.begin())) {
        return Status::OK();
      }
    }
    failed_before = failed_before || s.IsRetryable();
    return s;
  });
}

Result<std::optional<Bytes>> RetryBackend::LoadIfChanged(std::string_view name,
                                                         std::string* tag) {
  return Retry([&] { return target()->LoadIfChanged(name, tag); });
}

Result<Bytes> RetryBackend::Load(std::string_view name, uint64_t offset,
                                 uint64_t length) {
  return Retry([&] { return target()->Load(name, offset, length); });
}

Result<ObjectInfo> RetryBackend::Stat(std::string_view name) {
  return Retry([&] { return target()->Stat(name); });
}

Status RetryBackend::List(std::string_view prefix, const ListFn& fn) {
  bool delivered = false;
  Backoff backoff(policy_, clock_);
  for (;;) {
    Status s = target()->List(prefix, [&](const ObjectInfo& info) {
      delivered = true;
      return fn(info);
    });
    if (!s.IsRetryable() || delivered) return s;
    if (!backoff.WaitBeforeRetry()) return GaveUp(s, backoff);
  }
}

Status RetryBackend::Remove(std::string_view name) {
  return Retry([&] { return target()->Remove(name); });
}

Status RetryBackend::RemoveMany(std::span<const std::string> names) {
  // Removal is idempotent, so repeating a partly done batch is safe.
  return Retry([&] { return target()->RemoveMany(names); });
}

}  // namespace chatvault::storage
