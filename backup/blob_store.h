// BlobStore: the repository's content-addressed blobs — which exist (from
// the indexes), adding new ones (packed, then indexed), and reading them
// back, authenticated and checked against their IDs.
//
// Write ordering (docs/design.md 5.5): a pack is saved, then an index
// object listing it; blobs become visible to other sessions only through
// the index. An interrupted session leaves its finished packs indexed, so
// the next backup does not upload them again.
//
// Thread-safety: not thread-safe; one BlobStore per backup or restore.
#ifndef CHATVAULT_BACKUP_BLOB_STORE_H_
#define CHATVAULT_BACKUP_BLOB_STORE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "backup/pack.h"
#include "backup/repository.h"

namespace chatvault::backup {

// Packs are sealed and uploaded once they reach this size.
inline constexpr size_t kTargetPackBytes = 16u << 20;

struct BlobStoreStats {
  uint64_t new_blobs = 0;
  uint64_t new_raw_bytes = 0;  // plaintext of new blobs
  uint64_t packs_written = 0;
  uint64_t pack_bytes_written = 0;
};

class BlobStore {
 public:
  // Reads every index in the repository. Corruption names the index that
  // fails to authenticate.
  static Result<std::unique_ptr<BlobStore>> Open(Repository* repo);

  bool Has(const crypto::Digest256& id) const;
  size_t known_blobs() const { return locations_.size(); }
  // Plaintext bytes of all known blobs, and the number of distinct packs.
  uint64_t known_raw_bytes() const;
  size_t known_packs() const;

  // Stores a blob unless the repository has it already. Returns whether it
  // was new. Uploads a pack (then its index) when the pack is full.
  Result<bool> Add(pb::BlobType type, const crypto::Digest256& id,
                   ByteView plaintext);

  // Uploads the pending pack and its index, if any blob is pending.
  Status Flush();

  // Reads and authenticates a blob; Corruption if its plaintext does not
  // hash to `id`, NotFound if no index lists it.
  Result<Bytes> Read(const crypto::Digest256& id);

  const BlobStoreStats& stats() const { return stats_; }

 private:
  struct Location {
    crypto::Digest256 pack;
    uint32_t epoch;
    pb::PackEntry entry;
  };
  explicit BlobStore(Repository* repo);
  void AddIndex(const pb::Index& index);

  Repository* repo_;
  std::map<crypto::Digest256, Location> locations_;
  std::optional<PackWriter> writer_;
  BlobStoreStats stats_;
};

// "data/<first two hex digits>/<pack id>".
std::string PackName(const crypto::Digest256& pack_id);

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_BLOB_STORE_H_
