// BlobIndex: where each blob of the repository is (pack, key epoch, pack
// entry), read from the repository's index objects.
//
// With a cache directory the entries are kept in LMDB
// (<cache dir>/<repository id>/index), so that opening the repository reads
// only the index objects added since the last run, and memory does not grow
// with the repository. Without one (or if the cache cannot be opened), they
// are held in memory.
//
// The cache mirrors index objects, which are never changed once written, so
// an entry stays true as long as its index object exists. When
// an index object the cache has merged is gone from the repository
// (compacted or pruned, perhaps by another device), the cache is dropped and
// rebuilt. Indexes a prune replaced (named in another index's `supersedes`)
// are skipped, and a cache holding one is rebuilt too. Like the file-change
// cache it is disposable: deleting it costs one full read of the indexes.
//
// Thread-safety: not thread-safe; BlobStore serializes calls.
#ifndef CHATVAULT_BACKUP_BLOB_INDEX_H_
#define CHATVAULT_BACKUP_BLOB_INDEX_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backup/repository.h"
#include "crypto/blake2b.h"
#include "proto/repository.pb.h"

namespace chatvault::backup {

struct BlobLocation {
  crypto::Digest256 pack{};
  uint32_t epoch = 0;
  pb::PackEntry entry;
};

class BlobIndex {
 public:
  // Reads the repository's index objects (only those the cache lacks).
  // Corruption names an index object that fails to authenticate. An empty
  // `cache_dir` keeps the index in memory.
  // With `damaged`, an index object that cannot be read is recorded there
  // (by name, with the error) and skipped instead (`check`).
  static Result<std::unique_ptr<BlobIndex>> Open(
      Repository* repo, const std::string& cache_dir,
      std::map<std::string, Status>* damaged = nullptr);
  ~BlobIndex();

  std::optional<BlobLocation> Find(const crypto::Digest256& id) const;
  bool Contains(const crypto::Digest256& id) const;

  // Adds the entries of index object `name` (its ID in hex), saved by this
  // session. The first location of a blob ID wins, as in Open. With a cache
  // they are held in memory and written to it in one transaction when the
  // index is destroyed.
  void Add(const std::string& name, const pb::Index& index);

  // Every known blob, once each.
  void ForEach(const std::function<void(const crypto::Digest256&,
                                        const BlobLocation&)>& fn) const;

  // The index objects whose entries this index holds: those listed when it
  // was opened, less those a prune's index supersedes, plus those added.
  const std::set<std::string>& names() const { return names_; }
  // Every index object listed when it was opened, superseded or not.
  const std::set<std::string>& listed() const { return listed_; }

  // Whether the entries are kept in the LMDB cache.
  bool cached() const { return db_ != nullptr; }
  // Index objects read from the repository by Open (the rest came from the
  // cache).
  size_t indexes_loaded() const { return indexes_loaded_; }

 private:
  BlobIndex() = default;
  // One listing and reading of the indexes; `vanished` is set if one
  // listed was gone when read.
  static Result<std::unique_ptr<BlobIndex>> OpenAttempt(
      Repository* repo, const std::string& cache_dir,
      std::map<std::string, Status>* damaged, bool* vanished);
  struct Lmdb;
  // Opens or creates the cache; nullptr if it cannot be used.
  static std::unique_ptr<Lmdb> OpenCache(const std::string& dir);
  // Writes the entries and index names held in memory to the cache.
  void WritePending();
  bool CachedContains(const crypto::Digest256& id) const;
  // Empties the cache (or gives it up if that fails); clears `merged`.
  void DropCache(std::set<std::string>* merged);

  std::unique_ptr<Lmdb> db_;
  // Without a cache, every entry; with one, those not written to it yet.
  std::map<crypto::Digest256, BlobLocation> memory_;
  std::vector<std::string> pending_names_;  // index objects not yet cached
  size_t indexes_loaded_ = 0;
  std::set<std::string> names_;
  std::set<std::string> listed_;
};

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_BLOB_INDEX_H_
