// The index cache: reused across opens, extended by new index objects,
// rebuilt when an index object disappears or the cache is damaged, and
// always in agreement with the repository read from scratch.
#include "backup/blob_index.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "backup/blob_store.h"
#include "backup/test_util.h"
#include "storage/mem_backend.h"

namespace chatvault::backup {
namespace {

namespace fs = std::filesystem;

class BlobIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/chatvault-blob-index-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Result<std::unique_ptr<Repository>> r =
        Repository::Init(&backend_, AsBytes("pw"),
                         crypto::RecoveryCode::Generate(), testing::FastInit());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    repo_ = std::move(*r);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Stores `n` distinct blobs in one session (one pack, one index object)
  // and returns their IDs.
  std::vector<crypto::Digest256> AddBlobs(int n, int seed) {
    Result<std::unique_ptr<BlobStore>> store = BlobStore::Open(repo_.get());
    EXPECT_TRUE(store.ok());
    std::vector<crypto::Digest256> ids;
    for (int i = 0; i < n; ++i) {
      std::string data = "blob " + std::to_string(seed) + "/" +
                         std::to_string(i) + std::string(100, 'x');
      crypto::Digest256 id = BlobId(repo_->keys().blob_id_key(), AsBytes(data));
      EXPECT_TRUE((*store)->Add(pb::BLOB_TYPE_DATA, id, AsBytes(data)).ok());
      ids.push_back(id);
    }
    EXPECT_TRUE((*store)->Flush().ok());
    return ids;
  }

  std::unique_ptr<BlobIndex> OpenCached() {
    Result<std::unique_ptr<BlobIndex>> index =
        BlobIndex::Open(repo_.get(), dir_);
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    return index.ok() ? std::move(*index) : nullptr;
  }

  // Every entry of `index` equals the one read from the repository without
  // a cache, and both hold the same blobs.
  void ExpectAgreesWithRepository(const BlobIndex& index) {
    Result<std::unique_ptr<BlobIndex>> fresh = BlobIndex::Open(repo_.get(), "");
    ASSERT_TRUE(fresh.ok());
    size_t n = 0;
    (*fresh)->ForEach([&](const crypto::Digest256& id, const BlobLocation& a) {
      ++n;
      std::optional<BlobLocation> b = index.Find(id);
      ASSERT_TRUE(b.has_value()) << HexEncode(id);
      EXPECT_EQ(a.pack, b->pack);
      EXPECT_EQ(a.epoch, b->epoch);
      EXPECT_EQ(a.entry.SerializeAsString(), b->entry.SerializeAsString());
    });
    size_t m = 0;
    index.ForEach([&](const crypto::Digest256&, const BlobLocation&) { ++m; });
    EXPECT_EQ(n, m);
  }

  std::string IndexName(int i) {
    std::vector<std::string> names;
    EXPECT_TRUE(backend_
                    .List("index/",
                          [&](const storage::ObjectInfo& info) {
                            names.push_back(info.name);
                            return Status::OK();
                          })
                    .ok());
    std::sort(names.begin(), names.end());
    return names.at(static_cast<size_t>(i));
  }

  std::string CacheDir() {
    return dir_ + "/" + HexEncode(repo_->keys().repository_id()) + "/index";
  }

  std::string dir_;
  storage::MemBackend backend_;
  std::unique_ptr<Repository> repo_;
};

TEST_F(BlobIndexTest, SecondOpenReadsNoIndexObject) {
  std::vector<crypto::Digest256> a = AddBlobs(20, 1);
  std::vector<crypto::Digest256> b = AddBlobs(20, 2);
  std::unique_ptr<BlobIndex> first = OpenCached();
  ASSERT_TRUE(first && first->cached());
  EXPECT_EQ(first->indexes_loaded(), 2u);
  first.reset();
  std::unique_ptr<BlobIndex> second = OpenCached();
  ASSERT_TRUE(second && second->cached());
  EXPECT_EQ(second->indexes_loaded(), 0u);
  for (const auto& id : a) EXPECT_TRUE(second->Contains(id));
  for (const auto& id : b) EXPECT_TRUE(second->Contains(id));
  EXPECT_FALSE(second->Contains(crypto::Digest256{}));
  ExpectAgreesWithRepository(*second);
}

TEST_F(BlobIndexTest, NewIndexObjectsAreMergedOnNextOpen) {
  AddBlobs(10, 1);
  ASSERT_TRUE(OpenCached());
  std::vector<crypto::Digest256> later = AddBlobs(10, 2);  // another session
  std::unique_ptr<BlobIndex> index = OpenCached();
  ASSERT_TRUE(index);
  EXPECT_EQ(index->indexes_loaded(), 1u);
  for (const auto& id : later) EXPECT_TRUE(index->Contains(id));
  ExpectAgreesWithRepository(*index);
}

TEST_F(BlobIndexTest, SessionIndexesAreCachedWhenTheStoreCloses) {
  AddBlobs(5, 1);
  {
    Result<std::unique_ptr<BlobStore>> store =
        BlobStore::Open(repo_.get(), dir_);
    ASSERT_TRUE(store.ok());
    std::string data = "written through the cached store";
    crypto::Digest256 id = BlobId(repo_->keys().blob_id_key(), AsBytes(data));
    ASSERT_TRUE((*store)->Add(pb::BLOB_TYPE_DATA, id, AsBytes(data)).ok());
    ASSERT_TRUE((*store)->Flush().ok());
    EXPECT_TRUE((*store)->Has(id));
  }
  std::unique_ptr<BlobIndex> index = OpenCached();
  ASSERT_TRUE(index);
  EXPECT_EQ(index->indexes_loaded(), 0u);
  ExpectAgreesWithRepository(*index);
}

TEST_F(BlobIndexTest, RemovedIndexObjectRebuildsTheCache) {
  AddBlobs(10, 1);
  AddBlobs(10, 2);
  ASSERT_TRUE(OpenCached());
  // Another device compacted the indexes: one object is gone.
  ASSERT_TRUE(backend_.Remove(IndexName(0)).ok());
  std::unique_ptr<BlobIndex> index = OpenCached();
  ASSERT_TRUE(index && index->cached());
  EXPECT_EQ(index->indexes_loaded(), 1u);
  ExpectAgreesWithRepository(*index);  // the removed blobs are not found
}

// A prune's index names the indexes it replaces; until they are deleted,
// readers skip them, and a cache that merged them is rebuilt.
TEST_F(BlobIndexTest, SupersededIndexesAreSkipped) {
  std::vector<crypto::Digest256> a = AddBlobs(10, 1);
  std::vector<crypto::Digest256> b = AddBlobs(10, 2);
  ASSERT_TRUE(OpenCached());  // the cache merges both
  const std::string first = IndexName(0), second = IndexName(1);
  pb::Index replaced, other;
  ASSERT_TRUE(
      repo_->LoadObject(ObjectType::kIndex, "index", first.substr(6), &replaced)
          .ok());
  ASSERT_TRUE(
      repo_->LoadObject(ObjectType::kIndex, "index", second.substr(6), &other)
          .ok());
  // The compacted index keeps the blobs of `first` but the first five, and
  // supersedes both objects.
  pb::Index compacted;
  for (const pb::Index* object : {&replaced, &other}) {
    const pb::IndexPack& p = object->packs(0);
    pb::IndexPack* kept = compacted.add_packs();
    *kept = p;
    kept->clear_entries();
    for (const pb::PackEntry& e : p.entries()) {
      const crypto::Digest256 id = crypto::Digest256FromBytes(e.id());
      if (std::find(a.begin(), a.begin() + 5, id) == a.begin() + 5) {
        *kept->add_entries() = e;
      }
    }
  }
  for (const std::string& name : {first, second}) {
    Result<Bytes> raw = HexDecode(name.substr(6));
    ASSERT_TRUE(raw.ok());
    compacted.add_supersedes(std::string(AsChars(*raw)));
  }
  Result<std::string> id =
      repo_->SaveObject(ObjectType::kIndex, "index", compacted);
  ASSERT_TRUE(id.ok());
  for (bool cached : {true, false}) {
    Result<std::unique_ptr<BlobIndex>> index =
        BlobIndex::Open(repo_.get(), cached ? dir_ : "");
    ASSERT_TRUE(index.ok());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ((*index)->Contains(a[i]), i >= 5) << i << " cached " << cached;
    }
    for (const auto& blob : b) EXPECT_TRUE((*index)->Contains(blob));
    EXPECT_EQ((*index)->names(), std::set<std::string>{*id});
  }
  // Once the replaced objects are deleted, nothing changes for readers.
  ASSERT_TRUE(backend_.Remove(first).ok());
  ASSERT_TRUE(backend_.Remove(second).ok());
  std::unique_ptr<BlobIndex> index = OpenCached();
  ASSERT_TRUE(index);
  EXPECT_FALSE(index->Contains(a[0]));
  EXPECT_TRUE(index->Contains(a[5]));
  ExpectAgreesWithRepository(*index);
}

TEST_F(BlobIndexTest, DamagedOrForeignCacheIsRebuilt) {
  std::vector<crypto::Digest256> ids = AddBlobs(10, 1);
  ASSERT_TRUE(OpenCached());
  std::ofstream(CacheDir() + "/data.mdb", std::ios::binary | std::ios::trunc)
      << std::string(8192, '\x5a');
  std::unique_ptr<BlobIndex> index = OpenCached();
  ASSERT_TRUE(index && index->cached());
  EXPECT_EQ(index->indexes_loaded(), 1u);
  for (const auto& id : ids) EXPECT_TRUE(index->Contains(id));
  ExpectAgreesWithRepository(*index);
}

TEST_F(BlobIndexTest, UnusableCacheDirectoryFallsBackToMemory) {
  std::vector<crypto::Digest256> ids = AddBlobs(10, 1);
  std::ofstream(dir_ + "/file") << "not a directory";
  Result<std::unique_ptr<BlobIndex>> index =
      BlobIndex::Open(repo_.get(), dir_ + "/file");
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_FALSE((*index)->cached());
  for (const auto& id : ids) EXPECT_TRUE((*index)->Contains(id));
}

TEST_F(BlobIndexTest, TamperedIndexObjectIsCorruption) {
  AddBlobs(10, 1);
  const std::string name = IndexName(0);
  Result<Bytes> data = backend_.Load(name, 0, storage::kToEnd);
  ASSERT_TRUE(data.ok() && !data->empty());
  (*data)[data->size() / 2] ^= std::byte{1};
  ASSERT_TRUE(backend_.Remove(name).ok());
  ASSERT_TRUE(
      backend_.Save(name, *data, storage::SaveMode::kCreateIfAbsent).ok());
  Result<std::unique_ptr<BlobIndex>> index = BlobIndex::Open(repo_.get(), dir_);
  EXPECT_EQ(index.status().code(), StatusCode::kCorruption);
}

using ReadAheadTest = BlobIndexTest;

std::vector<std::string> Raw(const std::vector<crypto::Digest256>& ids) {
  std::vector<std::string> raw;
  for (const auto& id : ids) raw.emplace_back(AsChars(id));
  return raw;
}

TEST_F(ReadAheadTest, ReadsAheadInOrderWithRepeatsAndUnknownIds) {
  std::vector<crypto::Digest256> ids = AddBlobs(30, 1);
  Result<std::unique_ptr<BlobStore>> store = BlobStore::Open(repo_.get());
  ASSERT_TRUE(store.ok());
  std::vector<Bytes> expected;
  for (const auto& id : ids) {
    Result<Bytes> b = (*store)->Read(id);
    ASSERT_TRUE(b.ok());
    expected.push_back(*b);
  }
  // A file whose chunks repeat, with an ID no index lists in the middle.
  std::vector<crypto::Digest256> order = ids;
  order.insert(order.begin() + 10, ids[3]);
  crypto::Digest256 unknown{};
  unknown[0] = std::byte{1};
  order.insert(order.begin() + 20, unknown);
  (*store)->ReadAhead(Raw(order));
  for (const auto& id : order) {
    Result<Bytes> b = (*store)->Read(id);
    if (id == unknown) {
      EXPECT_EQ(b.status().code(), StatusCode::kNotFound);
      continue;
    }
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    size_t i = std::find(ids.begin(), ids.end(), id) - ids.begin();
    EXPECT_EQ(*b, expected[i]);
  }
}

TEST_F(ReadAheadTest, DamagedBlobFailsOnlyItsOwnRead) {
  std::vector<crypto::Digest256> ids = AddBlobs(5, 1);
  Result<std::unique_ptr<BlobStore>> store = BlobStore::Open(repo_.get());
  ASSERT_TRUE(store.ok());
  // Flip a byte inside the third blob of the (only) pack.
  std::optional<BlobLocation> loc = (*store)->index().Find(ids[2]);
  ASSERT_TRUE(loc);
  const std::string name = PackName(loc->pack);
  Result<Bytes> pack = backend_.Load(name, 0, storage::kToEnd);
  ASSERT_TRUE(pack.ok());
  (*pack)[loc->entry.offset() + loc->entry.length() / 2] ^= std::byte{4};
  ASSERT_TRUE(backend_.Remove(name).ok());
  ASSERT_TRUE(
      backend_.Save(name, *pack, storage::SaveMode::kCreateIfAbsent).ok());
  (*store)->ReadAhead(Raw(ids));
  for (size_t i = 0; i < ids.size(); ++i) {
    Result<Bytes> b = (*store)->Read(ids[i]);
    EXPECT_EQ(b.ok(), i != 2) << i;
    if (i == 2) {
      EXPECT_EQ(b.status().code(), StatusCode::kCorruption);
    }
  }
}

TEST_F(ReadAheadTest, DroppedReadAheadLeavesDirectReadsWorking) {
  std::vector<crypto::Digest256> ids = AddBlobs(20, 1);
  Result<std::unique_ptr<BlobStore>> store = BlobStore::Open(repo_.get());
  ASSERT_TRUE(store.ok());
  (*store)->ReadAhead(Raw(ids));
  ASSERT_TRUE((*store)->Read(ids[0]).ok());
  (*store)->DropReadAhead();
  // Nothing waits for the dropped reads, and the IDs read directly.
  for (const auto& id : ids) EXPECT_TRUE((*store)->Read(id).ok());
  // And read-ahead works again afterwards.
  (*store)->ReadAhead(Raw(ids));
  for (const auto& id : ids) EXPECT_TRUE((*store)->Read(id).ok());
}

}  // namespace
}  // namespace chatvault::backup
