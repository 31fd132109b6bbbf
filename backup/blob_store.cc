#include "backup/blob_store.h"

#include <cstring>
#include <set>
#include <vector>

namespace chatvault::backup {
namespace {

crypto::Digest256 ToDigest(const std::string& s) {
  crypto::Digest256 d{};
  if (s.size() == d.size()) std::memcpy(d.data(), s.data(), d.size());
  return d;
}

}  // namespace

std::string PackName(const crypto::Digest256& pack_id) {
  std::string hex = HexEncode(pack_id);
  return "data/" + hex.substr(0, 2) + "/" + hex;
}

BlobStore::BlobStore(Repository* repo) : repo_(repo) {}

Result<std::unique_ptr<BlobStore>> BlobStore::Open(Repository* repo) {
  auto store = std::unique_ptr<BlobStore>(new BlobStore(repo));
  std::vector<std::string> ids;
  RETURN_IF_ERROR(
      repo->backend()->List("index/", [&](const storage::ObjectInfo& info) {
        ids.push_back(info.name.substr(6));
        return Status::OK();
      }));
  for (const std::string& id : ids) {
    pb::Index index;
    RETURN_IF_ERROR(repo->LoadObject(ObjectType::kIndex, "index", id, &index));
    store->AddIndex(index);
  }
  return store;
}

void BlobStore::AddIndex(const pb::Index& index) {
  for (const pb::IndexPack& pack : index.packs()) {
    crypto::Digest256 pack_id = ToDigest(pack.pack_id());
    for (const pb::PackEntry& e : pack.entries()) {
      if (e.id().size() != 32) continue;
      locations_.emplace(ToDigest(e.id()), Location{pack_id, pack.epoch(), e});
    }
  }
}

bool BlobStore::Has(const crypto::Digest256& id) const {
  // Blobs in the pack being filled are not here yet; PackWriter::Add
  // refuses those duplicates itself.
  return locations_.count(id) != 0;
}

uint64_t BlobStore::known_raw_bytes() const {
  uint64_t total = 0;
  for (const auto& [id, loc] : locations_) total += loc.entry.raw_length();
  return total;
}

size_t BlobStore::known_packs() const {
  std::set<crypto::Digest256> packs;
  for (const auto& [id, loc] : locations_) packs.insert(loc.pack);
  return packs.size();
}

Result<bool> BlobStore::Add(pb::BlobType type, const crypto::Digest256& id,
                            ByteView plaintext) {
  if (Has(id)) return false;
  if (!writer_) {
    const uint32_t epoch = repo_->keys().current_epoch();
    writer_.emplace(*repo_->keys().epoch_key(epoch), epoch);
  }
  Status s = writer_->Add(type, id, plaintext);
  if (s.code() == StatusCode::kAlreadyExists) return false;  // pending already
  RETURN_IF_ERROR(s);
  ++stats_.new_blobs;
  stats_.new_raw_bytes += plaintext.size();
  if (writer_->size() >= kTargetPackBytes) RETURN_IF_ERROR(Flush());
  return true;
}

Status BlobStore::Flush() {
  if (!writer_ || writer_->count() == 0) return Status::OK();
  ASSIGN_OR_RETURN(FinishedPack pack, writer_->Finish());
  // Same bytes, same name: an AlreadyExists from a previous, interrupted
  // attempt is success.
  Status s = repo_->backend()->Save(PackName(pack.id), pack.data,
                                    storage::SaveMode::kCreateIfAbsent);
  if (!s.ok() && s.code() != StatusCode::kAlreadyExists) return s;
  ++stats_.packs_written;
  stats_.pack_bytes_written += pack.data.size();
  pb::Index index;
  pb::IndexPack* entry = index.add_packs();
  entry->set_pack_id(std::string(AsChars(pack.id)));
  entry->set_epoch(pack.epoch);
  for (const pb::PackEntry& e : pack.entries) *entry->add_entries() = e;
  RETURN_IF_ERROR(
      repo_->SaveObject(ObjectType::kIndex, "index", index).status());
  AddIndex(index);
  return Status::OK();
}

Result<Bytes> BlobStore::Read(const crypto::Digest256& id) {
  auto it = locations_.find(id);
  if (it == locations_.end()) {
    return Status::NotFound("blob " + HexEncode(id) + " is in no index");
  }
  const Location& loc = it->second;
  const crypto::AeadKey* key = repo_->keys().epoch_key(loc.epoch);
  if (key == nullptr) {
    return Status::PermissionDenied(
        "blob " + HexEncode(id) + " is under key epoch " +
        std::to_string(loc.epoch) + ", which this holder lacks");
  }
  const std::string name = PackName(loc.pack);
  Result<Bytes> sealed =
      repo_->backend()->Load(name, loc.entry.offset(), loc.entry.length());
  if (sealed.status().code() == StatusCode::kInvalidArgument) {
    return Status::Corruption("pack " + name +
                              " is shorter than its index says");
  }
  RETURN_IF_ERROR(sealed.status());
  Result<Bytes> plain = OpenBlob(*key, loc.epoch, loc.entry, *sealed);
  if (!plain.ok()) return plain.status().WithContext("blob in " + name);
  if (BlobId(repo_->keys().blob_id_key(), *plain) != id) {
    return Status::Corruption("blob in " + name + " does not match its ID " +
                              HexEncode(id));
  }
  return plain;
}

}  // namespace chatvault::backup
