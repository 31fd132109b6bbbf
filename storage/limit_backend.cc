#include "storage/limit_backend.h"

#include <algorithm>

namespace chatvault::storage {

RateLimiter::RateLimiter(uint64_t bytes_per_second, uint64_t burst,
                         Clock* clock)
    : rate_(static_cast<double>(bytes_per_second) / 1e9),
      burst_(static_cast<double>(burst)),
      clock_(clock),
      tokens_(static_cast<double>(burst)),
      last_(clock->Now()) {}

void RateLimiter::Acquire(uint64_t bytes) {
  Clock::Duration wait{0};
  {
    std::lock_guard lock(mu_);
    Clock::TimePoint now = clock_->Now();
    tokens_ = std::min(
        burst_, tokens_ + rate_ * static_cast<double>((now - last_).count()));
    last_ = now;
    tokens_ -= static_cast<double>(bytes);
    // A negative balance is debt: this caller waits until it is repaid;
    // later callers see the debt too and queue behind it.
    if (tokens_ < 0)
      wait = Clock::Duration(static_cast<int64_t>(-tokens_ / rate_));
  }
  clock_->SleepFor(wait);
}

LimitBackend::LimitBackend(std::unique_ptr<Backend> target,
                           uint64_t upload_kib_per_s,
                           uint64_t download_kib_per_s, Clock* clock)
    : BackendWrapper(std::move(target)) {
  // One second's worth of burst.
  if (upload_kib_per_s > 0) {
    upload_ = std::make_unique<RateLimiter>(upload_kib_per_s * 1024,
                                            upload_kib_per_s * 1024, clock);
  }
  if (download_kib_per_s > 0) {
    download_ = std::make_unique<RateLimiter>(download_kib_per_s * 1024,
                                              download_kib_per_s * 1024, clock);
  }
}

Status LimitBackend::Save(std::string_view name, ByteView data, SaveMode mode) {
  if (upload_) upload_->Acquire(data.size());
  return target()->Save(name, data, mode);
}

Result<Bytes> LimitBackend::Load(std::string_view name, uint64_t offset,
                                 uint64_t length) {
  Result<Bytes> r = target()->Load(name, offset, length);
  if (download_ && r.ok()) download_->Acquire(r->size());
  return r;
}

Result<std::optional<Bytes>> LimitBackend::LoadIfChanged(std::string_view name,
                                                         std::string* tag) {
  Result<std::optional<Bytes>> r = target()->LoadIfChanged(name, tag);
  if (download_ && r.ok() && r->has_value()) download_->Acquire((*r)->size());
  return r;
}

}  // namespace chatvault::storage
