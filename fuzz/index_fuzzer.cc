// Index objects (backup/blob_index.h, backup/blob_store.h): where a reader
// looks up every blob's pack, offset, lengths, codec references and epoch.
// Any holder of the keys can write one, and a damaged or hostile index
// must not make a reader crash, allocate what it claims, or return a blob
// that does not match its ID. The input holds up to three index payloads,
// each sealed here under the fixed repository's key (mode bit 1: the
// first stored as it is); with mode bit 0 each that parses has the
// placeholder pack ID FixedId("pack") replaced by the real ID of a stored
// pack of every kind of blob (raw, compressed, delta, dictionary), so the
// entries can point into real data. The index is loaded (bit 2: keeping a
// list of damaged indexes, as `check` does), and its blobs are read
// (bit 3: through read-ahead); every blob read matches its ID.
#include <cstddef>
#include <cstdint>

#include "backup/blob_index.h"
#include "backup/blob_store.h"
#include "fuzz/fuzz_support.h"

using namespace chatvault;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FixedRepository& fixed = fuzz::FixedRepository::Get();
  fixed.Pack();
  fixed.Reset();
  backup::Repository* repo = fixed.repo();

  fuzz::Reader in(data, size);
  const uint8_t mode = in.U8();
  for (int i = 0; i < 3 && !in.empty(); ++i) {
    ByteView payload = in.Part();
    std::string fixed_up;
    if (mode & 1) {
      pb::Index index;
      if (index.ParseFromArray(payload.data(),
                               static_cast<int>(payload.size()))) {
        fixed.ResolvePackIds(&index);
        fixed_up = index.SerializeAsString();
        payload = AsBytes(fixed_up);
      }
    }
    const Bytes id = fuzz::FixedId("index " + std::to_string(i));
    const Bytes object =
        i == 0 && (mode & 2)
            ? Bytes(payload.begin(), payload.end())
            : fixed.Seal(backup::ObjectType::kIndex, id, payload);
    FUZZ_CHECK(fixed.backend()
                   ->Save("index/" + HexEncode(id), object,
                          storage::SaveMode::kOverwrite)
                   .ok());
  }

  std::map<std::string, Status> damaged;
  std::map<std::string, Status>* damaged_ptr = mode & 4 ? &damaged : nullptr;
  Result<std::unique_ptr<backup::BlobIndex>> index =
      backup::BlobIndex::Open(repo, "", damaged_ptr);
  if (!index.ok()) {
    FUZZ_CHECK(damaged_ptr == nullptr);
    return 0;
  }
  std::vector<crypto::Digest256> ids;
  (*index)->ForEach(
      [&](const crypto::Digest256& id, const backup::BlobLocation& loc) {
        FUZZ_CHECK(loc.entry.id() == AsChars(id));
        if (ids.size() < 32) ids.push_back(id);
      });
  for (const crypto::Digest256& id : ids) {
    FUZZ_CHECK((*index)->Contains(id));
    FUZZ_CHECK((*index)->Find(id).has_value());
  }
  for (const std::string& name : (*index)->names()) {
    FUZZ_CHECK((*index)->listed().contains(name));
  }

  Result<std::unique_ptr<backup::BlobStore>> store =
      backup::BlobStore::Open(repo, "", damaged_ptr);
  FUZZ_CHECK(store.ok());
  if (ids.size() > 8) ids.resize(8);
  if (mode & 8) {
    std::vector<std::string> raw;
    for (const crypto::Digest256& id : ids) raw.emplace_back(AsChars(id));
    (*store)->ReadAhead(raw);
  }
  for (const crypto::Digest256& id : ids) {
    Result<Bytes> plain = (*store)->Read(id);
    if (plain.ok()) {
      FUZZ_CHECK(backup::BlobId(repo->keys().blob_id_key(), *plain) == id);
      FUZZ_CHECK(plain->size() <= backup::kMaxBlobBytes);
    }
  }
  return 0;
}
