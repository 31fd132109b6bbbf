// The storage conformance suite: every backend must behave the same way for
// every contract in storage/backend.h. Runs against Local, Mem and S3
// (radosgw on loopback, started by scripts/test.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "tests/storage_conformance/fixture.h"

namespace chatvault::storage::testing {
namespace {

Bytes RandomData(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes b(n);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < n; ++j) {
      b[i + j] = static_cast<std::byte>(v >> (8 * j));
    }
  }
  return b;
}

std::map<std::string, uint64_t> ListAll(Backend* b, std::string_view prefix) {
  std::map<std::string, uint64_t> out;
  Status s = b->List(prefix, [&](const ObjectInfo& info) {
    EXPECT_TRUE(out.emplace(info.name, info.size).second)
        << "listed twice: " << info.name;
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

class ConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<BackendFixture>> f = MakeFixture(GetParam());
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    fixture_ = std::move(*f);
    b_ = fixture_->backend();
  }
  void TearDown() override { fixture_.reset(); }

  void ExpectObject(std::string_view name, const Bytes& want) {
    Result<Bytes> got = b_->Load(name, 0, kToEnd);
    ASSERT_TRUE(got.ok()) << name << ": " << got.status().ToString();
    EXPECT_TRUE(*got == want)
        << name << ": " << got->size() << " bytes, want " << want.size();
    Result<ObjectInfo> info = b_->Stat(name);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->size, want.size());
  }

  std::unique_ptr<BackendFixture> fixture_;
  Backend* b_ = nullptr;
};

TEST_P(ConformanceTest, RoundTripsSizesIncludingEmptyAndAroundMultipart) {
  std::vector<size_t> sizes = {0, 1, 17, 4096, 1 << 20};
  if (uint64_t t = fixture_->multipart_threshold(); t > 0) {
    sizes.insert(sizes.end(), {t - 1, t, t + 1, 2 * t + 12345});
  }
  for (size_t n : sizes) {
    std::string name = "data/size-" + std::to_string(n);
    Bytes data = RandomData(n, n);
    ASSERT_TRUE(b_->Save(name, data, SaveMode::kOverwrite).ok()) << n;
    ExpectObject(name, data);
  }
}

TEST_P(ConformanceTest, LoadIfChangedSkipsAnUnchangedObject) {
  std::string tag;
  EXPECT_EQ(b_->LoadIfChanged("heads/h", &tag).status().code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(b_->Save("heads/h", RandomData(300, 1)).ok());
  Result<std::optional<Bytes>> first = b_->LoadIfChanged("heads/h", &tag);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ(**first, RandomData(300, 1));
  EXPECT_FALSE(tag.empty());
  Result<std::optional<Bytes>> same = b_->LoadIfChanged("heads/h", &tag);
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(same->has_value());
  // Same size, new content: a new version.
  ASSERT_TRUE(b_->Save("heads/h", RandomData(300, 2)).ok());
  Result<std::optional<Bytes>> next = b_->LoadIfChanged("heads/h", &tag);
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ(**next, RandomData(300, 2));
}

TEST_P(ConformanceTest, OverwriteReplacesWholeObject) {
  ASSERT_TRUE(b_->Save("o", RandomData(5000, 1), SaveMode::kOverwrite).ok());
  Bytes shorter = RandomData(100, 2);
  ASSERT_TRUE(b_->Save("o", shorter, SaveMode::kOverwrite).ok());
  ExpectObject("o", shorter);
}

TEST_P(ConformanceTest, MissingObjectsAreNotFound) {
  EXPECT_EQ(b_->Load("nope", 0, kToEnd).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(b_->Load("nope", 5, 10).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(b_->Stat("dir/nope").status().code(), StatusCode::kNotFound);
}

TEST_P(ConformanceTest, RandomRangeLoads) {
  const size_t n = 100'000;
  Bytes data = RandomData(n, 7);
  ASSERT_TRUE(b_->Save("ranged", data, SaveMode::kOverwrite).ok());
  std::mt19937_64 rng(99);
  for (int i = 0; i < 40; ++i) {
    uint64_t off = rng() % n;
    uint64_t len = 1 + rng() % (n - off);
    Result<Bytes> got = b_->Load("ranged", off, len);
    ASSERT_TRUE(got.ok()) << off << "+" << len << ": "
                          << got.status().ToString();
    ASSERT_TRUE(std::equal(got->begin(), got->end(), data.begin() + off) &&
                got->size() == len)
        << off << "+" << len;
  }
  // To the end, from the middle and from exactly the end.
  Result<Bytes> tail = b_->Load("ranged", n - 10, kToEnd);
  ASSERT_TRUE(tail.ok());
  EXPECT_TRUE(std::equal(tail->begin(), tail->end(), data.end() - 10));
  Result<Bytes> empty = b_->Load("ranged", n, kToEnd);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->empty());
  Result<Bytes> zero = b_->Load("ranged", 10, 0);
  ASSERT_TRUE(zero.ok()) << zero.status().ToString();
  EXPECT_TRUE(zero->empty());
}

TEST_P(ConformanceTest, LoadPastTheEndIsInvalidArgument) {
  ASSERT_TRUE(
      b_->Save("short", RandomData(1000, 3), SaveMode::kOverwrite).ok());
  EXPECT_EQ(b_->Load("short", 990, 11).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(b_->Load("short", 1001, kToEnd).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(b_->Load("short", 5000, 10).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(ConformanceTest, ListsMoreThanOnePageAndFiltersByPrefix) {
  // More than S3's 1000 keys per listing page.
  constexpr int kObjects = 1100;
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    for (int i; (i = next.fetch_add(1)) < kObjects;) {
      std::string name = (i % 2 ? "data/" : "index/") + std::to_string(i);
      if (!b_->Save(name, RandomData(i % 7, i), SaveMode::kOverwrite).ok()) {
        failed = true;
      }
    }
  };
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 8; ++t) threads.emplace_back(work);
  }
  ASSERT_FALSE(failed);
  ASSERT_TRUE(
      b_->Save("datafile", RandomData(3, 3), SaveMode::kOverwrite).ok());

  std::map<std::string, uint64_t> all = ListAll(b_, "");
  EXPECT_EQ(all.size(), kObjects + 1u);
  for (int i = 0; i < kObjects; ++i) {
    std::string name = (i % 2 ? "data/" : "index/") + std::to_string(i);
    auto it = all.find(name);
    ASSERT_NE(it, all.end()) << name;
    EXPECT_EQ(it->second, static_cast<uint64_t>(i % 7));
  }
  EXPECT_EQ(ListAll(b_, "data/").size(), kObjects / 2u);
  EXPECT_EQ(ListAll(b_, "data").size(), kObjects / 2u + 1);
  // Even numbers starting with 1: 10-18, 100-198, 1000-1098.
  EXPECT_EQ(ListAll(b_, "index/1").size(), 5u + 50u + 50u);
  EXPECT_TRUE(ListAll(b_, "nothing/").empty());
}

TEST_P(ConformanceTest, ListStopsOnCallbackError) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        b_->Save("k/" + std::to_string(i), {}, SaveMode::kOverwrite).ok());
  }
  int seen = 0;
  Status s = b_->List("k/", [&](const ObjectInfo&) {
    return ++seen == 2 ? Status::Cancelled("enough") : Status::OK();
  });
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
  EXPECT_EQ(seen, 2);
}

TEST_P(ConformanceTest, RemoveIsIdempotentAndBatched) {
  ASSERT_TRUE(b_->Save("gone", RandomData(10, 1), SaveMode::kOverwrite).ok());
  EXPECT_TRUE(b_->Remove("gone").ok());
  EXPECT_EQ(b_->Stat("gone").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(b_->Remove("gone").ok());
  EXPECT_TRUE(b_->Remove("never/was").ok());

  std::vector<std::string> names;
  for (int i = 0; i < 1200; ++i) names.push_back("batch/" + std::to_string(i));
  for (int i = 0; i < 1200; i += 97) {
    ASSERT_TRUE(
        b_->Save(names[i], RandomData(5, i), SaveMode::kOverwrite).ok());
  }
  ASSERT_TRUE(b_->Save("keep", RandomData(5, 5), SaveMode::kOverwrite).ok());
  EXPECT_TRUE(b_->RemoveMany(names).ok());
  EXPECT_TRUE(ListAll(b_, "batch/").empty());
  EXPECT_TRUE(b_->Stat("keep").ok());
}

TEST_P(ConformanceTest, CreateIfAbsentRefusesExisting) {
  Bytes first = RandomData(64, 1);
  ASSERT_TRUE(b_->Save("once", first, SaveMode::kCreateIfAbsent).ok());
  Status again = b_->Save("once", RandomData(64, 2), SaveMode::kCreateIfAbsent);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.ToString();
  ExpectObject("once", first);
  if (uint64_t t = fixture_->multipart_threshold(); t > 0) {
    Status big =
        b_->Save("once", RandomData(t + 10, 3), SaveMode::kCreateIfAbsent);
    EXPECT_EQ(big.code(), StatusCode::kAlreadyExists) << big.ToString();
    ExpectObject("once", first);
  }
}

TEST_P(ConformanceTest, ConcurrentCreateIfAbsentHasOneWinner) {
  if (!b_->Properties().atomic_create_if_absent) {
    GTEST_FAIL() << "every backend in this suite promises atomic creates";
  }
  constexpr int kRacers = 8;
  std::atomic<int> winners{0};
  std::atomic<int> winner_seed{-1};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kRacers; ++t) {
      threads.emplace_back([&, t] {
        Status s = b_->Save("contested", RandomData(2000, 100 + t),
                            SaveMode::kCreateIfAbsent);
        if (s.ok()) {
          winners++;
          winner_seed = 100 + t;
        } else {
          EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
        }
      });
    }
  }
  ASSERT_EQ(winners.load(), 1);
  ExpectObject("contested", RandomData(2000, winner_seed.load()));
}

TEST_P(ConformanceTest, OddNamesRoundTripAndList) {
  const std::vector<std::string> names = {
      "a b",          "plus+sign",    "ünïcødé/名前", "percent%20x",
      "q?x=1&y=2",    "tilde~(x)*!'", "equals=",      "hash#frag",
      "colon:semi;",  "comma,at@",    "dollar$",      "quote\"back\\",
      "brackets[]{}", "caret^pipe|",  "lt<gt>",       "trailing.dot.",
  };
  for (size_t i = 0; i < names.size(); ++i) {
    ASSERT_TRUE(
        b_->Save("odd/" + names[i], RandomData(i + 1, i), SaveMode::kOverwrite)
            .ok())
        << names[i];
  }
  std::map<std::string, uint64_t> listed = ListAll(b_, "odd/");
  ASSERT_EQ(listed.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(listed.count("odd/" + names[i]), 1u) << names[i];
    ExpectObject("odd/" + names[i], RandomData(i + 1, i));
    EXPECT_TRUE(b_->Remove("odd/" + names[i]).ok());
  }
  EXPECT_TRUE(ListAll(b_, "odd/").empty());
}

TEST_P(ConformanceTest, InvalidNamesAreRefused) {
  for (const char* name : {"", "/abs", "a//b", "../x", ".tmp/x"}) {
    EXPECT_EQ(b_->Save(name, {}, SaveMode::kOverwrite).code(),
              StatusCode::kInvalidArgument)
        << name;
    EXPECT_EQ(b_->Load(name, 0, kToEnd).status().code(),
              StatusCode::kInvalidArgument);
  }
}

TEST_P(ConformanceTest, ConcurrentSavesFromManyThreads) {
  constexpr int kThreads = 8, kEach = 12;
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          int id = t * kEach + i;
          Status s =
              b_->Save("c/" + std::to_string(id),
                       RandomData(1000 + id * 37, id), SaveMode::kOverwrite);
          EXPECT_TRUE(s.ok()) << s.ToString();
        }
      });
    }
  }
  EXPECT_EQ(ListAll(b_, "c/").size(), static_cast<size_t>(kThreads * kEach));
  for (int id = 0; id < kThreads * kEach; ++id) {
    ExpectObject("c/" + std::to_string(id), RandomData(1000 + id * 37, id));
  }
}

// A save that fails part-way leaves nothing visible: no object, no partial
// object, the previous version intact, no temporary files or incomplete
// uploads left behind.
TEST_P(ConformanceTest, BrokenSaveLeavesNothingVisible) {
  if (GetParam() == "Mem") {
    // MemBackend has no point inside Save where it could fail part-way.
    SUCCEED();
    return;
  }
  std::vector<size_t> sizes = {0, 10'000};
  if (uint64_t t = fixture_->multipart_threshold(); t > 0) {
    sizes.push_back(2 * t + 100);
  }
  Bytes previous = RandomData(333, 9);
  for (const char* point : {"partial-write", "before-publish"}) {
    for (size_t n : sizes) {
      SCOPED_TRACE(std::string(point) + " size " + std::to_string(n));
      fixture_->SetSaveFaultHook(nullptr);
      // A size that never reaches `point` saves normally; start clean.
      ASSERT_TRUE(b_->Remove("fresh").ok());
      ASSERT_TRUE(b_->Save("existing", previous, SaveMode::kOverwrite).ok());
      int fired = 0;
      fixture_->SetSaveFaultHook([&](std::string_view p) {
        if (p != point) return Status::OK();
        ++fired;
        return Status::IOError("injected failure at " + std::string(p));
      });
      Status s = b_->Save("fresh", RandomData(n, n), SaveMode::kOverwrite);
      Status s2 =
          b_->Save("existing", RandomData(n, n + 1), SaveMode::kOverwrite);
      fixture_->SetSaveFaultHook(nullptr);
      if (fired == 0) continue;  // this size never reaches that point
      EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
      EXPECT_EQ(s2.code(), StatusCode::kIOError) << s2.ToString();
      EXPECT_EQ(b_->Stat("fresh").status().code(), StatusCode::kNotFound);
      EXPECT_EQ(ListAll(b_, "fresh").size(), 0u);
      ExpectObject("existing", previous);
      Result<int> debris = fixture_->CountDebris();
      ASSERT_TRUE(debris.ok()) << debris.status().ToString();
      EXPECT_EQ(*debris, 0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ConformanceTest,
                         ::testing::Values("Local", "Mem", "S3"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace chatvault::storage::testing
