// Repository: creating and opening a chatvault repository in a Backend, and
// reading and writing its encrypted objects (docs/design.md sections 4-5).
//
//   ASSIGN_OR_RETURN(auto repo, Repository::Init(backend, passphrase, code));
//   ASSIGN_OR_RETURN(auto repo, Repository::OpenWithPassphrase(backend, pw));
//
// Thread-safety: a Repository may be used from several threads once
// opened; it does not own the Backend, which must outlive it.
#ifndef CHATVAULT_BACKUP_REPOSITORY_H_
#define CHATVAULT_BACKUP_REPOSITORY_H_

#include <google/protobuf/message_lite.h>

#include <memory>
#include <string>

#include "backup/chunker.h"
#include "backup/keys.h"
#include "backup/object_codec.h"
#include "crypto/argon2.h"
#include "crypto/recovery_code.h"
#include "proto/repository.pb.h"
#include "storage/backend.h"

namespace chatvault::backup {

inline constexpr uint32_t kFormatVersion = 1;
// 64 pages of at most 64 KiB: 4 MiB, the largest content-defined chunk.
inline constexpr uint32_t kMaxSqlitePagesPerBlob = 64;

struct InitOptions {
  crypto::Argon2Params kdf = crypto::DefaultArgon2Params();
  // 1 MiB average: no size changed the benchmark chat store's growth
  // measurably, and larger chunks mean fewer blobs (bench/sweep.sh
  // --chunk-size, docs/benchmarks.md).
  ChunkerParams chunker = {256 * 1024, 1024 * 1024, 4 * 1024 * 1024, 1};
  // One page a blob: a day's scattered page writes store only the pages
  // they touched (bench/sweep.sh --sqlite-pages, docs/benchmarks.md).
  uint32_t sqlite_pages_per_blob = 1;
};

class Repository {
 public:
  // Creates a repository in `backend`: key objects for the passphrase and
  // the recovery code, then the config (written last: its presence marks a
  // complete repository). AlreadyExists if one is there already.
  static Result<std::unique_ptr<Repository>> Init(
      storage::Backend* backend, ByteView passphrase,
      const crypto::RecoveryCode& recovery_code,
      const InitOptions& options = {});

  // Opens with a passphrase (tries every passphrase holder) or the recovery
  // code. NotFound if there is no repository ("run chatvault init"),
  // PermissionDenied for a wrong secret, Corruption if the key objects and
  // the config do not belong together or are damaged, InvalidArgument for a
  // format version this build does not know.
  static Result<std::unique_ptr<Repository>> OpenWithPassphrase(
      storage::Backend* backend, ByteView passphrase);
  static Result<std::unique_ptr<Repository>> OpenWithRecoveryCode(
      storage::Backend* backend, const crypto::RecoveryCode& code);

  // Opens with a linked device's holder key ("keys/<holder id>", design.md
  // 4.6). PermissionDenied if the repository has no key object for it (the
  // device was revoked or never linked).
  static Result<std::unique_ptr<Repository>> OpenWithDevice(
      storage::Backend* backend, const crypto::BoxKeyPair& holder);

  const pb::Config& config() const { return config_; }
  // The kind of holder this session opened with.
  pb::HolderKind opened_kind() const { return opened_kind_; }

  // The epoch new objects and blobs are sealed under: the config's write
  // epoch (design.md 4.7).
  uint32_t write_epoch() const { return config_.write_epoch(); }
  const RepositoryKeys& keys() const { return keys_; }
  storage::Backend* backend() const { return backend_; }
  std::string location() const { return backend_->Properties().location; }

  // Seals `message` under the current epoch as "<dir>/<random id>" and
  // returns the ID (hex).
  Result<std::string> SaveObject(ObjectType type, std::string_view dir,
                                 const google::protobuf::MessageLite& message);
  // The same as "<dir>/<id_hex>", for an ID chosen beforehand (NewObjectId)
  // or a fixed one (locks); `mode` says whether an existing object is
  // replaced.
  Status SaveObjectAs(ObjectType type, std::string_view dir,
                      std::string_view id_hex,
                      const google::protobuf::MessageLite& message,
                      storage::SaveMode mode);
  // A fresh random object ID (hex).
  static std::string NewObjectId();
  // The key objects ("holders") that open this repository. Their records
  // are public (design.md 4.2); nothing here needs a secret.
  struct Holder {
    std::string name;  // "keys/<holder id>"
    pb::HolderKind kind = pb::HOLDER_KIND_UNSPECIFIED;
    uint64_t created_unix_ms = 0;
    uint32_t kdf_memory_kib = 0;  // passphrase holders
    bool opened_this = false;     // the holder this session opened with
  };
  Result<std::vector<Holder>> ListHolders() const;

  // Replaces the passphrase. A holder for `new_passphrase` (same Argon2id
  // cost as the passphrase holder it replaces, fresh salt) is saved first;
  // then the holder this session opened with is removed if it was a
  // passphrase, or every passphrase holder if the session opened with the
  // recovery code (the passphrase was lost). The old passphrase stops
  // working; the recovery code still works. Should the removal fail, both
  // passphrases open the repository and the error says so.
  Status ChangePassphrase(ByteView new_passphrase);

  // Replaces the recovery code: a holder for `code` is saved, then every
  // other recovery-code holder is removed, so the old code stops working.
  Status ReplaceRecoveryCode(const crypto::RecoveryCode& code);

  // Rotates the keys: adds a new key epoch, rewrites every holder's key
  // object to seal all epochs (design.md 4.7), and from then on this
  // session, like every session that opens the repository afterwards,
  // seals new data under the new epoch. Older data stays readable. Only
  // the holders the config lists get the keys: a key object someone with
  // write access to the storage added is left as it is. Rotating from two
  // devices at once is not detected.
  Result<uint32_t> RotateKeys();

  // Seals the keys to a linked device's holder key (never the account
  // signing seed) and lists its key object in the config. Returns the key
  // object's name. InvalidArgument if the key is the passphrase's or the
  // recovery code's; a device's object left by an interrupted link is
  // replaced (the caller checks the device list for a linked device).
  Result<std::string> AddDeviceHolder(const crypto::BoxPublicKey& holder);

  // Undoes AddDeviceHolder (a link that could not finish): the holder
  // leaves the config's list and its key object goes.
  Status RemoveDeviceHolder(const std::string& name);

  // Revokes a holder: it leaves the config's list, a new epoch is sealed to
  // the remaining holders (RotateKeys), then its key object is removed.
  // Returns the new epoch. Nothing sealed afterwards opens with its keys.
  Result<uint32_t> RevokeHolder(const std::string& name);

  // Loads, authenticates and parses "<dir>/<id_hex>".
  Status LoadObject(ObjectType type, std::string_view dir,
                    std::string_view id_hex,
                    google::protobuf::MessageLite* message);

 private:
  Repository(storage::Backend* backend, RepositoryKeys keys)
      : backend_(backend), keys_(std::move(keys)) {}
  static Result<std::unique_ptr<Repository>> Open(
      storage::Backend* backend, pb::HolderKind kind,
      const std::function<Result<crypto::BoxKeyPair>(const pb::KeyObject&)>&
          holder);
  Status LoadConfig();
  // Removes `name` from the stored config's holders, if it is there.
  Status Unlist(const std::string& name);
  // PermissionDenied unless this session holds the account signing key.
  Status RequireAccountKey(std::string_view what) const;
  // Seals `config` under epoch 0 and overwrites the stored one.
  Status SaveConfig(pb::Config config);
  // Removes the holders of `kind` except `keep`, and except all but the
  // session's own when `only_opened`.
  Status RemoveHolders(pb::HolderKind kind, const std::string& keep,
                       bool only_opened);

  storage::Backend* backend_;
  RepositoryKeys keys_;
  pb::Config config_;
  // The key object this session opened with, and its kind.
  std::string opened_name_;
  pb::HolderKind opened_kind_ = pb::HOLDER_KIND_UNSPECIFIED;
};

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_REPOSITORY_H_
