// What the fuzz targets share: a reader and writer for their input formats
// (fixed fields, then length-prefixed parts), a property check that crashes
// the way libFuzzer notices, and a repository in memory with fixed keys.
//
// Most of what chatvault parses from a repository is sealed: a target that
// fed its bytes to the reader as they are would stop at authentication.
// Targets therefore seal their input with the fixed repository's keys, as a
// holder of the keys (a revoked device, a compromised one) could, and reach
// the decoders behind authentication. The keys are derived from fixed
// labels, so blob IDs in the seed corpus stay valid from run to run.
//
// Thread-safety: fuzz targets run one input at a time; nothing here locks.
#ifndef CHATVAULT_FUZZ_FUZZ_SUPPORT_H_
#define CHATVAULT_FUZZ_FUZZ_SUPPORT_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backup/object_codec.h"
#include "backup/repository.h"
#include "base/bytes.h"
#include "crypto/aead.h"
#include "crypto/box.h"
#include "crypto/recovery_code.h"
#include "crypto/secret_bytes.h"
#include "crypto/sign.h"
#include "storage/mem_backend.h"
#include "sync/account.h"
#include "sync/home.h"

namespace chatvault::fuzz {

// Aborts, naming the property and where it was checked: libFuzzer reports
// the abort as a crash and keeps the input.
[[noreturn]] void Fail(const char* file, int line, const char* what);

#define FUZZ_CHECK(cond) \
  ((cond) ? (void)0 : ::chatvault::fuzz::Fail(__FILE__, __LINE__, #cond))

// Reads a target's input: little-endian integers and parts prefixed by a
// u16le length. Past the end everything reads as zero or empty, so every
// input is valid and mutations never fall off a cliff.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size)
      : data_(reinterpret_cast<const std::byte*>(data)), size_(size) {}

  uint8_t U8();
  uint16_t U16();
  uint32_t U32();
  uint64_t U64();
  // A u16le length, then that many bytes (fewer at the end of the input).
  ByteView Part();
  std::string PartString() { return std::string(AsChars(Part())); }
  // Everything not read yet.
  ByteView Rest();
  bool empty() const { return pos_ >= size_; }

 private:
  const std::byte* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Builds inputs for Reader (the corpus generator).
class Writer {
 public:
  Writer& U8(uint8_t v);
  Writer& U16(uint16_t v);
  Writer& U32(uint32_t v);
  Writer& U64(uint64_t v);
  Writer& Part(ByteView part);
  Writer& Part(std::string_view part) { return Part(AsBytes(part)); }
  Writer& Raw(ByteView bytes);
  Writer& Raw(std::string_view bytes) { return Raw(AsBytes(bytes)); }
  const Bytes& bytes() const { return out_; }

 private:
  Bytes out_;
};

// n bytes derived from `label`: the same in every run.
crypto::SecretBytes FixedSecret(std::string_view label, size_t n = 32);
crypto::AeadKey FixedAeadKey(std::string_view label);
crypto::SigningKey FixedSigningKey(std::string_view label);
crypto::BoxKeyPair FixedBoxKeyPair(std::string_view label);
// A 32-byte ID derived from `label`.
Bytes FixedId(std::string_view label);

// A private temporary directory, removed with everything in it (whatever
// the modes a restore gave it) when the object goes.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Removes `path` and everything below it, making directories writable and
// searchable first; follows no symlink.
void RemoveAll(const std::string& path);

// A repository in a MemBackend with fixed keys: repository ID, id key,
// epoch 0 key and account signing key all come from FixedSecret. Its key
// object is sealed to the fixed recovery code's holder key, so opening it
// needs no Argon2id. Created once per process (Get).
class FixedRepository {
 public:
  static FixedRepository& Get();

  storage::MemBackend* backend() { return &backend_; }
  backup::Repository* repo() { return repo_.get(); }
  ByteView repository_id() const { return repo_->keys().repository_id(); }
  const crypto::AeadKey& epoch_key() const {
    return *repo_->keys().epoch_key(0);
  }
  const crypto::RecoveryCode& recovery_code() const { return code_; }
  const crypto::BoxKeyPair& recovery_holder() const { return holder_; }
  // The key object of the recovery holder, as stored under keys/.
  const std::string& key_object_name() const { return key_name_; }
  const Bytes& key_object() const { return key_object_; }
  const Bytes& config_object() const { return config_object_; }

  // Seals `payload` as an object of `type` named `id32` under epoch 0.
  Bytes Seal(backup::ObjectType type, ByteView id32, ByteView payload) const;
  // The keyed blob ID of `plaintext` in this repository.
  Bytes BlobId(ByteView plaintext) const;

  // Packs `blobs` (type and plaintext; a repeated plaintext is stored once)
  // into one pack of epoch 0 and saves it, then an index object naming it.
  // Returns the pack's ID, which differs from run to run (sealing draws
  // random nonces), unlike the blobs' IDs.
  crypto::Digest256 StorePack(
      const std::vector<std::pair<pb::BlobType, Bytes>>& blobs);

  // A pack of every kind of blob a reader decodes, saved once (without an
  // index) and kept: `hello` (raw), `zeros` (4 KiB of zeros, compressed),
  // `empty tree` (a tree with no nodes), `base` and `delta` (a delta
  // against it), `dictionary` and `with dictionary` (compressed with it).
  struct StoredPack {
    crypto::Digest256 id{};
    std::vector<pb::PackEntry> entries;
    std::map<std::string, Bytes> plaintexts;  // by the names above
    std::map<std::string, std::string> ids;   // raw blob IDs, by name
  };
  const StoredPack& Pack();
  // The index of Pack(), as IndexPack: `pack_id` is the real one if
  // `real_id`, else FixedId("pack"), which fuzz inputs use to name it (the
  // real ID changes from run to run).
  pb::IndexPack PackIndex(bool real_id);
  // Replaces FixedId("pack") by Pack()'s real ID in `index`.
  void ResolvePackIds(pb::Index* index);

  // Stores, once, an index for Pack() and a small tree of directories, a
  // file, a database, an empty file and a symlink whose contents are in
  // Pack(); all kept. Returns the root tree's raw blob ID.
  const std::string& StoreFixedTree();

  // Removes every object but the key object, the config and those present
  // at the last Keep(), so that each input starts from the same repository.
  void Reset();
  // Makes the objects stored now part of what Reset keeps.
  void Keep();

 private:
  FixedRepository();
  storage::MemBackend backend_;
  crypto::RecoveryCode code_;
  crypto::BoxKeyPair holder_;
  std::string key_name_;
  Bytes key_object_;
  Bytes config_object_;
  std::unique_ptr<backup::Repository> repo_;
  std::set<std::string> kept_;
  std::unique_ptr<StoredPack> pack_;
  std::string root_tree_;
};

// The fixed tree's nodes: what StoreFixedTree stores, for seeds.
pb::Tree FixedLeafTree(const FixedRepository::StoredPack& pack);
pb::Tree FixedRootTree(const std::string& leaf_id);

// This device's view of FixedRepository: a home in a temporary directory
// with a fresh device identity, and an Account bound to the repository
// (which can sign: it was opened with the recovery code). Created once per
// process (Get).
struct FixedAccount {
  static FixedAccount& Get();
  TempDir home;
  std::optional<sync::DeviceIdentity> identity;
  std::optional<sync::Account> account;
};

// The key bundle FixedRepository seals to its holder, and its config.
pb::KeyBundle FixedKeyBundle(const crypto::BoxPublicKey& holder);
pb::Config FixedConfig();

}  // namespace chatvault::fuzz

#endif  // CHATVAULT_FUZZ_FUZZ_SUPPORT_H_
