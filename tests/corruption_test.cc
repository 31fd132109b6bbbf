// Corruption of each kind of object a repository holds — the config, a key
// object, an index, a pack's header and trailer, a data blob, a tree blob,
// a snapshot — by a flipped bit, a truncation or a deletion. For each:
//   - nothing crashes, and whatever fails says so with a clear status;
//   - check names the damage (a key object excepted: check needs the keys;
//     opening with that key object fails and names it);
//   - every file the damage does not reach still restores byte-identical,
//     and a file it does reach fails cleanly, leaving nothing at its name.
// Each case prints one "corruption-summary" line for docs/reliability.md.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "backup/archiver.h"
#include "backup/checker.h"
#include "backup/pack.h"
#include "backup/restorer.h"
#include "backup/test_util.h"
#include "base/bytes.h"
#include "storage/mem_backend.h"

namespace chatvault::backup {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPassphrase = "corruption test";

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> Names(storage::Backend* b, const std::string& dir) {
  std::vector<std::string> out;
  EXPECT_TRUE(b->List(dir, [&](const storage::ObjectInfo& i) {
                 out.push_back(i.name);
                 return Status::OK();
               }).ok());
  std::sort(out.begin(), out.end());
  return out;
}

enum class Damage { kFlip, kTruncate, kDelete };
const char* DamageName(Damage d) {
  switch (d) {
    case Damage::kFlip:
      return "flip";
    case Damage::kTruncate:
      return "truncate";
    case Damage::kDelete:
      return "delete";
  }
  return "";
}

class CorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/cvcorruptXXXXXX";
    dir_ = mkdtemp(tmpl.data());
    std::mt19937_64 rng(5);
    // Two snapshots: "a" with 8 files, then "b" with 4 more files.
    for (int i = 0; i < 12; ++i) {
      std::string content(10'000 + rng() % 50'000, '\0');
      for (char& c : content) c = static_cast<char>(rng());
      fs::path p = dir_ + (i < 8 ? "/a/sub/f" : "/b/g") + std::to_string(i);
      fs::create_directories(p.parent_path());
      std::ofstream(p, std::ios::binary) << content;
    }
    recovery_ = std::make_unique<crypto::RecoveryCode>(
        crypto::RecoveryCode::Generate());
    ASSERT_TRUE(
        Repository::Init(&pristine_, AsBytes(kPassphrase), *recovery_,
                         testing::FastInit({8 << 10, 32 << 10, 128 << 10, 1}))
            .ok());
    Result<std::unique_ptr<Repository>> repo =
        Repository::OpenWithPassphrase(&pristine_, AsBytes(kPassphrase));
    ASSERT_TRUE(repo.ok());
    for (const char* part : {"/a", "/b"}) {
      BackupOptions bo;
      bo.paths = {dir_ + part};
      bo.pack_bytes = 48 << 10;  // a file or two a pack
      Result<BackupResult> r = Backup(repo->get(), bo);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      snapshots_[r->snapshot_id] = dir_ + part;
    }
    // Which object is which, for the damage below.
    Result<std::unique_ptr<BlobStore>> store = BlobStore::Open(repo->get());
    ASSERT_TRUE(store.ok());
    (*store)->index().ForEach([&](const crypto::Digest256&,
                                  const BlobLocation& loc) {
      auto& slot = loc.entry.type() == pb::BLOB_TYPE_TREE ? tree_at_ : data_at_;
      slot.first = PackName(loc.pack);
      if (loc.entry.type() == pb::BLOB_TYPE_TREE)
        tree_packs_.insert(slot.first);
      slot.second = loc.entry.offset();
    });
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A copy of the pristine repository.
  std::unique_ptr<storage::MemBackend> Copy() {
    auto copy = std::make_unique<storage::MemBackend>();
    for (const std::string& name : Names(&pristine_, "")) {
      Result<Bytes> b = pristine_.Load(name, 0, storage::kToEnd);
      EXPECT_TRUE(b.ok());
      EXPECT_TRUE(copy->Save(name, *b, storage::SaveMode::kOverwrite).ok());
    }
    return copy;
  }

  // Damages `name` in `b`: flips a bit of byte `at` (from the end if
  // negative), cuts it to half its size, or deletes it.
  static void Apply(storage::Backend* b, const std::string& name, Damage d,
                    int64_t at) {
    if (d == Damage::kDelete) {
      ASSERT_TRUE(b->Remove(name).ok());
      return;
    }
    Result<Bytes> bytes = b->Load(name, 0, storage::kToEnd);
    ASSERT_TRUE(bytes.ok()) << name << ": " << bytes.status().ToString();
    if (d == Damage::kFlip) {
      size_t i = at >= 0 ? static_cast<size_t>(at)
                         : bytes->size() - static_cast<size_t>(-at);
      ASSERT_LT(i, bytes->size());
      (*bytes)[i] ^= std::byte{0x10};
    } else {
      bytes->resize(bytes->size() / 2);
    }
    ASSERT_TRUE(b->Save(name, *bytes, storage::SaveMode::kOverwrite).ok());
  }

  std::string dir_;
  storage::MemBackend pristine_;
  std::unique_ptr<crypto::RecoveryCode> recovery_;
  std::map<std::string, std::string> snapshots_;        // ID -> backed-up dir
  std::pair<std::string, uint64_t> tree_at_, data_at_;  // pack, offset
  std::set<std::string> tree_packs_;
};

TEST_F(CorruptionTest, EachKindOfObjectDamagedEachWay) {
  struct Kind {
    std::string name;
    std::function<std::string(storage::Backend*)> object;  // which
    int64_t flip_at;
  };
  const std::vector<Kind> kinds = {
      {"config", [](storage::Backend*) { return std::string("config"); }, 40},
      {"key object",
       [](storage::Backend* b) { return Names(b, "keys/").front(); }, 40},
      {"index", [](storage::Backend* b) { return Names(b, "index/").front(); },
       40},
      {"snapshot",
       [](storage::Backend* b) { return Names(b, "snapshots/").front(); }, 40},
      {"pack header",
       [](storage::Backend* b) { return Names(b, "data/").front(); }, -20},
      {"pack trailer",
       [](storage::Backend* b) { return Names(b, "data/").front(); }, -2},
      {"data blob", [&](storage::Backend*) { return data_at_.first; },
       static_cast<int64_t>(data_at_.second) + 5},
      {"tree blob", [&](storage::Backend*) { return tree_at_.first; },
       static_cast<int64_t>(tree_at_.second) + 5},
  };
  uint64_t cases = 0, files_restored = 0, files_refused = 0;
  for (const Kind& kind : kinds) {
    for (Damage d : {Damage::kFlip, Damage::kTruncate, Damage::kDelete}) {
      // A whole pack deleted or cut is the same damage whichever part was
      // aimed at.
      if (d != Damage::kFlip &&
          (kind.name == "pack trailer" || kind.name == "data blob" ||
           kind.name == "tree blob")) {
        continue;
      }
      SCOPED_TRACE(kind.name + " " + DamageName(d));
      ++cases;
      std::unique_ptr<storage::MemBackend> b = Copy();
      const std::string object = kind.object(b.get());
      Apply(b.get(), object, d, kind.flip_at);

      Result<std::unique_ptr<Repository>> repo =
          Repository::OpenWithPassphrase(b.get(), AsBytes(kPassphrase));
      if (kind.name == "config" || kind.name == "key object") {
        // The passphrase's key object and the config are read first.
        bool by_passphrase = repo.ok();
        if (!by_passphrase) {
          StatusCode c = repo.status().code();
          EXPECT_TRUE(c == StatusCode::kCorruption ||
                      c == StatusCode::kNotFound ||
                      c == StatusCode::kPermissionDenied)
              << repo.status().ToString();
          EXPECT_FALSE(repo.status().message().empty());
        }
        if (kind.name == "config") {
          ASSERT_FALSE(by_passphrase) << "a damaged config was accepted";
          EXPECT_EQ(repo.status().code(), StatusCode::kCorruption)
              << repo.status().ToString();
          continue;
        }
        // One key object damaged: the other secret still opens it all.
        if (!by_passphrase) {
          repo = Repository::OpenWithRecoveryCode(b.get(), *recovery_);
        }
        ASSERT_TRUE(repo.ok()) << "neither secret opens the repository: "
                               << repo.status().ToString();
      }
      ASSERT_TRUE(repo.ok()) << repo.status().ToString();

      CheckOptions co;
      co.read_data = true;
      Result<CheckResult> check = Check(repo->get(), co);
      ASSERT_TRUE(check.ok()) << check.status().ToString();
      // A deleted snapshot looks like a forgotten one (docs/reliability.md);
      // check cannot tell.
      if (kind.name != "key object" &&
          !(kind.name == "snapshot" && d == Damage::kDelete)) {
        EXPECT_FALSE(check->problems.empty()) << "check missed the damage";
        const std::string id = object.substr(object.rfind('/') + 1, 8);
        bool named = false;
        for (const std::string& p : check->problems) {
          named = named || p.find(id) != std::string::npos;
        }
        // A lost index leaves blobs no index lists, named by blob ID.
        if (!(kind.name == "index" && d == Damage::kDelete)) {
          EXPECT_TRUE(named) << "check does not name " << object;
        }
      }

      // Every file alone: byte-identical, or refused with nothing left.
      uint64_t refused = 0, restored = 0;
      for (const auto& [sid, src] : snapshots_) {
        for (const auto& e : fs::recursive_directory_iterator(src)) {
          if (!e.is_regular_file()) continue;
          const std::string target = dir_ + "/target";
          fs::remove_all(target);
          RestoreOptions ro;
          ro.target = target;
          ro.includes = {e.path().string()};
          Result<RestoreResult> r = Restore(repo->get(), sid, ro);
          const fs::path out = target + e.path().string();
          if (r.ok() && fs::exists(out)) {
            EXPECT_EQ(ReadAll(out), ReadAll(e.path())) << e.path();
            ++restored;
          } else {
            ++refused;
            EXPECT_FALSE(r.ok()) << e.path() << " silently missing";
            StatusCode c = r.status().code();
            EXPECT_TRUE(c == StatusCode::kCorruption ||
                        c == StatusCode::kNotFound)
                << r.status().ToString();
            EXPECT_FALSE(fs::exists(out)) << "partial " << out;
          }
        }
      }
      // A pack holds a file or two, a tree one directory (all 8 files of
      // the first snapshot are in one); the rest of the files restore.
      // (An index lists a pack that may hold trees.)
      const uint64_t allowed = kind.name == "snapshot" ||
                                       kind.name == "index" ||
                                       tree_packs_.contains(object)
                                   ? 8
                                   : 4;
      EXPECT_LE(refused, allowed)
          << "damage to one " << kind.name << " took " << refused << " files";
      if (kind.name == "key object") {
        EXPECT_EQ(refused, 0u);
      }
      files_restored += restored;
      files_refused += refused;
    }
  }
  printf(
      "corruption-summary cases=%llu files_restored=%llu "
      "files_refused=%llu\n",
      (unsigned long long)cases, (unsigned long long)files_restored,
      (unsigned long long)files_refused);
}

}  // namespace
}  // namespace chatvault::backup
