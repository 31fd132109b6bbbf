#include "backup/retention.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <functional>
#include <map>

namespace chatvault::backup {
namespace {

std::tm Local(uint64_t unix_ms) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

// Bucket keys: equal keys share a bucket. Hours are absolute (an hour
// repeated when clocks go back is two hours); days, ISO weeks, months and
// years are the local calendar's.
int64_t HourKey(uint64_t ms) { return static_cast<int64_t>(ms / 3'600'000); }
int64_t DayKey(uint64_t ms) {
  const std::tm tm = Local(ms);
  return int64_t{tm.tm_year} * 1000 + tm.tm_yday;
}
int64_t WeekKey(uint64_t ms) {
  const std::tm tm = Local(ms);
  char buf[16];
  std::strftime(buf, sizeof buf, "%G%V", &tm);  // ISO year and week
  return std::stoll(buf);
}
int64_t MonthKey(uint64_t ms) {
  const std::tm tm = Local(ms);
  return int64_t{tm.tm_year} * 12 + tm.tm_mon;
}
int64_t YearKey(uint64_t ms) { return Local(ms).tm_year; }

std::string GroupKey(const SnapshotInfo& s, const RetentionGrouping& g) {
  std::string key;
  if (g.host) key += "host " + s.host;
  if (g.paths) {
    std::vector<std::string> paths = s.paths;
    std::sort(paths.begin(), paths.end());
    key += key.empty() ? "paths" : ", paths";
    for (const std::string& p : paths) key += " " + p;
  }
  return key.empty() ? "all snapshots" : key;
}

}  // namespace

Result<std::vector<RetentionDecision>> ApplyRetention(
    std::vector<SnapshotInfo> snapshots, const RetentionPolicy& policy,
    const RetentionGrouping& grouping) {
  if (policy.last < 0 || policy.hourly < 0 || policy.daily < 0 ||
      policy.weekly < 0 || policy.monthly < 0 || policy.yearly < 0 ||
      policy.within_ms < 0) {
    return Status::InvalidArgument("keep counts cannot be negative");
  }
  if (policy.empty()) {
    return Status::InvalidArgument(
        "no --keep option given: that would forget every snapshot; say "
        "what to keep (e.g. --keep-daily 7 --keep-weekly 4)");
  }
  std::map<std::string, std::vector<SnapshotInfo>> groups;
  for (SnapshotInfo& s : snapshots) {
    groups[GroupKey(s, grouping)].push_back(std::move(s));
  }
  std::vector<RetentionDecision> out;
  for (auto& [key, members] : groups) {
    std::sort(members.begin(), members.end(),
              [](const SnapshotInfo& a, const SnapshotInfo& b) {
                return a.time_unix_ms != b.time_unix_ms
                           ? a.time_unix_ms > b.time_unix_ms
                           : a.id > b.id;
              });
    struct Rule {
      const char* name;
      int count;
      std::function<int64_t(uint64_t)> bucket;
      int kept = 0;
      bool any = false;
      int64_t last = 0;
    };
    std::vector<Rule> rules = {
        {"hourly", policy.hourly, HourKey},
        {"daily", policy.daily, DayKey},
        {"weekly", policy.weekly, WeekKey},
        {"monthly", policy.monthly, MonthKey},
        {"yearly", policy.yearly, YearKey},
    };
    const uint64_t newest = members.empty() ? 0 : members.front().time_unix_ms;
    size_t kept = 0;
    for (size_t i = 0; i < members.size(); ++i) {
      RetentionDecision d;
      d.snapshot = std::move(members[i]);
      d.group = key;
      const uint64_t t = d.snapshot.time_unix_ms;
      if (static_cast<int64_t>(i) < policy.last) {
        d.reasons.push_back("last " + std::to_string(i + 1));
      }
      for (Rule& r : rules) {
        if (r.kept >= r.count) continue;
        const int64_t b = r.bucket(t);
        // Newest first: the first snapshot met in a bucket is its newest.
        if (r.any && b == r.last) continue;
        r.any = true;
        r.last = b;
        ++r.kept;
        d.reasons.push_back(std::string(r.name) + " " + std::to_string(r.kept));
      }
      if (policy.within_ms > 0 &&
          newest - t < static_cast<uint64_t>(policy.within_ms)) {
        d.reasons.push_back("within");
      }
      for (const std::string& tag : policy.tags) {
        if (std::find(d.snapshot.tags.begin(), d.snapshot.tags.end(), tag) !=
            d.snapshot.tags.end()) {
          d.reasons.push_back("tag " + tag);
        }
      }
      d.keep = !d.reasons.empty();
      kept += d.keep;
      out.push_back(std::move(d));
    }
    if (kept == 0 && !members.empty() && !policy.allow_empty_group) {
      return Status::InvalidArgument(
          "the policy keeps no snapshot of " + key +
          ", so all of them would be forgotten; check the --keep options, "
          "or pass --allow-empty-group if that is what you want");
    }
  }
  return out;
}

Result<int64_t> ParseRetentionDuration(std::string_view text) {
  const auto bad = Status::InvalidArgument(
      "a duration is a number and a unit h, d, w, m (30 days) or y (365 "
      "days), or several such as 1y6m, not '" +
      std::string(text) + "'");
  if (text.empty()) return bad;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    int64_t n = 0;
    const size_t start = i;
    while (i < text.size() &&
           std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > 100'000) return bad;
      ++i;
    }
    if (i == start || i == text.size()) return bad;
    int64_t hours;
    switch (text[i]) {
      case 'h':
        hours = 1;
        break;
      case 'd':
        hours = 24;
        break;
      case 'w':
        hours = 24 * 7;
        break;
      case 'm':
        hours = 24 * 30;
        break;
      case 'y':
        hours = 24 * 365;
        break;
      default:
        return bad;
    }
    total += n * hours * 3'600'000;
    ++i;
  }
  if (total <= 0) return bad;
  return total;
}

}  // namespace chatvault::backup
