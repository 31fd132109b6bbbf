#include <gtest/gtest.h>

#include "storage/fault_backend.h"
#include "storage/limit_backend.h"
#include "storage/mem_backend.h"
#include "storage/retry.h"
#include "storage/stats_backend.h"

namespace chatvault::storage {
namespace {

using namespace std::chrono_literals;

// Builds Retry(Fault(Mem)) with a fake clock, keeping pointers to the parts.
struct Stack {
  FakeClock clock;
  MemBackend* mem;
  FaultBackend* fault;
  std::unique_ptr<RetryBackend> retry;

  explicit Stack(FaultConfig config, RetryPolicy policy = {}) {
    auto m = std::make_unique<MemBackend>();
    mem = m.get();
    auto f = std::make_unique<FaultBackend>(std::move(m), config, &clock);
    fault = f.get();
    retry = std::make_unique<RetryBackend>(std::move(f), policy, &clock);
  }
};

TEST(RetryBackendTest, RetriesTransientFailures) {
  FaultConfig c;
  c.fail_nth = 1;
  Stack s(c);
  EXPECT_TRUE(s.retry->Save("a", AsBytes("data"), SaveMode::kOverwrite).ok());
  EXPECT_EQ(s.fault->injected(), 1u);
  EXPECT_EQ(AsChars(*s.mem->Load("a", 0, kToEnd)), "data");
}

TEST(RetryBackendTest, PermanentFailuresAreNotRetried) {
  FaultConfig c;
  c.fail_nth = 1;
  c.code = StatusCode::kPermissionDenied;
  Stack s(c);
  Status st = s.retry->Save("a", AsBytes("data"), SaveMode::kOverwrite);
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.clock.slept(), 0ns);
}

TEST(RetryBackendTest, GivesUpAfterAttemptsWithBoundedBackoff) {
  FaultConfig c;
  c.fail_fraction = 1.0;
  RetryPolicy p;
  p.max_attempts = 5;
  p.initial_delay = 100ms;
  p.max_delay = 1s;
  Stack s(c, p);
  Result<Bytes> r = s.retry->Load("missing", 0, kToEnd);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("gave up after 5 attempts"),
            std::string_view::npos)
      << r.status().message();
  EXPECT_EQ(s.fault->injected(), 5u);
  // Full jitter: each delay is at most min(1 s, 100 ms * 2^n).
  EXPECT_LE(s.clock.slept(), 100ms + 200ms + 400ms + 800ms);
}

TEST(RetryBackendTest, DeadlineBoundsTotalTime) {
  FaultConfig c;
  c.fail_fraction = 1.0;
  c.delay = 3s;  // each attempt takes 3 s
  RetryPolicy p;
  p.max_attempts = 100;
  p.deadline = 10s;
  Stack s(c, p);
  EXPECT_FALSE(s.retry->Stat("x").ok());
  EXPECT_LE(s.fault->injected(), 4u);
  EXPECT_LE(s.clock.Now().time_since_epoch(), 10s + 3s);
}

TEST(RetryBackendTest, CreateIfAbsentWhoseReplyWasLostSucceeds) {
  // The first attempt stores the object but reports a timeout, as a lost
  // reply would; the retry then finds the object there.
  auto m = std::make_unique<MemBackend>();
  MemBackend* mem = m.get();
  class LostReply : public BackendWrapper {
   public:
    using BackendWrapper::BackendWrapper;
    Status Save(std::string_view n, ByteView d, SaveMode mode) override {
      Status s = target()->Save(n, d, mode);
      if (first_) {
        first_ = false;
        return Status::Unavailable("timeout");
      }
      return s;
    }
    bool first_ = true;
  };
  FakeClock clock;
  RetryBackend retry(std::make_unique<LostReply>(std::move(m)), {}, &clock);
  EXPECT_TRUE(
      retry.Save("obj", AsBytes("same"), SaveMode::kCreateIfAbsent).ok());
  // A different object under that name is still a conflict.
  EXPECT_EQ(
      retry.Save("obj", AsBytes("other"), SaveMode::kCreateIfAbsent).code(),
      StatusCode::kAlreadyExists);
  EXPECT_EQ(AsChars(*mem->Load("obj", 0, kToEnd)), "same");
}

TEST(BackoffTest, RetryAfterHintIsHonouredWithinDeadline) {
  FakeClock clock;
  RetryPolicy p;
  p.initial_delay = 10ms;
  p.deadline = 10s;
  Backoff b(p, &clock);
  EXPECT_TRUE(b.WaitBeforeRetry(3s));
  EXPECT_EQ(clock.slept(), 3s);
  EXPECT_FALSE(b.WaitBeforeRetry(30s));  // would pass the deadline
  EXPECT_EQ(clock.slept(), 3s);
}

TEST(FaultBackendTest, FailNthOnlyForSelectedOps) {
  FaultConfig c;
  c.ops = OpBit(OpKind::kLoad);
  c.fail_nth = 2;
  FakeClock clock;
  FaultBackend f(std::make_unique<MemBackend>(), c, &clock);
  ASSERT_TRUE(f.Save("a", AsBytes("x"), SaveMode::kOverwrite).ok());
  ASSERT_TRUE(f.Save("b", AsBytes("y"), SaveMode::kOverwrite).ok());
  EXPECT_TRUE(f.Load("a", 0, kToEnd).ok());
  EXPECT_EQ(f.Load("a", 0, kToEnd).status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(f.Load("a", 0, kToEnd).ok());
  EXPECT_EQ(f.injected(), 1u);
}

TEST(FaultBackendTest, FractionIsReproducibleAndRoughlyRight) {
  FaultConfig c;
  c.fail_fraction = 0.3;
  c.seed = 42;
  FakeClock clock;
  auto count = [&] {
    FaultBackend f(std::make_unique<MemBackend>(), c, &clock);
    for (int i = 0; i < 1000; ++i) f.Stat("x").status().IgnoreError();
    return f.injected();
  };
  uint64_t a = count(), b = count();
  EXPECT_EQ(a, b);
  EXPECT_GT(a, 230u);
  EXPECT_LT(a, 370u);
}

TEST(FaultBackendTest, TruncationIsSilent) {
  FaultConfig c;
  c.truncate_saves = true;
  FakeClock clock;
  auto m = std::make_unique<MemBackend>();
  MemBackend* mem = m.get();
  FaultBackend f(std::move(m), c, &clock);
  ASSERT_TRUE(f.Save("a", AsBytes("12345678"), SaveMode::kOverwrite).ok());
  EXPECT_EQ(AsChars(*mem->Load("a", 0, kToEnd)), "1234");
  c.truncate_saves = false;
  c.truncate_loads = true;
  f.Configure(c);
  ASSERT_TRUE(mem->Save("b", AsBytes("abcdef"), SaveMode::kOverwrite).ok());
  EXPECT_EQ(AsChars(*f.Load("b", 0, kToEnd)), "abc");
}

TEST(StatsBackendTest, CountsRequestsBytesAndFailures) {
  StatsBackend s(std::make_unique<MemBackend>());
  ASSERT_TRUE(s.Save("a", AsBytes("12345"), SaveMode::kOverwrite).ok());
  ASSERT_TRUE(s.Save("b", AsBytes("123"), SaveMode::kOverwrite).ok());
  ASSERT_TRUE(s.Load("a", 1, 2).ok());
  EXPECT_FALSE(s.Load("zz", 0, kToEnd).ok());
  ASSERT_TRUE(s.List("", [](const ObjectInfo&) { return Status::OK(); }).ok());
  StatsSnapshot snap = s.Snapshot();
  EXPECT_EQ(snap[OpKind::kSave].requests, 2u);
  EXPECT_EQ(snap[OpKind::kSave].bytes, 8u);
  EXPECT_EQ(snap[OpKind::kLoad].requests, 2u);
  EXPECT_EQ(snap[OpKind::kLoad].failures, 1u);
  EXPECT_EQ(snap[OpKind::kLoad].bytes, 2u);
  EXPECT_EQ(snap[OpKind::kList].bytes, 2u);
  EXPECT_NE(snap.ToString().find("save 2 req 8 B"), std::string::npos);
}

TEST(RateLimiterTest, AverageRateHoldsOverTime) {
  FakeClock clock;
  RateLimiter limiter(1000, 1000, &clock);  // 1000 B/s, 1 s burst
  for (int i = 0; i < 10; ++i) limiter.Acquire(500);
  // 5000 bytes at 1000 B/s with 1000 B of initial burst: 4 s.
  EXPECT_GE(clock.Now().time_since_epoch(), 3900ms);
  EXPECT_LE(clock.Now().time_since_epoch(), 4100ms);
}

TEST(LimitBackendTest, LimitsUploadsAndDownloads) {
  FakeClock clock;
  LimitBackend b(std::make_unique<MemBackend>(), 1, 2, &clock);  // KiB/s
  Bytes data(4096);
  ASSERT_TRUE(b.Save("a", data, SaveMode::kOverwrite).ok());
  // 4 KiB at 1 KiB/s with 1 KiB burst: 3 s.
  EXPECT_GE(clock.slept(), 2900ms);
  Clock::Duration before = clock.slept();
  ASSERT_TRUE(b.Load("a", 0, kToEnd).ok());
  // 4 KiB at 2 KiB/s with 2 KiB burst: 1 s.
  EXPECT_GE(clock.slept() - before, 900ms);
  EXPECT_LE(clock.slept() - before, 1100ms);
}

}  // namespace
}  // namespace chatvault::storage
