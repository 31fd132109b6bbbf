// Clock: the passage of time, injectable so that retries, timeouts, rate
// limits and schedules are testable without sleeping.
//
// Thread-safety: implementations are thread-safe.
#ifndef CHATVAULT_BASE_CLOCK_H_
#define CHATVAULT_BASE_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace chatvault {

class Clock {
 public:
  using Duration = std::chrono::nanoseconds;
  using TimePoint = std::chrono::time_point<std::chrono::steady_clock>;

  virtual ~Clock() = default;
  // Monotonic time.
  virtual TimePoint Now() = 0;
  // Wall-clock time (for timestamps such as SigV4's x-amz-date).
  virtual std::chrono::system_clock::time_point WallNow() = 0;
  // Blocks the calling thread for `d` (no-op when d <= 0).
  virtual void SleepFor(Duration d) = 0;

  // The process-wide real clock.
  static Clock* Real();
};

// A clock that only moves when told to, or when someone sleeps on it.
class FakeClock : public Clock {
 public:
  TimePoint Now() override { return TimePoint(Duration(now_.load())); }
  std::chrono::system_clock::time_point WallNow() override {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            Duration(wall_base_ + now_.load())));
  }
  // Advances time instead of blocking.
  void SleepFor(Duration d) override {
    if (d.count() > 0) {
      now_ += d.count();
      slept_ += d.count();
    }
  }
  void Advance(Duration d) { now_ += d.count(); }
  void SetWall(std::chrono::system_clock::time_point t) {
    wall_base_ =
        std::chrono::duration_cast<Duration>(t.time_since_epoch()).count() -
        now_.load();
  }
  // Total time spent in SleepFor.
  Duration slept() const { return Duration(slept_.load()); }

 private:
  std::atomic<int64_t> now_{0};
  std::atomic<int64_t> slept_{0};
  std::atomic<int64_t> wall_base_{0};
};

// The wall-clock time as Unix milliseconds.
uint64_t UnixMs();

// "2026-11-26 09:30:00": a Unix time in milliseconds, in local time.
std::string LocalTimeString(uint64_t unix_ms);

}  // namespace chatvault

#endif  // CHATVAULT_BASE_CLOCK_H_
