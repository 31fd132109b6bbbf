#include "fuzz/fuzz_support.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "backup/blob_store.h"
#include "backup/keys.h"
#include "backup/pack.h"
#include "crypto/blake2b.h"

namespace chatvault::fuzz {

void Fail(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", file, line, what);
  std::abort();
}

uint8_t Reader::U8() {
  if (pos_ >= size_) return 0;
  return std::to_integer<uint8_t>(data_[pos_++]);
}

uint16_t Reader::U16() {
  uint16_t lo = U8();
  return static_cast<uint16_t>(lo | (uint16_t{U8()} << 8));
}

uint32_t Reader::U32() {
  uint32_t lo = U16();
  return lo | (uint32_t{U16()} << 16);
}

uint64_t Reader::U64() {
  uint64_t lo = U32();
  return lo | (uint64_t{U32()} << 32);
}

ByteView Reader::Part() {
  size_t n = U16();
  size_t left = pos_ < size_ ? size_ - pos_ : 0;
  if (n > left) n = left;
  ByteView out(data_ + pos_, n);
  pos_ += n;
  return out;
}

ByteView Reader::Rest() {
  if (pos_ >= size_) return {};
  ByteView out(data_ + pos_, size_ - pos_);
  pos_ = size_;
  return out;
}

Writer& Writer::U8(uint8_t v) {
  out_.push_back(std::byte{v});
  return *this;
}

Writer& Writer::U16(uint16_t v) {
  U8(static_cast<uint8_t>(v));
  return U8(static_cast<uint8_t>(v >> 8));
}

Writer& Writer::U32(uint32_t v) {
  U16(static_cast<uint16_t>(v));
  return U16(static_cast<uint16_t>(v >> 16));
}

Writer& Writer::U64(uint64_t v) {
  U32(static_cast<uint32_t>(v));
  return U32(static_cast<uint32_t>(v >> 32));
}

Writer& Writer::Part(ByteView part) {
  if (part.size() > UINT16_MAX) Fail(__FILE__, __LINE__, "part too long");
  U16(static_cast<uint16_t>(part.size()));
  return Raw(part);
}

Writer& Writer::Raw(ByteView bytes) {
  out_.insert(out_.end(), bytes.begin(), bytes.end());
  return *this;
}

crypto::SecretBytes FixedSecret(std::string_view label, size_t n) {
  std::string msg = "chatvault fuzz ";
  msg += label;
  Result<Bytes> d = crypto::Blake2b(AsBytes(msg), n);
  if (!d.ok()) Fail(__FILE__, __LINE__, "Blake2b");
  return crypto::SecretBytes::CopyFrom(*d);
}

crypto::AeadKey FixedAeadKey(std::string_view label) {
  Result<crypto::AeadKey> key = crypto::AeadKey::FromSecret(FixedSecret(label));
  if (!key.ok()) Fail(__FILE__, __LINE__, "AeadKey");
  return std::move(*key);
}

crypto::SigningKey FixedSigningKey(std::string_view label) {
  Result<crypto::SigningKey> key =
      crypto::SigningKey::FromSeed(FixedSecret(label));
  if (!key.ok()) Fail(__FILE__, __LINE__, "SigningKey");
  return std::move(*key);
}

crypto::BoxKeyPair FixedBoxKeyPair(std::string_view label) {
  Result<crypto::BoxKeyPair> pair =
      crypto::BoxKeyPair::FromSeed(FixedSecret(label));
  if (!pair.ok()) Fail(__FILE__, __LINE__, "BoxKeyPair");
  return std::move(*pair);
}

Bytes FixedId(std::string_view label) {
  crypto::SecretBytes s = FixedSecret(label);
  return Bytes(s.view().begin(), s.view().end());
}

TempDir::TempDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "chatvault-fuzz-XXXXXX")
          .string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    Fail(__FILE__, __LINE__, "mkdtemp");
  }
  path_ = pattern;
}

TempDir::~TempDir() { RemoveAll(path_); }

void RemoveAll(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // A restored directory may have any mode: open every one up first.
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    ::chmod(path.c_str(), 0700);
    std::vector<std::string> dirs;
    for (auto it = fs::recursive_directory_iterator(path, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) {
        ::chmod(it->path().c_str(), 0700);
      }
    }
  }
  fs::remove_all(path, ec);
}

pb::KeyBundle FixedKeyBundle(const crypto::BoxPublicKey& holder) {
  pb::KeyBundle b;
  b.set_repository_id(std::string(AsChars(FixedId("repository id"))));
  b.set_holder_id(std::string(AsChars(*crypto::Blake2b(holder.bytes(), 32))));
  b.set_id_key(std::string(FixedSecret("id key").chars()));
  pb::EpochKey* e = b.add_epochs();
  e->set_number(0);
  e->set_key(std::string(FixedSecret("epoch 0").chars()));
  crypto::SigningKey account = FixedSigningKey("account");
  b.set_account_signing_seed(std::string(account.Seed().chars()));
  b.set_account_verify_key(std::string(AsChars(account.verify_key().bytes())));
  return b;
}

pb::Config FixedConfig() {
  pb::Config c;
  c.set_format_version(backup::kFormatVersion);
  c.set_repository_id(std::string(AsChars(FixedId("repository id"))));
  pb::ChunkerConfig* ch = c.mutable_chunker();
  ch->set_min_size(256 * 1024);
  ch->set_avg_size(1024 * 1024);
  ch->set_max_size(4 * 1024 * 1024);
  ch->set_normalization(1);
  ch->set_sqlite_pages_per_blob(1);
  c.set_created_unix_ms(1700000000000);
  return c;
}

FixedRepository& FixedRepository::Get() {
  static FixedRepository* fixed = new FixedRepository();
  return *fixed;
}

FixedRepository::FixedRepository()
    : code_(*crypto::RecoveryCode::FromSeed(FixedSecret("recovery code"))),
      holder_(*backup::RecoveryHolderKey(code_)) {
  pb::KeyBundle bundle = FixedKeyBundle(holder_.public_key());
  std::string plain = bundle.SerializeAsString();
  Result<Bytes> sealed =
      crypto::SealedBoxSeal(holder_.public_key(), AsBytes(plain));
  if (!sealed.ok()) Fail(__FILE__, __LINE__, "SealedBoxSeal");
  pb::KeyObject object;
  object.set_format_version(1);
  object.set_kind(pb::HOLDER_KIND_RECOVERY_CODE);
  object.set_holder_public_key(
      std::string(AsChars(holder_.public_key().bytes())));
  object.set_sealed_bundle(std::string(AsChars(*sealed)));
  object.set_created_unix_ms(1700000000000);
  key_name_ = "keys/" + backup::HolderId(holder_.public_key());
  key_object_ = ToBytes(object.SerializeAsString());

  pb::Config config = FixedConfig();
  config.add_holders(key_name_);
  config_object_ = backup::SealObject(
      FixedAeadKey("epoch 0"), 0, backup::ObjectType::kConfig,
      FixedId("repository id"), AsBytes(config.SerializeAsString()));

  Reset();
  Result<std::unique_ptr<backup::Repository>> repo =
      backup::Repository::OpenWithRecoveryCode(&backend_, code_);
  if (!repo.ok()) {
    std::fprintf(stderr, "fuzz: cannot open the fixed repository: %s\n",
                 repo.status().ToString().c_str());
    std::abort();
  }
  repo_ = std::move(*repo);
}

Bytes FixedRepository::Seal(backup::ObjectType type, ByteView id32,
                            ByteView payload) const {
  return backup::SealObject(epoch_key(), 0, type, id32, payload);
}

Bytes FixedRepository::BlobId(ByteView plaintext) const {
  crypto::Digest256 id = backup::BlobId(repo_->keys().blob_id_key(), plaintext);
  return Bytes(id.begin(), id.end());
}

void FixedRepository::Reset() {
  std::vector<std::string> names;
  Status listed = backend_.List("", [&](const storage::ObjectInfo& info) {
    names.push_back(info.name);
    return Status::OK();
  });
  if (!listed.ok()) Fail(__FILE__, __LINE__, "List");
  for (const std::string& name : names) {
    if (name == key_name_ || name == "config" || kept_.contains(name)) {
      continue;
    }
    backend_.Remove(name).IgnoreError();
  }
  if (!backend_.Save(key_name_, key_object_, storage::SaveMode::kOverwrite)
           .ok() ||
      !backend_.Save("config", config_object_, storage::SaveMode::kOverwrite)
           .ok()) {
    Fail(__FILE__, __LINE__, "Save");
  }
}

void FixedRepository::Keep() {
  Status listed = backend_.List("", [&](const storage::ObjectInfo& info) {
    kept_.insert(info.name);
    return Status::OK();
  });
  if (!listed.ok()) Fail(__FILE__, __LINE__, "List");
}

crypto::Digest256 FixedRepository::StorePack(
    const std::vector<std::pair<pb::BlobType, Bytes>>& blobs) {
  backup::PackWriter writer(epoch_key(), 0);
  for (const auto& [type, plaintext] : blobs) {
    crypto::Digest256 id =
        backup::BlobId(repo_->keys().blob_id_key(), plaintext);
    Status added = writer.Add(type, id, plaintext);
    if (!added.ok() && added.code() != StatusCode::kAlreadyExists) {
      Fail(__FILE__, __LINE__, "PackWriter::Add");
    }
  }
  Result<backup::FinishedPack> pack = writer.Finish();
  if (!pack.ok()) Fail(__FILE__, __LINE__, "PackWriter::Finish");
  if (!backend_
           .Save(backup::PackName(pack->id), pack->data,
                 storage::SaveMode::kOverwrite)
           .ok()) {
    Fail(__FILE__, __LINE__, "Save pack");
  }
  pb::Index index;
  pb::IndexPack* p = index.add_packs();
  p->set_pack_id(std::string(AsChars(pack->id)));
  p->set_epoch(0);
  for (const pb::PackEntry& e : pack->entries) *p->add_entries() = e;
  if (!repo_->SaveObject(backup::ObjectType::kIndex, "index", index).ok()) {
    Fail(__FILE__, __LINE__, "Save index");
  }
  return pack->id;
}

const FixedRepository::StoredPack& FixedRepository::Pack() {
  if (pack_) return *pack_;
  auto pack = std::make_unique<StoredPack>();
  // Page-like text, so that zstd has something to find.
  std::string text;
  for (int i = 0; text.size() < 8192; ++i) {
    text += "message " + std::to_string(i * 7919 % 1000) +
            ": see you at the station at " + std::to_string(i % 24) + "h\n";
  }
  std::string changed = text;
  changed.replace(4000, 5, "HELLO");
  pb::Tree empty_tree;
  const std::vector<std::pair<std::string, std::string>> plain = {
      {"hello", "hello, chatvault\n"},
      {"zeros", std::string(4096, '\0')},
      {"empty tree", empty_tree.SerializeAsString()},
      {"base", text},
      {"delta", changed},
      {"dictionary", text.substr(0, 4096)},
      {"with dictionary", text.substr(2048, 4096) + "bye"},
  };
  for (const auto& [name, bytes] : plain) {
    pack->plaintexts[name] = ToBytes(bytes);
    pack->ids[name] = std::string(AsChars(BlobId(ToBytes(bytes))));
  }
  auto id_of = [&](const std::string& name) {
    return crypto::Digest256FromBytes(pack->ids[name]);
  };
  backup::PackWriter writer(epoch_key(), 0);
  for (const auto& [name, bytes] : plain) {
    const pb::BlobType type =
        name == "empty tree" ? pb::BLOB_TYPE_TREE : pb::BLOB_TYPE_DATA;
    const backup::DeltaBase base{id_of("base"), pack->plaintexts["base"]};
    const backup::DeltaBase dict{id_of("dictionary"),
                                 pack->plaintexts["dictionary"]};
    Result<backup::SealedBlob> sealed = backup::SealBlob(
        epoch_key(), 0, type, id_of(name), pack->plaintexts[name],
        backup::kDefaultZstdLevel, /*compress=*/name != "hello",
        name == "delta" ? &base : nullptr,
        name == "with dictionary" ? &dict : nullptr);
    if (!sealed.ok() || !writer.AddSealed(std::move(*sealed)).ok()) {
      Fail(__FILE__, __LINE__, "SealBlob");
    }
  }
  Result<backup::FinishedPack> finished = writer.Finish();
  if (!finished.ok()) Fail(__FILE__, __LINE__, "PackWriter::Finish");
  pack->id = finished->id;
  pack->entries = finished->entries;
  if (pack->entries[4].base().empty() ||
      pack->entries[6].dictionary().empty()) {
    Fail(__FILE__, __LINE__, "the fixed pack lacks a delta or dictionary");
  }
  if (!backend_
           .Save(backup::PackName(pack->id), finished->data,
                 storage::SaveMode::kOverwrite)
           .ok()) {
    Fail(__FILE__, __LINE__, "Save pack");
  }
  kept_.insert(backup::PackName(pack->id));
  pack_ = std::move(pack);
  return *pack_;
}

pb::IndexPack FixedRepository::PackIndex(bool real_id) {
  const StoredPack& pack = Pack();
  pb::IndexPack p;
  p.set_pack_id(real_id ? std::string(AsChars(pack.id))
                        : std::string(AsChars(FixedId("pack"))));
  p.set_epoch(0);
  for (const pb::PackEntry& e : pack.entries) *p.add_entries() = e;
  return p;
}

void FixedRepository::ResolvePackIds(pb::Index* index) {
  const std::string placeholder(AsChars(FixedId("pack")));
  const std::string real(AsChars(Pack().id));
  for (pb::IndexPack& p : *index->mutable_packs()) {
    if (p.pack_id() == placeholder) p.set_pack_id(real);
  }
}

pb::Tree FixedLeafTree(const FixedRepository::StoredPack& pack) {
  auto ids = [&](const std::string& name) { return pack.ids.at(name); };
  auto size = [&](const std::string& name) {
    return pack.plaintexts.at(name).size();
  };
  pb::Tree tree;
  pb::Node* n = tree.add_nodes();
  n->set_name("hello.txt");
  n->set_type(pb::NODE_TYPE_FILE);
  n->set_mode(0644);
  n->set_mtime_ns(1700000000123456789);
  n->add_content(ids("hello"));
  n->set_size(size("hello"));
  n = tree.add_nodes();
  n->set_name("link");
  n->set_type(pb::NODE_TYPE_SYMLINK);
  n->set_link_target("hello.txt");
  n = tree.add_nodes();
  n->set_name("msgstore.db");
  n->set_type(pb::NODE_TYPE_FILE);
  n->set_mode(0600);
  n->set_sqlite_page_size(4096);
  n->add_content(ids("base"));
  n->add_content(ids("delta"));
  n->add_content(ids("with dictionary"));
  n->set_size(size("base") + size("delta") + size("with dictionary"));
  n = tree.add_nodes();
  n->set_name("sparse");
  n->set_type(pb::NODE_TYPE_FILE);
  n->set_mode(0600);
  n->add_content(ids("zeros"));
  n->add_content(ids("hello"));
  n->set_size(size("zeros") + size("hello"));
  return tree;
}

pb::Tree FixedRootTree(const std::string& leaf_id) {
  pb::Tree tree;
  pb::Node* n = tree.add_nodes();
  n->set_name("chats");
  n->set_type(pb::NODE_TYPE_DIR);
  n->set_mode(0750);
  n->set_subtree(leaf_id);
  n = tree.add_nodes();
  n->set_name("empty");
  n->set_type(pb::NODE_TYPE_FILE);
  n->set_mode(0600);
  return tree;
}

const std::string& FixedRepository::StoreFixedTree() {
  if (!root_tree_.empty()) return root_tree_;
  const StoredPack& pack = Pack();
  pb::Index index;
  *index.add_packs() = PackIndex(/*real_id=*/true);
  if (!repo_->SaveObject(backup::ObjectType::kIndex, "index", index).ok()) {
    Fail(__FILE__, __LINE__, "Save index");
  }
  const Bytes leaf = ToBytes(FixedLeafTree(pack).SerializeAsString());
  const Bytes root = ToBytes(
      FixedRootTree(std::string(AsChars(BlobId(leaf)))).SerializeAsString());
  StorePack({{pb::BLOB_TYPE_TREE, leaf}, {pb::BLOB_TYPE_TREE, root}});
  Keep();
  root_tree_ = std::string(AsChars(BlobId(root)));
  return root_tree_;
}

FixedAccount& FixedAccount::Get() {
  // Destroyed at exit, which removes the home.
  static std::unique_ptr<FixedAccount> fixed = [] {
    auto a = std::make_unique<FixedAccount>();
    Result<sync::DeviceIdentity> identity =
        sync::DeviceIdentity::LoadOrCreate(a->home.path() + "/home");
    if (!identity.ok()) Fail(__FILE__, __LINE__, "DeviceIdentity");
    a->identity.emplace(std::move(*identity));
    Result<sync::Account> account = sync::Account::Open(
        FixedRepository::Get().repo(), a->home.path() + "/home", &*a->identity);
    if (!account.ok()) Fail(__FILE__, __LINE__, "Account::Open");
    a->account.emplace(std::move(*account));
    return a;
  }();
  return *fixed;
}

}  // namespace chatvault::fuzz
