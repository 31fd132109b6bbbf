// Sealed blobs in packs (backup/pack.h, OpenBlob and AuthenticateBlob):
// the codec byte and data of a blob that authenticated, decoded raw, as a
// zstd frame, as a delta against a base or with a dictionary, under an
// entry whose lengths and references come from an index or pack header.
// The input's body is sealed here under a fixed epoch key with the blob's
// associated data, so the decoder behind authentication is reached.
// OpenBlob returns exactly raw_length bytes or an error, allocates no
// more than kMaxBlobBytes, and agrees with AuthenticateBlob. Mode bit 6
// seals the input with SealBlob instead and checks that OpenBlob gives it
// back (plain, compressed, delta or dictionary).
#include <cstddef>
#include <cstdint>

#include "backup/object_codec.h"
#include "backup/pack.h"
#include "crypto/blake2b.h"
#include "fuzz/fuzz_support.h"

using namespace chatvault;

namespace {

const crypto::AeadKey& Key() {
  static const crypto::AeadKey key = fuzz::FixedAeadKey("epoch 0");
  return key;
}

// Blob IDs derived from content, as in a repository: the thread-local
// dictionary caches in pack.cc key on them.
crypto::Digest256 IdOf(std::string_view what, ByteView content) {
  Bytes msg = ToBytes(what);
  msg.insert(msg.end(), content.begin(), content.end());
  Result<Bytes> d = crypto::Blake2b(msg, crypto::kDigest256Bytes);
  FUZZ_CHECK(d.ok());
  crypto::Digest256 id;
  std::copy(d->begin(), d->end(), id.begin());
  return id;
}

void RoundTrip(uint8_t flags, uint32_t epoch, ByteView reference,
               ByteView plain) {
  const pb::BlobType type = flags & 1 ? pb::BLOB_TYPE_TREE : pb::BLOB_TYPE_DATA;
  const crypto::Digest256 id = IdOf("blob", plain);
  const backup::DeltaBase ref{IdOf("reference", reference), reference};
  const bool as_base = flags & 4, as_dictionary = !as_base && (flags & 8);
  Result<backup::SealedBlob> blob = backup::SealBlob(
      Key(), epoch, type, id, plain, static_cast<int>(flags >> 4 & 3) + 1,
      /*compress=*/!(flags & 2), as_base ? &ref : nullptr,
      as_dictionary ? &ref : nullptr);
  if (!blob.ok()) {
    // A dictionary zstd refuses (reference bytes that start like one).
    FUZZ_CHECK(as_dictionary);
    return;
  }
  pb::PackEntry e;
  e.set_id(std::string(AsChars(blob->id)));
  e.set_type(blob->type);
  e.set_offset(0);
  e.set_length(static_cast<uint32_t>(blob->sealed.size()));
  e.set_raw_length(blob->raw_length);
  if (blob->base) e.set_base(std::string(AsChars(*blob->base)));
  if (blob->dictionary)
    e.set_dictionary(std::string(AsChars(*blob->dictionary)));
  FUZZ_CHECK(blob->raw_length == plain.size());
  FUZZ_CHECK(!blob->base || as_base);
  FUZZ_CHECK(!blob->dictionary || as_dictionary);
  Result<Bytes> opened =
      backup::OpenBlob(Key(), epoch, e, blob->sealed,
                       blob->base || blob->dictionary ? reference : ByteView());
  FUZZ_CHECK(opened.ok());
  FUZZ_CHECK(
      std::equal(opened->begin(), opened->end(), plain.begin(), plain.end()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  const uint8_t mode = in.U8();
  const uint8_t flags = in.U8();
  const uint32_t epoch = in.U32();
  const uint32_t raw_length = in.U32();
  const ByteView reference = in.Part();
  const ByteView body = in.Rest();
  if (mode & 0x40) {
    RoundTrip(flags, epoch, reference, body);
    return 0;
  }

  pb::PackEntry e;
  static constexpr pb::BlobType kTypes[] = {
      pb::BLOB_TYPE_DATA, pb::BLOB_TYPE_TREE, pb::BLOB_TYPE_UNSPECIFIED,
      static_cast<pb::BlobType>(7)};
  e.set_type(kTypes[mode & 3]);
  const crypto::Digest256 id = IdOf("blob", body);
  e.set_id(mode & 0x20 ? std::string(AsChars(id)).substr(0, flags % 32)
                       : std::string(AsChars(id)));
  const std::string ref_id(AsChars(IdOf("reference", reference)));
  if (mode & 4) e.set_base(flags & 1 ? e.id() : ref_id);
  if (mode & 8) e.set_dictionary(flags & 2 ? e.id() : ref_id);
  e.set_raw_length(raw_length);

  // Sealed as a writer with the key would, for the entry's type and ID.
  backup::ObjectType ad_type = e.type() == pb::BLOB_TYPE_TREE
                                   ? backup::ObjectType::kTreeBlob
                                   : backup::ObjectType::kDataBlob;
  const Bytes sealed =
      crypto::AeadSeal(Key(), body, backup::AssociatedData(ad_type, id, epoch));
  e.set_offset(in.U32());
  // Lengths that disagree with the bytes read are refused.
  e.set_length(static_cast<uint32_t>(sealed.size()) + (mode & 0x10 ? 1 : 0));

  Status authentic = backup::AuthenticateBlob(Key(), epoch, e, sealed);
  Result<Bytes> plain = backup::OpenBlob(Key(), epoch, e, sealed, reference);
  if (plain.ok()) {
    FUZZ_CHECK(authentic.ok());
    FUZZ_CHECK(plain->size() == raw_length);
    FUZZ_CHECK(raw_length <= backup::kMaxBlobBytes);
    FUZZ_CHECK(!body.empty());
  } else {
    FUZZ_CHECK(plain.status().code() == StatusCode::kCorruption ||
               plain.status().code() == StatusCode::kResourceExhausted);
  }
  if (!authentic.ok()) FUZZ_CHECK(!plain.ok());
  return 0;
}
