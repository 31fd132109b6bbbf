#include "backup/pack.h"

#include <zdict.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "backup/object_codec.h"

namespace chatvault::backup {
namespace {

constexpr std::string_view kPackMagic = "CVP1";
constexpr std::byte kCodecRaw{0};
constexpr std::byte kCodecZstd{1};
constexpr std::byte kCodecZstdDelta{2};
constexpr std::byte kCodecZstdDictionary{3};

// What a blob's entry says it is decoded with.
enum class Reference { kNone, kBase, kDictionary };

// A zstd dictionary digested for one thread's use, kept while the thread
// keeps using the same one (a database's pages all share theirs), known by
// the ID of the blob that holds it.
template <typename T>
struct DigestedDictionary {
  std::string id;
  int level = 0;
  T* digested = nullptr;
};

ZSTD_DDict* CachedDDict(std::string_view id, ByteView dictionary) {
  thread_local std::unique_ptr<DigestedDictionary<ZSTD_DDict>,
                               void (*)(DigestedDictionary<ZSTD_DDict>*)>
      cache(new DigestedDictionary<ZSTD_DDict>, [](auto* d) {
        ZSTD_freeDDict(d->digested);
        delete d;
      });
  if (cache->digested == nullptr || cache->id != id) {
    ZSTD_freeDDict(cache->digested);
    cache->id = id;
    cache->digested = ZSTD_createDDict(dictionary.data(), dictionary.size());
  }
  return cache->digested;
}

ZSTD_CDict* CachedCDict(std::string_view id, ByteView dictionary, int level) {
  thread_local std::unique_ptr<DigestedDictionary<ZSTD_CDict>,
                               void (*)(DigestedDictionary<ZSTD_CDict>*)>
      cache(new DigestedDictionary<ZSTD_CDict>, [](auto* d) {
        ZSTD_freeCDict(d->digested);
        delete d;
      });
  if (cache->digested == nullptr || cache->level != level || cache->id != id) {
    ZSTD_freeCDict(cache->digested);
    cache->id = id;
    cache->level = level;
    cache->digested =
        ZSTD_createCDict(dictionary.data(), dictionary.size(), level);
  }
  return cache->digested;
}

// Section 5.3: the header's associated data cannot name the pack, whose ID
// hashes the header itself, so it names 32 zero bytes.
constexpr crypto::Digest256 kHeaderAdId{};

// The associated-data type of a blob type (BlobType 1 and 2 are object
// types 3 and 4); false for anything else.
bool BlobObjectType(pb::BlobType type, ObjectType* out) {
  switch (type) {
    case pb::BLOB_TYPE_DATA:
      *out = ObjectType::kDataBlob;
      return true;
    case pb::BLOB_TYPE_TREE:
      *out = ObjectType::kTreeBlob;
      return true;
    default:
      return false;
  }
}

ByteView IdView(const std::string& id) { return AsBytes(id); }

// Whether compressing `plaintext` is worth trying: for blobs above a few
// slices, four 4 KiB slices spread over the blob are compressed at zstd's
// fastest level, and data they do not shrink by 3% (JPEG, video, zip) is
// stored as is without spending a full compression on it. A wrong guess
// costs space, never correctness.
bool WorthCompressing(ZSTD_CCtx* cctx, ByteView plaintext) {
  constexpr size_t kSlice = 4096, kSlices = 4;
  if (plaintext.size() < 8 * kSlice * kSlices) return true;
  std::byte sample[kSlice * kSlices];
  const size_t stride = (plaintext.size() - kSlice) / (kSlices - 1);
  for (size_t i = 0; i < kSlices; ++i) {
    std::memcpy(sample + i * kSlice, plaintext.data() + i * stride, kSlice);
  }
  std::byte out[ZSTD_COMPRESSBOUND(kSlice * kSlices)];
  size_t n = ZSTD_compressCCtx(cctx, out, sizeof out, sample, sizeof sample, 1);
  return !ZSTD_isError(n) && n < sizeof sample * 97 / 100;
}

// An entry's base and dictionary: each empty or another blob's ID, and not
// both set.
bool ValidReferences(const pb::PackEntry& e) {
  auto valid = [&](const std::string& ref) {
    return ref.empty() || (ref.size() == kObjectIdBytes && ref != e.id());
  };
  return valid(e.base()) && valid(e.dictionary()) &&
         (e.base().empty() || e.dictionary().empty());
}

Status BadBlob(ObjectType type, std::string_view what) {
  return Status::Corruption("a " + std::string(ObjectTypeName(type)) +
                            " in a pack " + std::string(what));
}

// Decodes the codec byte and data of an authenticated blob: a delta (codec
// 2) against `reference`, the base its entry named, or a frame (codec 3)
// compressed with `reference`, the dictionary its entry named. The raw
// length was bounded by the caller, so no branch allocates more than
// kMaxBlobBytes.
Result<Bytes> Decode(ObjectType type, ByteView body, uint32_t raw_length,
                     Reference kind, std::string_view reference_id,
                     ByteView reference) {
  std::byte codec = body[0];
  ByteView data = body.subspan(1);
  if ((codec == kCodecZstdDelta) != (kind == Reference::kBase)) {
    return BadBlob(type, kind == Reference::kBase
                             ? "has a base but is not stored as a delta"
                             : "is stored as a delta but names no base");
  }
  if ((codec == kCodecZstdDictionary) != (kind == Reference::kDictionary)) {
    return BadBlob(type, kind == Reference::kDictionary
                             ? "names a dictionary but is not compressed "
                               "with one"
                             : "is compressed with a dictionary it does not "
                               "name");
  }
  if (codec == kCodecRaw) {
    if (data.size() != raw_length) {
      return BadBlob(type, "has another length than its index entry says");
    }
    return Bytes(data.begin(), data.end());
  }
  if (codec != kCodecZstd && codec != kCodecZstdDelta &&
      codec != kCodecZstdDictionary) {
    return BadBlob(type, "uses an unknown codec " +
                             std::to_string(std::to_integer<int>(codec)));
  }
  // Refuse before allocating: a frame must declare exactly the length the
  // authenticated entry promises, so a small frame cannot expand into a
  // bomb. ZSTD_decompress then writes into a buffer of that size only.
  unsigned long long declared =
      ZSTD_getFrameContentSize(data.data(), data.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR ||
      declared == ZSTD_CONTENTSIZE_UNKNOWN) {
    return BadBlob(type, "holds no valid compressed frame");
  }
  if (declared != raw_length) {
    return BadBlob(type, "claims another uncompressed length than its entry");
  }
  Bytes out(raw_length);
  // One context per thread, reused: small blobs (database pages) would
  // otherwise pay for a new one each.
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(
      ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (dctx == nullptr) {
    return Status::ResourceExhausted("could not allocate a zstd context");
  }
  size_t n;
  if (kind == Reference::kDictionary) {
    ZSTD_DDict* ddict = CachedDDict(reference_id, reference);
    if (ddict == nullptr) {
      return BadBlob(type, "names a dictionary zstd cannot load");
    }
    n = ZSTD_decompress_usingDDict(dctx.get(), out.data(), out.size(),
                                   data.data(), data.size(), ddict);
  } else {
    if (kind == Reference::kBase) {
      // Raw content, never parsed as a zstd dictionary; used for one frame.
      size_t r =
          ZSTD_DCtx_refPrefix(dctx.get(), reference.data(), reference.size());
      if (ZSTD_isError(r)) {
        return Status::ResourceExhausted(std::string("zstd: ") +
                                         ZSTD_getErrorName(r));
      }
    }
    n = ZSTD_decompressDCtx(dctx.get(), out.data(), out.size(), data.data(),
                            data.size());
  }
  if (ZSTD_isError(n) || n != raw_length) {
    ZSTD_DCtx_reset(dctx.get(), ZSTD_reset_session_and_parameters);
    return BadBlob(type, kind == Reference::kBase
                             ? "does not decompress against its base"
                             : "does not decompress");
  }
  return out;
}

// Compresses `plaintext` as a zstd delta against `base` (its prefix);
// returns the frame's length in `out`, or 0 if it does not fit `capacity`.
Result<size_t> CompressDelta(ZSTD_CCtx* cctx, std::byte* out, size_t capacity,
                             ByteView plaintext, ByteView base, int level) {
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  // A window that reaches from the end of the blob back to the start of
  // its base, so every match in the base can be used.
  const size_t reach = plaintext.size() + base.size();
  int window_log = 10;  // zstd's smallest
  while (window_log < 27 && (size_t{1} << window_log) < reach) ++window_log;
  size_t r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(r)) {
    r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, window_log);
  }
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_refPrefix(cctx, base.data(), base.size());
  if (ZSTD_isError(r)) {
    return Status::IOError(std::string("zstd: ") + ZSTD_getErrorName(r));
  }
  size_t n =
      ZSTD_compress2(cctx, out, capacity, plaintext.data(), plaintext.size());
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  if (ZSTD_isError(n)) {
    if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall) return 0;
    return Status::IOError(std::string("zstd delta compression failed: ") +
                           ZSTD_getErrorName(n));
  }
  return n;
}

}  // namespace

crypto::Digest256 BlobId(const crypto::HashKey& blob_id_key,
                         ByteView plaintext) {
  return crypto::Blake2b256(blob_id_key, plaintext);
}

PackWriter::PackWriter(const crypto::AeadKey& epoch_key, uint32_t epoch,
                       int zstd_level)
    // A 32-byte clone always converts; a moved-from key aborts here, as
    // every use of one must.
    : key_(crypto::AeadKey::FromSecret(epoch_key.secret().Clone()).value()),
      epoch_(epoch),
      zstd_level_(zstd_level) {}

PackWriter::~PackWriter() = default;
PackWriter::PackWriter(PackWriter&&) noexcept = default;
PackWriter& PackWriter::operator=(PackWriter&&) noexcept = default;

Result<SealedBlob> SealBlob(const crypto::AeadKey& key, uint32_t epoch,
                            pb::BlobType type, const crypto::Digest256& id,
                            ByteView plaintext, int zstd_level, bool compress,
                            const DeltaBase* base,
                            const DeltaBase* dictionary) {
  ObjectType ad_type;
  if (!BlobObjectType(type, &ad_type)) {
    return Status::InvalidArgument("a pack holds only data and tree blobs");
  }
  if (plaintext.size() > kMaxBlobBytes) {
    return Status::InvalidArgument("a blob of " +
                                   std::to_string(plaintext.size()) +
                                   " bytes is larger than a pack allows (" +
                                   std::to_string(kMaxBlobBytes) + ")");
  }
  if ((base != nullptr && base->id == id) ||
      (dictionary != nullptr && dictionary->id == id)) {
    return Status::InvalidArgument(
        "a blob cannot be a delta against itself or its own dictionary");
  }
  // One compression context per thread, reused across blobs.
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(
      ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (cctx == nullptr) {
    return Status::ResourceExhausted("could not allocate a zstd context");
  }

  SealedBlob blob;
  // A delta first, if a base is offered: one that is at most an eighth of
  // the blob is kept at once (a page's few changed bytes); a larger one
  // only if it beats the blob compressed alone by kMaxDeltaRatio.
  Bytes delta;
  size_t d = 0;
  if (compress && base != nullptr && !plaintext.empty()) {
    const auto limit = static_cast<size_t>(
        static_cast<double>(plaintext.size()) * kMaxDeltaRatio);
    delta.resize(1 + limit);
    ASSIGN_OR_RETURN(d, CompressDelta(cctx.get(), delta.data() + 1, limit,
                                      plaintext, base->plaintext, zstd_level));
  }
  // codec || data, compressed in place after the codec byte.
  Bytes body;
  size_t n = SIZE_MAX;
  const bool delta_wins_outright = d != 0 && d <= plaintext.size() / 8;
  if (compress && !delta_wins_outright &&
      WorthCompressing(cctx.get(), plaintext)) {
    body.resize(1 + ZSTD_compressBound(plaintext.size()));
    if (dictionary != nullptr) {
      ZSTD_CDict* cdict = CachedCDict(AsChars(dictionary->id),
                                      dictionary->plaintext, zstd_level);
      if (cdict == nullptr) {
        return Status::IOError("zstd cannot load the dictionary");
      }
      n = ZSTD_compress_usingCDict(cctx.get(), body.data() + 1, body.size() - 1,
                                   plaintext.data(), plaintext.size(), cdict);
    } else {
      n = ZSTD_compressCCtx(cctx.get(), body.data() + 1, body.size() - 1,
                            plaintext.data(), plaintext.size(), zstd_level);
    }
    if (ZSTD_isError(n)) {
      return Status::IOError(std::string("zstd compression failed: ") +
                             ZSTD_getErrorName(n));
    }
  }
  if (d != 0 && (delta_wins_outright ||
                 static_cast<double>(d) <=
                     static_cast<double>(std::min(n, plaintext.size())) *
                         kMaxDeltaRatio)) {
    delta[0] = kCodecZstdDelta;
    delta.resize(1 + d);
    body = std::move(delta);
    blob.base = base->id;
  }
  if (blob.base) {
    // The delta is in `body` already.
  } else if (n < plaintext.size()) {
    body[0] = dictionary != nullptr ? kCodecZstdDictionary : kCodecZstd;
    if (dictionary != nullptr) blob.dictionary = dictionary->id;
    body.resize(1 + n);
  } else {
    // Already-compressed media: storing it as is is smaller and cheaper.
    body.resize(1 + plaintext.size());
    body[0] = kCodecRaw;
    if (!plaintext.empty()) {
      std::memcpy(body.data() + 1, plaintext.data(), plaintext.size());
    }
  }
  blob.type = type;
  blob.id = id;
  blob.raw_length = static_cast<uint32_t>(plaintext.size());
  blob.sealed = crypto::AeadSeal(key, body, AssociatedData(ad_type, id, epoch));
  return blob;
}

std::optional<Bytes> TrainDictionary(const std::vector<ByteView>& samples,
                                     size_t capacity) {
  Bytes joined;
  std::vector<size_t> sizes;
  for (ByteView s : samples) {
    joined.insert(joined.end(), s.begin(), s.end());
    sizes.push_back(s.size());
  }
  Bytes dictionary(capacity);
  const size_t n =
      ZDICT_trainFromBuffer(dictionary.data(), dictionary.size(), joined.data(),
                            sizes.data(), static_cast<unsigned>(sizes.size()));
  if (ZDICT_isError(n)) return std::nullopt;
  dictionary.resize(n);
  return dictionary;
}

Status PackWriter::Add(pb::BlobType type, const crypto::Digest256& id,
                       ByteView plaintext) {
  if (ids_.contains(id)) {
    return Status::AlreadyExists("the pack already holds this blob");
  }
  ASSIGN_OR_RETURN(SealedBlob blob,
                   SealBlob(key_, epoch_, type, id, plaintext, zstd_level_));
  return AddSealed(std::move(blob));
}

Status PackWriter::AddSealed(SealedBlob blob) {
  ObjectType ad_type;
  if (!BlobObjectType(blob.type, &ad_type)) {
    return Status::InvalidArgument("a pack holds only data and tree blobs");
  }
  if (ids_.contains(blob.id)) {
    return Status::AlreadyExists("the pack already holds this blob");
  }
  if (data_.size() + blob.sealed.size() > UINT32_MAX) {
    return Status::ResourceExhausted(
        "the pack is full (offsets are 32-bit); finish it first");
  }
  pb::PackEntry& entry = entries_.emplace_back();
  entry.set_id(reinterpret_cast<const char*>(blob.id.data()), blob.id.size());
  entry.set_type(blob.type);
  entry.set_offset(static_cast<uint32_t>(data_.size()));
  entry.set_length(static_cast<uint32_t>(blob.sealed.size()));
  entry.set_raw_length(blob.raw_length);
  if (blob.base) entry.set_base(std::string(AsChars(*blob.base)));
  if (blob.dictionary) {
    entry.set_dictionary(std::string(AsChars(*blob.dictionary)));
  }
  data_.insert(data_.end(), blob.sealed.begin(), blob.sealed.end());
  ids_.insert(blob.id);
  return Status::OK();
}

Result<FinishedPack> PackWriter::Finish() {
  if (entries_.empty()) {
    return Status::InvalidArgument("a pack needs at least one blob");
  }
  pb::PackHeader header;
  for (const pb::PackEntry& e : entries_) *header.add_entries() = e;
  std::string plain;
  if (!header.SerializeToString(&plain)) {
    return Status::ResourceExhausted("the pack header is too large to encode");
  }
  Bytes sealed = crypto::AeadSeal(
      key_, AsBytes(plain),
      AssociatedData(ObjectType::kPackHeader, kHeaderAdId, epoch_));
  if (sealed.size() > UINT32_MAX) {
    return Status::ResourceExhausted("the pack header is too large");
  }

  FinishedPack pack;
  pack.epoch = epoch_;
  pack.data = std::move(data_);
  pack.data.reserve(pack.data.size() + sealed.size() + kPackTrailerBytes);
  pack.data.insert(pack.data.end(), sealed.begin(), sealed.end());
  AppendU32Le(pack.data, epoch_);
  AppendU32Le(pack.data, static_cast<uint32_t>(sealed.size()));
  ByteView magic = AsBytes(kPackMagic);
  pack.data.insert(pack.data.end(), magic.begin(), magic.end());

  // Unkeyed, so that anyone can check a pack against its name (5.1).
  Result<Bytes> digest = crypto::Blake2b(pack.data, crypto::kDigest256Bytes);
  if (!digest.ok()) return digest.status();
  std::memcpy(pack.id.data(), digest->data(), pack.id.size());
  pack.entries = std::move(entries_);

  data_ = Bytes();
  entries_.clear();
  ids_.clear();
  return pack;
}

Result<PackTrailer> ReadPackTrailer(ByteView tail, uint64_t pack_size) {
  if (tail.size() > pack_size) {
    return Status::InvalidArgument("the pack tail is longer than the pack");
  }
  if (tail.size() < kPackTrailerBytes) {
    return Status::Corruption("the pack is too short to have a trailer");
  }
  const std::byte* t = tail.data() + tail.size() - kPackTrailerBytes;
  if (std::memcmp(t + 8, kPackMagic.data(), kPackMagic.size()) != 0) {
    return Status::Corruption(
        "the pack is truncated or is not a chatvault pack (bad magic)");
  }
  PackTrailer trailer;
  trailer.epoch = ReadU32Le(t);
  trailer.header_length = ReadU32Le(t + 4);
  if (trailer.header_length < crypto::kAeadOverheadBytes ||
      trailer.header_length > pack_size - kPackTrailerBytes) {
    return Status::Corruption(
        "the pack's trailer gives a header length that does not fit the "
        "pack; it is truncated or damaged");
  }
  trailer.header_offset = pack_size - kPackTrailerBytes - trailer.header_length;
  return trailer;
}

Result<std::vector<pb::PackEntry>> ReadPackHeader(const crypto::AeadKey& key,
                                                  ByteView pack) {
  ASSIGN_OR_RETURN(PackTrailer trailer, ReadPackTrailer(pack, pack.size()));
  ByteView sealed = pack.subspan(trailer.header_offset, trailer.header_length);
  Result<Bytes> plain = crypto::AeadOpen(
      key, sealed,
      AssociatedData(ObjectType::kPackHeader, kHeaderAdId, trailer.epoch));
  if (!plain.ok()) {
    return Status::Corruption(
        "the pack header failed authentication: the pack was damaged or "
        "tampered with, or it belongs to another epoch or repository");
  }
  pb::PackHeader header;
  if (plain->size() > INT_MAX ||
      !header.ParseFromArray(plain->data(), static_cast<int>(plain->size()))) {
    return Status::Corruption("the pack header does not parse");
  }
  std::vector<pb::PackEntry> entries(header.entries().begin(),
                                     header.entries().end());
  for (const pb::PackEntry& e : entries) {
    ObjectType ignored;
    uint64_t end = uint64_t{e.offset()} + e.length();
    if (e.id().size() != kObjectIdBytes ||
        !BlobObjectType(e.type(), &ignored) ||
        e.length() < kMinSealedBlobBytes || end > trailer.header_offset ||
        e.raw_length() > kMaxBlobBytes || !ValidReferences(e)) {
      return Status::Corruption("the pack header lists an invalid blob entry");
    }
  }
  return entries;
}

namespace {

// OpenBlob's checks and authentication: the decrypted body.
Result<Bytes> OpenSealed(const crypto::AeadKey& key, uint32_t epoch,
                         const pb::PackEntry& entry, ByteView sealed_blob,
                         ObjectType* type) {
  if (!BlobObjectType(entry.type(), type) ||
      entry.id().size() != kObjectIdBytes ||
      (!entry.base().empty() &&
       (entry.base().size() != kObjectIdBytes || entry.base() == entry.id()))) {
    return Status::Corruption("a pack entry names an invalid blob");
  }
  if (sealed_blob.size() != entry.length()) {
    return BadBlob(*type, "was read with another length than its entry says");
  }
  if (sealed_blob.size() < kMinSealedBlobBytes) {
    return BadBlob(*type, "is truncated");
  }
  if (entry.raw_length() > kMaxBlobBytes) {
    return BadBlob(*type, "claims a length larger than any blob may have");
  }
  Result<Bytes> body = crypto::AeadOpen(
      key, sealed_blob, AssociatedData(*type, IdView(entry.id()), epoch));
  if (!body.ok()) {
    return BadBlob(*type,
                   "failed authentication: it was damaged, tampered with or "
                   "moved, or it belongs to another epoch");
  }
  return body;
}

}  // namespace

Status AuthenticateBlob(const crypto::AeadKey& key, uint32_t epoch,
                        const pb::PackEntry& entry, ByteView sealed_blob) {
  ObjectType type;
  return OpenSealed(key, epoch, entry, sealed_blob, &type).status();
}

Result<Bytes> OpenBlob(const crypto::AeadKey& key, uint32_t epoch,
                       const pb::PackEntry& entry, ByteView sealed_blob,
                       ByteView reference) {
  ObjectType type;
  ASSIGN_OR_RETURN(Bytes body,
                   OpenSealed(key, epoch, entry, sealed_blob, &type));
  const Reference kind = !entry.base().empty()         ? Reference::kBase
                         : !entry.dictionary().empty() ? Reference::kDictionary
                                                       : Reference::kNone;
  return Decode(type, body, entry.raw_length(), kind, entry.dictionary(),
                reference);
}

}  // namespace chatvault::backup
