// BlobStore: the repository's content-addressed blobs — which exist (from
// the indexes), adding new ones (packed, then indexed), and reading them
// back, authenticated and checked against their IDs.
//
// Write ordering (docs/design.md 5.5): a pack is saved, then an index
// object listing it; blobs become visible to other sessions only through
// the index. An interrupted session leaves its finished packs indexed, so
// the next backup does not upload them again.
//
// Data blobs are hashed, deduplicated, compressed and sealed by worker
// threads (one per core) while the caller goes on reading and chunking; at
// most kMaxBytesInFlight of plaintext waits for them, so memory stays
// bounded. Workers hash before they seal, so the caller waiting for the IDs
// of a file's chunks waits for hashing only. Full packs are uploaded by an
// uploader thread, one at a time and each before its index (write ordering
// above), while the next pack fills. Memory: kMaxBytesInFlight, plus two
// packs (filling and uploading), plus what a read-ahead holds (at most
// kMaxBytesInFlight too).
//
// Thread-safety: the public methods are called from one thread; one
// BlobStore per backup or restore.
#ifndef CHATVAULT_BACKUP_BLOB_STORE_H_
#define CHATVAULT_BACKUP_BLOB_STORE_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "backup/blob_index.h"
#include "backup/pack.h"
#include "backup/repository.h"

namespace chatvault::backup {

// Packs are sealed and uploaded once they reach this size.
inline constexpr size_t kTargetPackBytes = 16u << 20;
// Plaintext handed to the workers and not yet packed, at most (sealed
// blobs count with their plaintext size until they are in a pack).
inline constexpr size_t kMaxBytesInFlight = 16u << 20;

struct BlobStoreStats {
  uint64_t new_blobs = 0;
  uint64_t new_raw_bytes = 0;  // plaintext of new blobs
  uint64_t packs_written = 0;
  uint64_t pack_bytes_written = 0;
  uint64_t delta_blobs = 0;  // new blobs stored as deltas
};

class BlobStore {
 public:
  // Reads the repository's indexes (through the index cache below
  // `cache_dir`, if not empty; see blob_index.h). Corruption names the index
  // that fails to authenticate.
  // With `damaged`, index objects that cannot be read are skipped and
  // recorded there (see BlobIndex::Open).
  static Result<std::unique_ptr<BlobStore>> Open(
      Repository* repo, const std::string& cache_dir = "",
      std::map<std::string, Status>* damaged = nullptr);
  // Stops the workers; blobs not flushed are dropped.
  ~BlobStore();

  // Packs close once they reach this size (default kTargetPackBytes);
  // smaller packs only make tests reach many packs with little data.
  void set_target_pack_bytes(size_t bytes) { target_pack_bytes_ = bytes; }

  bool Has(const crypto::Digest256& id) const;
  // The plaintext length of an indexed blob, from its index entry.
  std::optional<uint32_t> RawLength(const crypto::Digest256& id) const;
  struct Totals {
    uint64_t blobs = 0;
    uint64_t raw_bytes = 0;  // plaintext of all known blobs
    uint64_t packs = 0;      // distinct packs holding them
  };
  Totals known() const;
  const BlobIndex& index() const { return *index_; }
  const crypto::HashKey& blob_id_key() const {
    return repo_->keys().blob_id_key();
  }

  // Stores a blob unless the repository (or this session) has it already.
  // Returns whether it was new. The blob is sealed in the background;
  // sealed blobs are packed, and a full pack is uploaded (then its index)
  // during a later Add or Flush, which also return any error of the
  // background work. `previous`, if given, names the blob's previous
  // version: the blob may be stored as a delta against it (or against its
  // base, if it is a delta itself; see pack.h).
  Result<bool> Add(pb::BlobType type, const crypto::Digest256& id,
                   ByteView plaintext,
                   const crypto::Digest256* previous = nullptr);

  // Like Add, but seals the blob on the calling thread and puts it in the
  // pack at once, so that it is saved (and indexed) no later than any blob
  // submitted after it: for a blob others depend on (a dictionary).
  Result<bool> AddFirst(pb::BlobType type, const crypto::Digest256& id,
                        ByteView plaintext);

  // Hands blobs whose IDs are not computed yet to the workers, which hash
  // them, and seal those the repository and this session lack: `plaintext`
  // cut into blobs of `piece` bytes (the last may be shorter; 0: one blob),
  // so that many small blobs (database pages) cost one hand-over. Returns a
  // ticket for Resolve. Errors as for Add.
  // With `compress` false the blobs are stored as they are (the file is
  // known compressed media). `previous`, if not empty, names each piece's
  // previous version (an all-zero ID: none), as for Add. With a
  // `dictionary` (a blob of the repository holding a zstd dictionary),
  // pieces not stored as deltas are compressed with it.
  struct Dictionary {
    crypto::Digest256 id{};
    Bytes bytes;
  };
  Result<uint64_t> Submit(
      pb::BlobType type, Bytes plaintext, size_t piece = 0,
      bool compress = true, std::vector<crypto::Digest256> previous = {},
      std::shared_ptr<const Dictionary> dictionary = nullptr);
  // The IDs of a submission's blobs, in order, once a worker has hashed
  // them; each ticket is resolved once.
  std::vector<crypto::Digest256> Resolve(uint64_t ticket);

  // Waits for the workers, then uploads the pending pack and its index, if
  // any blob is pending.
  Status Flush();

  // Makes the entries of index object `name`, saved by the caller, known
  // (a prune listing a pack again).
  void AddIndex(const std::string& name, const pb::Index& index);

  // Where a reader may find blobs' plaintext without fetching them (the
  // previous version of a synced store, a local cache). Thread-safe: called
  // from the workers too. What Get returns is checked against the ID, and
  // ignored if it does not match.
  class LocalSource {
   public:
    virtual ~LocalSource() = default;
    virtual std::optional<Bytes> Get(const crypto::Digest256& id) const = 0;
  };
  // Read and delta-base or dictionary loads try `source` first; nullptr
  // turns it off. `source` must outlive its use.
  void SetLocalSource(const LocalSource* source) { local_ = source; }
  // Blobs (including bases and dictionaries) served by the local source.
  uint64_t local_reads() const { return local_reads_.load(); }

  // Reads and authenticates a blob; Corruption if its plaintext does not
  // hash to `id`, NotFound if no index lists it.
  Result<Bytes> Read(const crypto::Digest256& id);

  // Has the workers read (and authenticate) these blobs ahead, in order,
  // for Read to take: the caller should then Read them in the same order.
  // At most kMaxBytesInFlight of them wait to be taken. IDs that are
  // malformed or in no index are skipped here and reported by Read.
  void ReadAhead(std::span<const std::string> ids);
  // Forgets blobs read ahead and not taken (after a failure).
  void DropReadAhead();

  BlobStoreStats stats() const {
    std::lock_guard lock(mu_);
    return stats_;
  }

 private:
  size_t target_pack_bytes_ = kTargetPackBytes;
  // One or more blobs: `plaintext` cut into pieces of `piece` bytes (the
  // last may be shorter).
  struct Job {
    pb::BlobType type = pb::BLOB_TYPE_DATA;
    Bytes plaintext;
    size_t piece = 0;
    std::vector<crypto::Digest256> ids;  // empty until hashed
    std::vector<bool> seal;              // which pieces are new
    uint64_t ticket = 0;
    bool compress = true;                     // false: known compressed media
    std::vector<crypto::Digest256> previous;  // per piece; zero or empty: none
    std::shared_ptr<const Dictionary> dictionary;
    size_t pieces() const {
      return plaintext.empty() ? 1 : (plaintext.size() + piece - 1) / piece;
    }
    ByteView Piece(size_t i) const {
      return ByteView(plaintext).subspan(
          i * piece, std::min(piece, plaintext.size() - i * piece));
    }
  };
  explicit BlobStore(Repository* repo);
  struct ReadJob {
    crypto::Digest256 id;
    BlobLocation loc;
    uint64_t generation;
  };
  struct Fetched {
    size_t size;  // counted in fetched_bytes_
    Result<Bytes> plaintext;
  };
  void StartWorkers();
  using Located = std::pair<crypto::Digest256, BlobLocation>;
  // Loads and authenticates the blob at `loc`.
  Result<Bytes> Fetch(const crypto::Digest256& id,
                      const BlobLocation& loc) const;
  // Loads and authenticates blobs in any packs and order, with one range
  // read for each run of blobs close together in a pack; a result for each,
  // in order. With `check_ids`, each plaintext is checked against its ID.
  std::vector<Result<Bytes>> FetchMany(const std::vector<Located>& blobs,
                                       bool check_ids = true) const;
  // The same for blobs of one pack sorted by offset: one range read from
  // the first to the end of the last. Deltas are decoded against their
  // bases (LoadBases).
  std::vector<Result<Bytes>> FetchSpan(const std::vector<Located>& blobs,
                                       bool check_ids = true) const;
  // The plaintexts of delta bases (or, with `dictionaries`, of zstd
  // dictionaries), read together; Corruption for one in no index, a base
  // that is a delta, or a dictionary that is not stored plainly.
  std::map<crypto::Digest256, Result<Bytes>> LoadBases(
      const std::set<crypto::Digest256>& ids, bool dictionaries = false) const;
  // The bases new versions of blobs `previous` are offered: each blob, or
  // its base if it is a delta (`base_of` maps one to the other), read
  // together; those that cannot be read are left out.
  std::map<crypto::Digest256, Bytes> DeltaBasesFor(
      const std::vector<crypto::Digest256>& previous,
      std::map<crypto::Digest256, crypto::Digest256>* base_of) const;
  // Checks a new blob's size and the session's health; starts the workers
  // on first use.
  Status Admit(size_t size);
  // Waits for room for the job's plaintext (packing sealed blobs
  // meanwhile), then queues it.
  Status Enqueue(Job job);
  struct Sealed {
    size_t raw_size;  // counted in in_flight_bytes_
    Result<SealedBlob> blob;
  };
  void Work();
  // Moves sealed blobs into the pack, uploading full packs. With `all`,
  // first waits until every submitted blob is sealed.
  Status Drain(bool all);
  // Finishes the pending pack and queues it for the uploader thread.
  Status UploadPack();
  // The uploader thread: saves each queued pack, then its index.
  void Upload();

  // The plaintext of `id` from the local source, if it has it right.
  std::optional<Bytes> ReadLocal(const crypto::Digest256& id) const;

  Repository* repo_;
  const LocalSource* local_ = nullptr;
  mutable std::atomic<uint64_t> local_reads_{0};
  std::optional<PackWriter> writer_;

  // mu_ guards everything below: the workers consult the index too.
  mutable std::mutex mu_;
  std::unique_ptr<BlobIndex> index_;
  std::set<crypto::Digest256> submitted_;  // this session, not yet indexed
  BlobStoreStats stats_;
  std::condition_variable work_cv_;  // jobs arrived, or stopping
  std::condition_variable done_cv_;  // a job was hashed or finished
  std::deque<Job> to_hash_;          // taken before to_seal_
  std::deque<Job> to_seal_;
  std::map<uint64_t, std::vector<crypto::Digest256>> hashed_;  // by ticket
  std::deque<ReadJob> to_read_;
  std::multimap<crypto::Digest256, Fetched> fetched_;  // read, not taken
  std::map<crypto::Digest256, int> read_ahead_;  // queued, under way or ready
  size_t reading_bytes_ = 0;
  size_t fetched_bytes_ = 0;
  uint64_t read_generation_ = 0;
  uint64_t next_ticket_ = 1;
  std::vector<Sealed> sealed_;
  size_t in_flight_bytes_ = 0;
  size_t in_flight_jobs_ = 0;
  std::deque<FinishedPack> uploads_;
  bool uploading_ = false;
  Status upload_error_;
  std::condition_variable upload_cv_;  // a pack was queued or uploaded
  std::thread uploader_;
  bool stopping_ = false;
  Status error_;  // the first failure; every later Add and Flush returns it
  uint32_t epoch_ = 0;
  std::vector<std::thread> workers_;
};

// Reads and parses tree blob `tree_id`.
Result<pb::Tree> LoadTree(BlobStore* store, const crypto::Digest256& tree_id);

// "data/<first two hex digits>/<pack id>".
std::string PackName(const crypto::Digest256& pack_id);
// "data/ab/<64 hex digits>" → the pack ID; false for anything else.
bool ParsePackName(std::string_view name, crypto::Digest256* id);

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_BLOB_STORE_H_
