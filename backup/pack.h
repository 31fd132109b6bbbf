// Packs: many sealed blobs and their sealed header in one object, as
// specified in docs/design.md section 5.3.
//
//   pack   = blob_1 || ... || blob_n || header ||
//            u32le(epoch) || u32le(len(header)) || "CVP1"
//   blob_i = AeadSeal(epoch key, codec || data_i, ad(blob type, blob id,
//   epoch)) header = AeadSeal(epoch key, PackHeader, ad(5, 32 zero bytes,
//   epoch))
//
// codec 0 stores the plaintext as is, codec 1 a zstd frame of it; zstd is
// used only when it shrinks the blob. codec 2 is a zstd frame compressed
// with another blob's plaintext as its prefix (a delta): the entry names
// that base blob, which is never a delta itself, so a delta is decoded
// with at most one more blob (and that blob's dictionary). codec 3 is a zstd
// frame compressed with a zstd dictionary, the plaintext of the blob the
// entry names as `dictionary`, which is stored plainly (codec 0 or 1). Each
// blob is authenticated on its own, so one blob can be read with a ranged read
// given its PackEntry (from the pack's header or from an index) and the pack's
// epoch.
//
// A pack's ID is the unkeyed BLAKE2b-256 of its bytes, so anyone can check a
// pack against its name without keys. Blob IDs are keyed (BlobId).
//
// Thread-safety: the free functions are thread-safe. A PackWriter is not
// (one per thread).
#ifndef CHATVAULT_BACKUP_PACK_H_
#define CHATVAULT_BACKUP_PACK_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/aead.h"
#include "crypto/blake2b.h"
#include "proto/repository.pb.h"

namespace chatvault::backup {

// u32le(epoch) || u32le(len(header)) || "CVP1".
inline constexpr size_t kPackTrailerBytes = 12;
// The largest blob plaintext a pack holds. Writers refuse larger blobs and
// readers refuse entries that claim more, so a forged or damaged entry can
// never make a reader allocate more than this (decompression bombs).
inline constexpr size_t kMaxBlobBytes = size_t{64} << 20;
// The codec byte plus the AEAD overhead: the smallest sealed blob.
inline constexpr size_t kMinSealedBlobBytes = 1 + crypto::kAeadOverheadBytes;
// Level 2, not zstd's default 3: on a chat database it compresses about
// 1.6 times faster for 4% more bytes (docs/benchmarks.md).
inline constexpr int kDefaultZstdLevel = 2;

// The blob ID of `plaintext`: keyed BLAKE2b-256 under the blob-ID key
// (DeriveSubkey(id key, kKdfBlobId), docs/design.md section 4.1).
crypto::Digest256 BlobId(const crypto::HashKey& blob_id_key,
                         ByteView plaintext);

// A blob compressed (when that pays) and sealed for one epoch, ready to be
// appended to a pack of that epoch.
struct SealedBlob {
  pb::BlobType type = pb::BLOB_TYPE_UNSPECIFIED;
  crypto::Digest256 id{};
  Bytes sealed;
  uint32_t raw_length = 0;
  std::optional<crypto::Digest256> base;        // a delta (codec 2)
  std::optional<crypto::Digest256> dictionary;  // codec 3
};

// A delta is kept only if it is at most this fraction of the blob
// compressed on its own; otherwise the blob is stored whole and becomes the
// base of the next versions (docs/benchmarks.md, "Page deltas").
inline constexpr double kMaxDeltaRatio = 0.5;

// A blob's previous version, offered to SealBlob as a delta base, or a
// zstd dictionary to compress with: a blob of the repository and its
// plaintext.
struct DeltaBase {
  crypto::Digest256 id{};
  ByteView plaintext;
};

// Compresses and seals one blob: the expensive half of PackWriter::Add, so
// that several threads can prepare blobs for one writer. Thread-safe.
// With `compress` false the blob is stored as is (known compressed media).
// With a `base`, the blob is also compressed as a delta against it, and
// stored as one when that is at most kMaxDeltaRatio of its size compressed
// alone. With a `dictionary` (a zstd dictionary), a blob not stored as a
// delta is compressed with it. InvalidArgument for another blob type, a
// plaintext over kMaxBlobBytes, or a base or dictionary that is the blob
// itself; IOError or ResourceExhausted if zstd fails (or refuses the
// dictionary).
[[nodiscard]] Result<SealedBlob> SealBlob(
    const crypto::AeadKey& key, uint32_t epoch, pb::BlobType type,
    const crypto::Digest256& id, ByteView plaintext,
    int zstd_level = kDefaultZstdLevel, bool compress = true,
    const DeltaBase* base = nullptr, const DeltaBase* dictionary = nullptr);

// Trains a zstd dictionary of at most `capacity` bytes on `samples` (each a
// blob's plaintext, e.g. database pages); nullopt if zstd cannot (too few
// or too uniform samples).
std::optional<Bytes> TrainDictionary(const std::vector<ByteView>& samples,
                                     size_t capacity);

struct FinishedPack {
  crypto::Digest256 id;  // unkeyed BLAKE2b-256 of `data`
  Bytes data;
  std::vector<pb::PackEntry> entries;  // in the order the blobs were added
  uint32_t epoch;
};

// Accumulates blobs of one epoch into a pack in memory. Blobs are compressed
// and sealed as they are added; Finish seals the header and returns the
// pack's bytes. Packs target ~16 MiB: callers check size() after each Add.
class PackWriter {
 public:
  // `epoch_key` is the key of epoch `epoch`; the writer keeps its own copy.
  // `zstd_level` is any level zstd accepts (negative levels are fast modes).
  PackWriter(const crypto::AeadKey& epoch_key, uint32_t epoch,
             int zstd_level = kDefaultZstdLevel);
  ~PackWriter();
  PackWriter(PackWriter&&) noexcept;
  PackWriter& operator=(PackWriter&&) noexcept;
  PackWriter(const PackWriter&) = delete;
  PackWriter& operator=(const PackWriter&) = delete;

  // Compresses (when that shrinks it), seals and appends the blob of `type`
  // named `id`, whose plaintext is `plaintext`. The caller computed `id`
  // with BlobId; it is not checked here. Returns AlreadyExists when this
  // pack already holds `id`, InvalidArgument for a type other than
  // BLOB_TYPE_DATA or BLOB_TYPE_TREE or a plaintext over kMaxBlobBytes,
  // ResourceExhausted when the pack would outgrow 32-bit offsets, IOError
  // if zstd fails. On failure the writer is unchanged.
  [[nodiscard]] Status Add(pb::BlobType type, const crypto::Digest256& id,
                           ByteView plaintext);

  // Appends a blob sealed by SealBlob under this writer's key and epoch.
  // AlreadyExists, InvalidArgument and ResourceExhausted as for Add.
  [[nodiscard]] Status AddSealed(SealedBlob blob);

  // Bytes of sealed blobs so far. The finished pack is longer by its sealed
  // header and the kPackTrailerBytes trailer.
  size_t size() const { return data_.size(); }
  // Reserves room for a pack of `bytes`, so that filling it does not copy
  // it over and over (nor briefly hold two copies).
  void Reserve(size_t bytes) { data_.reserve(bytes); }
  // Blobs added so far.
  size_t count() const { return entries_.size(); }
  uint32_t epoch() const { return epoch_; }

  // Seals the header, appends the trailer and returns the pack, then resets
  // the writer to empty (same key and epoch) for the next pack.
  // InvalidArgument when no blob was added (the writer is then unchanged).
  [[nodiscard]] Result<FinishedPack> Finish();

 private:
  crypto::AeadKey key_;
  uint32_t epoch_;
  int zstd_level_;
  Bytes data_;
  std::vector<pb::PackEntry> entries_;
  std::set<crypto::Digest256> ids_;
};

struct PackTrailer {
  uint32_t epoch;
  uint32_t header_length;  // of the sealed header
  // Where the sealed header starts, which is also the length of the blob
  // area: pack size - kPackTrailerBytes - header_length.
  uint64_t header_offset;
};

// Parses the trailer at the end of `tail`, which holds the last bytes (at
// least kPackTrailerBytes) of a pack of `pack_size` bytes. Returns
// Corruption when `tail` or the pack is too short, the magic is not "CVP1",
// or the header length cannot fit in the pack. The values are not
// authenticated until the header opens (ReadPackHeader).
[[nodiscard]] Result<PackTrailer> ReadPackTrailer(ByteView tail,
                                                  uint64_t pack_size);

// Parses the trailer of the whole pack `pack`, then authenticates, decrypts
// and parses its header with `key`, which must be the key of the epoch the
// trailer names (the caller reads it with ReadPackTrailer first). Checks
// every entry: a 32-byte ID, a known blob type, a sealed length of at least
// kMinSealedBlobBytes lying entirely within the blob area, a raw length
// of at most kMaxBlobBytes, and a base and a dictionary that are each empty
// or another blob's 32-byte ID, not both set.
// Returns the entries, or Corruption on any failure (truncation, damage,
// tampering, another epoch or key).
[[nodiscard]] Result<std::vector<pb::PackEntry>> ReadPackHeader(
    const crypto::AeadKey& key, ByteView pack);

// Authenticates and decodes one sealed blob, the `entry.length` bytes at
// `entry.offset` of a pack of epoch `epoch` whose key is `key`. Uses the
// type and ID the caller expects (those of `entry`) in the associated data.
// Returns the plaintext, which is exactly `entry.raw_length` bytes, or
// Corruption when `sealed_blob` is not `entry.length` bytes, authentication
// fails (damage, a blob moved to another ID, type, epoch or pack, the wrong
// key), the codec is unknown, or the data does not decode to raw_length
// bytes; a zstd frame that claims more than raw_length (or kMaxBlobBytes)
// is refused before decompressing. A delta (an entry with a base) is
// decoded against `reference`, the plaintext of blob `entry.base()`, and a
// blob with a dictionary with `reference` as that dictionary (the plaintext
// of blob `entry.dictionary()`); the caller has read and checked it (a
// thread keeps the last dictionary it used, known by its blob ID). The
// codec must agree with the entry (a delta or dictionary codec without its
// reference, or a reference on another codec, is Corruption). Checking the
// plaintext against the blob ID is the caller's job, since it needs the
// blob-ID key.
// Authenticates a sealed blob without decoding it (copying blobs from pack
// to pack): the checks of OpenBlob up to and including authentication.
[[nodiscard]] Status AuthenticateBlob(const crypto::AeadKey& key,
                                      uint32_t epoch,
                                      const pb::PackEntry& entry,
                                      ByteView sealed_blob);

[[nodiscard]] Result<Bytes> OpenBlob(const crypto::AeadKey& key, uint32_t epoch,
                                     const pb::PackEntry& entry,
                                     ByteView sealed_blob,
                                     ByteView reference = {});

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_PACK_H_
