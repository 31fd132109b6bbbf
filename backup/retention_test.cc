// Retention policies, table-driven, in a time zone with daylight saving
// (Central European rules as a POSIX TZ string, so no tzdata is needed):
// days of 23 and 25 hours, the hour that repeats, month ends, ISO weeks
// across a year boundary, and grouping.
#include "backup/retention.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <set>
#include <string>
#include <vector>

namespace chatvault::backup {
namespace {

// "2026-10-25T00:30" read as UTC.
uint64_t Utc(const std::string& iso) {
  std::tm tm{};
  strptime(iso.c_str(), "%Y-%m-%dT%H:%M", &tm);
  return static_cast<uint64_t>(timegm(&tm)) * 1000;
}

struct Case {
  std::string name;
  RetentionPolicy policy;
  // Snapshot IDs are their UTC times; the comment gives the local time.
  std::vector<std::string> times;
  std::set<std::string> kept;
};

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* old = std::getenv("TZ");
    had_tz_ = old != nullptr;
    if (had_tz_) old_tz_ = old;
    ::setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
    ::tzset();
  }
  void TearDown() override {
    if (had_tz_) {
      ::setenv("TZ", old_tz_.c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  bool had_tz_ = false;
  std::string old_tz_;
};

std::vector<SnapshotInfo> Snapshots(const std::vector<std::string>& times) {
  std::vector<SnapshotInfo> out;
  for (const std::string& t : times) {
    SnapshotInfo s;
    s.id = t;
    s.time_unix_ms = Utc(t);
    s.host = "phone";
    s.paths = {"/data/chats"};
    out.push_back(s);
  }
  return out;
}

TEST_F(RetentionTest, CalendarRules) {
  RetentionPolicy last3;
  last3.last = 3;
  RetentionPolicy daily2;
  daily2.daily = 2;
  RetentionPolicy hourly2;
  hourly2.hourly = 2;
  RetentionPolicy monthly3;
  monthly3.monthly = 3;
  RetentionPolicy weekly2;
  weekly2.weekly = 2;
  RetentionPolicy yearly2;
  yearly2.yearly = 2;
  const std::vector<Case> cases = {
      {"last keeps the newest",
       last3,
       {"2026-01-01T10:00", "2026-01-02T10:00", "2026-01-03T10:00",
        "2026-01-04T10:00", "2026-01-05T10:00"},
       {"2026-01-05T10:00", "2026-01-04T10:00", "2026-01-03T10:00"}},
      // 25 October 2026 has 25 hours: 00:30 CEST and 23:30 CET are 24 hours
      // apart and still the same day.
      {"daily over the 25-hour day",
       daily2,
       {"2026-10-24T22:30" /* 25 Oct 00:30 CEST */,
        "2026-10-25T22:30" /* 25 Oct 23:30 CET */,
        "2026-10-25T23:30" /* 26 Oct 00:30 CET */},
       {"2026-10-25T23:30", "2026-10-25T22:30"}},
      // 29 March 2026 has 23 hours.
      {"daily over the 23-hour day",
       daily2,
       {"2026-03-28T23:30" /* 29 Mar 00:30 CET */,
        "2026-03-29T21:30" /* 29 Mar 23:30 CEST */,
        "2026-03-29T22:30" /* 30 Mar 00:30 CEST */},
       {"2026-03-29T22:30", "2026-03-29T21:30"}},
      // 02:30 happens twice on 25 October: two hours, not one.
      {"hourly over the repeated hour",
       hourly2,
       {"2026-10-25T00:30" /* 02:30 CEST */,
        "2026-10-25T01:30" /* 02:30 CET */},
       {"2026-10-25T00:30", "2026-10-25T01:30"}},
      {"monthly at month ends",
       monthly3,
       {"2026-01-31T22:59" /* 31 Jan 23:59 */,
        "2026-01-31T23:01" /* 1 Feb 00:01 */,
        "2026-02-28T11:00" /* 28 Feb 12:00 */,
        "2026-02-28T23:00" /* 1 Mar 00:00 */},
       {"2026-02-28T23:00", "2026-02-28T11:00", "2026-01-31T22:59"}},
      // 2026 has 53 ISO weeks: 28 Dec 2026 to 3 Jan 2027 is week 53.
      {"weekly across the year boundary",
       weekly2,
       {"2026-12-28T09:00", "2026-12-31T09:00", "2027-01-03T09:00",
        "2027-01-04T09:00"},
       {"2027-01-04T09:00", "2027-01-03T09:00"}},
      {"yearly at new year, local time",
       yearly2,
       {"2025-12-31T22:59" /* 31 Dec 23:59 */,
        "2025-12-31T23:01" /* 1 Jan 00:01 */, "2026-06-01T10:00"},
       {"2026-06-01T10:00", "2025-12-31T22:59"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<std::vector<RetentionDecision>> r =
        ApplyRetention(Snapshots(c.times), c.policy);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::set<std::string> kept;
    for (const RetentionDecision& d : *r) {
      if (d.keep) kept.insert(d.snapshot.id);
      EXPECT_EQ(d.keep, !d.reasons.empty());
    }
    EXPECT_EQ(kept, c.kept);
  }
}

TEST_F(RetentionTest, WithinTagsReasonsAndGroups) {
  std::vector<SnapshotInfo> snaps =
      Snapshots({"2026-05-10T12:00", "2026-05-07T13:00", "2026-05-07T11:00",
                 "2026-04-01T12:00"});
  snaps[3].tags = {"before-upgrade"};
  RetentionPolicy p;
  ASSERT_TRUE(ParseRetentionDuration("3d").ok());
  p.within_ms = *ParseRetentionDuration("3d");
  p.tags = {"before-upgrade"};
  p.last = 1;
  p.daily = 1;
  Result<std::vector<RetentionDecision>> r = ApplyRetention(snaps, p);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 4u);
  // Newest first: every reason that applies is given.
  EXPECT_EQ((*r)[0].reasons,
            (std::vector<std::string>{"last 1", "daily 1", "within"}));
  EXPECT_EQ((*r)[1].reasons, std::vector<std::string>{"within"});  // 2d23h
  EXPECT_FALSE((*r)[2].keep);  // 3d1h older than the newest
  EXPECT_EQ((*r)[3].reasons, std::vector<std::string>{"tag before-upgrade"});

  // Groups are decided on their own: one snapshot kept per host.
  std::vector<SnapshotInfo> two =
      Snapshots({"2026-05-10T12:00", "2026-05-09T12:00", "2026-05-08T12:00"});
  two[1].host = "laptop";
  RetentionPolicy one;
  one.last = 1;
  r = ApplyRetention(two, one);
  ASSERT_TRUE(r.ok());
  int kept = 0;
  for (const RetentionDecision& d : *r) kept += d.keep;
  EXPECT_EQ(kept, 2);
  // Without grouping by host, one snapshot in all.
  r = ApplyRetention(two, one, RetentionGrouping{false, true});
  ASSERT_TRUE(r.ok());
  kept = 0;
  for (const RetentionDecision& d : *r) kept += d.keep;
  EXPECT_EQ(kept, 1);
}

TEST_F(RetentionTest, PolicyThatKeepsNothingIsRefused) {
  EXPECT_EQ(ApplyRetention(Snapshots({"2026-05-10T12:00"}), {}).status().code(),
            StatusCode::kInvalidArgument);
  RetentionPolicy negative;
  negative.daily = -1;
  EXPECT_EQ(
      ApplyRetention(Snapshots({"2026-05-10T12:00"}), negative).status().code(),
      StatusCode::kInvalidArgument);
}

// A tag no snapshot of a group has would forget the whole group: refused
// unless asked for.
TEST_F(RetentionTest, PolicyThatEmptiesAGroupIsRefused) {
  RetentionPolicy p;
  p.tags = {"weekly"};  // no snapshot has it
  Result<std::vector<RetentionDecision>> r =
      ApplyRetention(Snapshots({"2026-05-10T12:00", "2026-05-09T12:00"}), p);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("host phone"), std::string::npos);
  p.allow_empty_group = true;
  r = ApplyRetention(Snapshots({"2026-05-10T12:00", "2026-05-09T12:00"}), p);
  ASSERT_TRUE(r.ok());
  for (const RetentionDecision& d : *r) EXPECT_FALSE(d.keep);
}

TEST(RetentionDurationTest, Parses) {
  EXPECT_EQ(*ParseRetentionDuration("12h"), int64_t{12} * 3'600'000);
  EXPECT_EQ(*ParseRetentionDuration("30d"), int64_t{30} * 86'400'000);
  EXPECT_EQ(*ParseRetentionDuration("2w"), int64_t{14} * 86'400'000);
  EXPECT_EQ(*ParseRetentionDuration("1y6m"), int64_t{365 + 180} * 86'400'000);
  for (const char* bad : {"", "5", "d", "3x", "1d2", "-3d", "0d"}) {
    EXPECT_FALSE(ParseRetentionDuration(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace chatvault::backup
