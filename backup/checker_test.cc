// check: a sound repository passes; a single flipped byte in each kind of
// object, a missing pack and a missing delta base are each found, named,
// and traced to the snapshots and paths they affect.
#include "backup/checker.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "backup/archiver.h"
#include "backup/blob_store.h"
#include "backup/sqlite_test_util.h"
#include "backup/test_util.h"
#include "storage/mem_backend.h"

namespace chatvault::backup {
namespace {

namespace fs = std::filesystem;

using testing::Exec;

bool Mentions(const CheckResult& r, const std::string& text) {
  for (const std::string& p : r.problems) {
    if (p.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string Problems(const CheckResult& r) {
  std::string all;
  for (const std::string& p : r.problems) all += "  " + p + "\n";
  return all;
}

class CheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/chatvault-check-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const std::string src = dir_ + "/app";
    fs::create_directories(src + "/Media");
    std::ofstream(src + "/Media/photo.jpg", std::ios::binary)
        << std::string("\xFF\xD8\xFF\xE0", 4) << std::string(300000, 'p');
    std::ofstream(src + "/notes.txt") << "a note";
    db_ = src + "/msgstore.db";
    Exec(db_,
         "CREATE TABLE m(id INTEGER PRIMARY KEY, t TEXT);"
         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n "
         "WHERE i < 3000) INSERT INTO m(t) SELECT printf('message %d from "
         "chat %d', i, i % 17) FROM n;");
    Result<std::unique_ptr<Repository>> r =
        Repository::Init(&backend_, AsBytes("pw"),
                         crypto::RecoveryCode::Generate(), testing::FastInit());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    repo_ = std::move(*r);
    BackupOptions o;
    o.paths = {src};
    Result<BackupResult> first = Backup(repo_.get(), o);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    // A day later: scattered updates, stored as deltas.
    Exec(db_, "UPDATE m SET t = t || '!' WHERE id % 97 = 0;");
    Result<BackupResult> second = Backup(repo_.get(), o);
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    ASSERT_GT(second->delta_blobs, 0u);
    // The sound repository, to put back between cases.
    ASSERT_TRUE(backend_
                    .List("",
                          [&](const storage::ObjectInfo& info) {
                            Result<Bytes> b =
                                backend_.Load(info.name, 0, storage::kToEnd);
                            if (!b.ok()) return b.status();
                            sound_[info.name] = std::move(*b);
                            return Status::OK();
                          })
                    .ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  void PutBack() {
    std::vector<std::string> names;
    ASSERT_TRUE(backend_
                    .List("",
                          [&](const storage::ObjectInfo& info) {
                            names.push_back(info.name);
                            return Status::OK();
                          })
                    .ok());
    for (const std::string& n : names) ASSERT_TRUE(backend_.Remove(n).ok());
    for (const auto& [name, bytes] : sound_) {
      ASSERT_TRUE(
          backend_.Save(name, bytes, storage::SaveMode::kCreateIfAbsent).ok());
    }
  }

  // The objects whose names start with `prefix`.
  std::vector<std::string> Names(const std::string& prefix) {
    std::vector<std::string> names;
    for (const auto& [name, bytes] : sound_) {
      if (name.starts_with(prefix)) names.push_back(name);
    }
    return names;
  }

  // Flips one bit of byte `at` (from the end if negative) of `name`.
  void Flip(const std::string& name, int64_t at) {
    Bytes b = sound_.at(name);
    const size_t i =
        at >= 0 ? static_cast<size_t>(at) : b.size() - static_cast<size_t>(-at);
    b[i] ^= std::byte{0x10};
    ASSERT_TRUE(backend_.Save(name, b, storage::SaveMode::kOverwrite).ok());
  }

  CheckResult RunCheck(bool read_data) {
    CheckOptions o;
    o.read_data = read_data;
    Result<CheckResult> r = Check(repo_.get(), o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : CheckResult();
  }

  // The pack that holds blob `id`, and the entry there.
  BlobLocation Where(const crypto::Digest256& id) {
    Result<std::unique_ptr<BlobStore>> store = BlobStore::Open(repo_.get());
    EXPECT_TRUE(store.ok());
    std::optional<BlobLocation> loc = (*store)->index().Find(id);
    EXPECT_TRUE(loc.has_value());
    return loc ? *loc : BlobLocation();
  }

  // Some indexed blob for which `pred` holds.
  std::optional<std::pair<crypto::Digest256, BlobLocation>> AnyBlob(
      const std::function<bool(const BlobLocation&)>& pred) {
    Result<std::unique_ptr<BlobStore>> store = BlobStore::Open(repo_.get());
    EXPECT_TRUE(store.ok());
    std::optional<std::pair<crypto::Digest256, BlobLocation>> found;
    (*store)->index().ForEach(
        [&](const crypto::Digest256& id, const BlobLocation& loc) {
          if (!found && pred(loc)) found.emplace(id, loc);
        });
    return found;
  }

  std::string dir_, db_;
  storage::MemBackend backend_;
  std::unique_ptr<Repository> repo_;
  std::map<std::string, Bytes> sound_;
};

TEST_F(CheckerTest, SoundRepositoryPasses) {
  CheckResult r = RunCheck(/*read_data=*/true);
  EXPECT_TRUE(r.problems.empty()) << Problems(r);
  EXPECT_EQ(r.snapshots, 2u);
  EXPECT_GT(r.trees, 3u);
  EXPECT_GT(r.blobs, 10u);
  EXPECT_EQ(r.packs_read, r.packs);
  EXPECT_TRUE(r.notes.empty());
}

// One flipped bit in each kind of object the check reads.
TEST_F(CheckerTest, FlippedByteInEachKindOfObjectIsFound) {
  struct Case {
    std::string kind;
    std::function<std::string()> damage;  // returns what the report names
    bool needs_read_data;
  };
  const std::vector<Case> cases = {
      {"index object",
       [&] {
         const std::string name = Names("index/").front();
         Flip(name, 40);
         return "index " + name.substr(6);
       },
       false},
      {"snapshot",
       [&] {
         const std::string name = Names("snapshots/").front();
         Flip(name, 40);
         return "snapshot " + name.substr(10, 8);
       },
       false},
      {"tree blob",
       [&] {
         auto tree = AnyBlob([](const BlobLocation& l) {
           return l.entry.type() == pb::BLOB_TYPE_TREE;
         });
         Flip(PackName(tree->second.pack), tree->second.entry.offset() + 5);
         return "tree blob " + HexEncode(tree->first).substr(0, 16);
       },
       false},
      {"data blob",
       [&] {
         auto data = AnyBlob([](const BlobLocation& l) {
           return l.entry.type() == pb::BLOB_TYPE_DATA &&
                  l.entry.base().empty();
         });
         Flip(PackName(data->second.pack), data->second.entry.offset() + 5);
         return "blob " + HexEncode(data->first).substr(0, 16);
       },
       true},
      {"delta blob",
       [&] {
         auto delta = AnyBlob(
             [](const BlobLocation& l) { return !l.entry.base().empty(); });
         Flip(PackName(delta->second.pack), delta->second.entry.offset() + 5);
         return "blob " + HexEncode(delta->first).substr(0, 16);
       },
       true},
      {"pack header",
       [&] {
         const std::string name = Names("data/").front();
         Flip(name, -20);
         return "pack " + name.substr(name.rfind('/') + 1, 16);
       },
       true},
      {"pack trailer",
       [&] {
         const std::string name = Names("data/").front();
         Flip(name, -2);
         return "pack " + name.substr(name.rfind('/') + 1, 16);
       },
       true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.kind);
    PutBack();
    const std::string named = c.damage();
    CheckResult structure = RunCheck(/*read_data=*/false);
    if (!c.needs_read_data) {
      EXPECT_TRUE(Mentions(structure, named))
          << "wanted '" << named << "' in:\n"
          << Problems(structure);
    }
    CheckResult full = RunCheck(/*read_data=*/true);
    EXPECT_TRUE(Mentions(full, named)) << "wanted '" << named << "' in:\n"
                                       << Problems(full);
  }
}

// A lost pack is named with the snapshots and paths it takes with it; a
// pack no index lists is only a note.
TEST_F(CheckerTest, MissingPackIsTracedToWhatItAffects) {
  auto photo = AnyBlob([](const BlobLocation& l) {
    return l.entry.type() == pb::BLOB_TYPE_DATA &&
           l.entry.raw_length() > 200000;
  });
  ASSERT_TRUE(photo.has_value());
  const std::string pack = PackName(photo->second.pack);
  ASSERT_TRUE(backend_.Remove(pack).ok());
  ASSERT_TRUE(backend_
                  .Save("data/00/" + std::string(64, '0'), AsBytes("stray"),
                        storage::SaveMode::kCreateIfAbsent)
                  .ok());
  CheckResult r = RunCheck(/*read_data=*/false);
  const std::string short_id = pack.substr(pack.rfind('/') + 1, 16);
  EXPECT_TRUE(Mentions(r, "pack " + short_id + " is missing")) << Problems(r);
  // Everything the first backup stored is in that one pack: the first
  // snapshot is lost from its root, the second where it used the pack.
  EXPECT_TRUE(Mentions(r, "affects snapshot")) << Problems(r);
  EXPECT_TRUE(Mentions(r, "/app/Media")) << Problems(r);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("in no index"), std::string::npos);
}

// A delta whose base no index lists cannot be restored: the check says so
// without reading any pack.
TEST_F(CheckerTest, DeltaWithoutItsBaseIsFound) {
  auto delta =
      AnyBlob([](const BlobLocation& l) { return !l.entry.base().empty(); });
  ASSERT_TRUE(delta.has_value());
  const crypto::Digest256 base =
      crypto::Digest256FromBytes(delta->second.entry.base());
  // Rewrite the indexes without the base's entry, as a careless prune
  // would leave them.
  for (const std::string& name : Names("index/")) {
    pb::Index index;
    ASSERT_TRUE(
        repo_->LoadObject(ObjectType::kIndex, "index", name.substr(6), &index)
            .ok());
    for (pb::IndexPack& p : *index.mutable_packs()) {
      auto* entries = p.mutable_entries();
      for (int i = entries->size() - 1; i >= 0; --i) {
        if (entries->Get(i).id() == std::string(AsChars(base))) {
          entries->DeleteSubrange(i, 1);
        }
      }
    }
    ASSERT_TRUE(backend_.Remove(name).ok());
    ASSERT_TRUE(repo_->SaveObject(ObjectType::kIndex, "index", index).ok());
  }
  CheckResult r = RunCheck(/*read_data=*/false);
  EXPECT_TRUE(
      Mentions(r, "needs its delta base " + HexEncode(base).substr(0, 16)))
      << Problems(r);
  EXPECT_TRUE(Mentions(r, "/msgstore.db")) << Problems(r);
}

TEST_F(CheckerTest, SubsetsCoverEveryPackOnce) {
  uint64_t read = 0, total = 0;
  for (uint32_t n = 1; n <= 3; ++n) {
    CheckOptions o;
    o.read_data = true;
    o.subset_n = n;
    o.subset_m = 3;
    Result<CheckResult> r = Check(repo_.get(), o);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->problems.empty()) << Problems(*r);
    read += r->packs_read;
    total = r->packs;
  }
  EXPECT_EQ(read, total);
  CheckOptions bad;
  bad.read_data = true;
  bad.subset_n = 4;
  bad.subset_m = 3;
  EXPECT_EQ(Check(repo_.get(), bad).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chatvault::backup
