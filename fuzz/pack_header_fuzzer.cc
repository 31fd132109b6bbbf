// Pack headers (backup/pack.h, ReadPackHeader): the list of blob entries a
// reader trusts once the header authenticates. The input is the header's
// plaintext, sealed here under a fixed epoch key the way PackWriter seals
// it, after a blob area and before the trailer, so that the entry checks
// behind authentication are reached. Every entry ReadPackHeader accepts
// lies within the blob area, names a 32-byte ID and a known blob type,
// and claims no more than kMaxBlobBytes; a header damaged in any byte is
// refused. Mode 3 instead packs the input's parts as blobs with
// PackWriter and reads them back: header and blobs round-trip.
#include <cstddef>
#include <cstdint>

#include "backup/object_codec.h"
#include "backup/pack.h"
#include "fuzz/fuzz_support.h"

using namespace chatvault;

namespace {

const crypto::AeadKey& Key() {
  static const crypto::AeadKey key = fuzz::FixedAeadKey("epoch 0");
  return key;
}

void CheckEntries(const std::vector<pb::PackEntry>& entries,
                  uint64_t blob_area) {
  for (const pb::PackEntry& e : entries) {
    FUZZ_CHECK(e.id().size() == backup::kObjectIdBytes);
    FUZZ_CHECK(e.type() == pb::BLOB_TYPE_DATA ||
               e.type() == pb::BLOB_TYPE_TREE);
    FUZZ_CHECK(e.length() >= backup::kMinSealedBlobBytes);
    FUZZ_CHECK(uint64_t{e.offset()} + e.length() <= blob_area);
    FUZZ_CHECK(e.raw_length() <= backup::kMaxBlobBytes);
    FUZZ_CHECK(e.base().empty() || e.dictionary().empty());
    FUZZ_CHECK(e.base() != e.id() && e.dictionary() != e.id());
  }
}

// PackWriter and the readers agree: every blob added comes back.
void RoundTrip(fuzz::Reader& in, uint32_t epoch) {
  backup::PackWriter writer(Key(), epoch, static_cast<int>(in.U8() % 8) - 2);
  std::vector<Bytes> blobs;
  std::vector<crypto::Digest256> ids;
  static const crypto::HashKey id_key =
      *crypto::HashKey::FromSecret(fuzz::FixedSecret("blob id key"));
  while (!in.empty() && blobs.size() < 8) {
    ByteView plain = in.Part();
    crypto::Digest256 id = backup::BlobId(id_key, plain);
    pb::BlobType type =
        blobs.size() % 2 == 0 ? pb::BLOB_TYPE_DATA : pb::BLOB_TYPE_TREE;
    Status added = writer.Add(type, id, plain);
    if (added.code() == StatusCode::kAlreadyExists) continue;
    FUZZ_CHECK(added.ok());
    blobs.emplace_back(plain.begin(), plain.end());
    ids.push_back(id);
  }
  Result<backup::FinishedPack> pack = writer.Finish();
  if (blobs.empty()) {
    FUZZ_CHECK(pack.status().code() == StatusCode::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(pack.ok());
  Result<backup::PackTrailer> trailer =
      backup::ReadPackTrailer(pack->data, pack->data.size());
  FUZZ_CHECK(trailer.ok());
  FUZZ_CHECK(trailer->epoch == epoch);
  Result<std::vector<pb::PackEntry>> entries =
      backup::ReadPackHeader(Key(), pack->data);
  FUZZ_CHECK(entries.ok());
  FUZZ_CHECK(entries->size() == blobs.size());
  CheckEntries(*entries, trailer->header_offset);
  for (size_t i = 0; i < blobs.size(); ++i) {
    const pb::PackEntry& e = (*entries)[i];
    FUZZ_CHECK(e.SerializeAsString() == pack->entries[i].SerializeAsString());
    FUZZ_CHECK(e.id() == AsChars(ids[i]));
    ByteView sealed = ByteView(pack->data).subspan(e.offset(), e.length());
    FUZZ_CHECK(backup::AuthenticateBlob(Key(), epoch, e, sealed).ok());
    Result<Bytes> plain = backup::OpenBlob(Key(), epoch, e, sealed);
    FUZZ_CHECK(plain.ok());
    FUZZ_CHECK(*plain == blobs[i]);
    // Another epoch's key material never opens it.
    FUZZ_CHECK(!backup::OpenBlob(Key(), epoch + 1, e, sealed).ok());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  const uint8_t mode = in.U8();
  const uint32_t epoch = in.U32();
  if (mode % 4 == 3) {
    RoundTrip(in, epoch);
    return 0;
  }
  const uint32_t blob_area = in.U16();
  const uint16_t damage_at = in.U16();
  const ByteView plain = in.Rest();

  // A blob area of zeros (never opened here), the sealed header, then the
  // trailer: what PackWriter::Finish lays out.
  Bytes pack(blob_area);
  const Bytes sealed = crypto::AeadSeal(
      Key(), plain,
      backup::AssociatedData(backup::ObjectType::kPackHeader,
                             Bytes(backup::kObjectIdBytes), epoch));
  pack.insert(pack.end(), sealed.begin(), sealed.end());
  AppendU32Le(pack, epoch);
  AppendU32Le(pack, static_cast<uint32_t>(sealed.size()));
  for (char c : std::string_view("CVP1")) pack.push_back(std::byte(c));

  if (mode % 4 == 1) {
    // Any one byte of the header or trailer changed: refused.
    const size_t at = blob_area + damage_at % (pack.size() - blob_area);
    pack[at] ^= std::byte{static_cast<uint8_t>(1 + mode / 4 % 255)};
    Result<std::vector<pb::PackEntry>> entries =
        backup::ReadPackHeader(Key(), pack);
    FUZZ_CHECK(!entries.ok());
    FUZZ_CHECK(entries.status().code() == StatusCode::kCorruption);
    return 0;
  }
  if (mode % 4 == 2) {
    // The pack truncated anywhere: refused.
    pack.resize(damage_at % pack.size());
    FUZZ_CHECK(!backup::ReadPackHeader(Key(), pack).ok());
    return 0;
  }
  Result<std::vector<pb::PackEntry>> entries =
      backup::ReadPackHeader(Key(), pack);
  if (!entries.ok()) {
    FUZZ_CHECK(entries.status().code() == StatusCode::kCorruption);
    return 0;
  }
  CheckEntries(*entries, blob_area);
  // The entries' blobs are zeros, so none authenticates.
  for (size_t i = 0; i < entries->size() && i < 4; ++i) {
    const pb::PackEntry& e = (*entries)[i];
    ByteView blob = ByteView(pack).subspan(e.offset(), e.length());
    FUZZ_CHECK(!backup::OpenBlob(Key(), epoch, e, blob).ok());
  }
  return 0;
}
