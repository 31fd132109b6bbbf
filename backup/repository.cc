#include "backup/repository.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <vector>

#include "backup/pack.h"
#include "crypto/random.h"

namespace chatvault::backup {
namespace {

constexpr const char* kConfigName = "config";
constexpr const char* kKeysDir = "keys/";

uint64_t NowMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

Status NoRepository(const storage::Backend& backend) {
  return Status::NotFound("there is no chatvault repository at " +
                          backend.Properties().location +
                          "; create one with `chatvault init`");
}

// The name of `object` in the repository: "keys/<holder id>".
Result<std::string> KeyObjectName(const pb::KeyObject& object) {
  Result<crypto::BoxPublicKey> pk =
      crypto::BoxPublicKey::FromBytes(AsBytes(object.holder_public_key()));
  RETURN_IF_ERROR(pk.status());
  return kKeysDir + HolderId(*pk);
}

Status SaveKeyObject(storage::Backend* backend, const pb::KeyObject& object) {
  ASSIGN_OR_RETURN(std::string name, KeyObjectName(object));
  return backend->Save(name, AsBytes(object.SerializeAsString()),
                       storage::SaveMode::kCreateIfAbsent);
}

// Every key object that parses, by name; damaged ones are left out (they
// open nothing, and check-like tools report them).
Result<std::map<std::string, pb::KeyObject>> LoadKeyObjects(
    storage::Backend* backend) {
  std::vector<std::string> names;
  RETURN_IF_ERROR(backend->List(kKeysDir, [&](const storage::ObjectInfo& info) {
    names.push_back(info.name);
    return Status::OK();
  }));
  std::map<std::string, pb::KeyObject> out;
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(Bytes data, backend->Load(name, 0, storage::kToEnd));
    pb::KeyObject object;
    // An object whose name is not its key's: someone put another key
    // under a holder's name. It opens nothing and is given nothing.
    if (!object.ParseFromArray(data.data(), static_cast<int>(data.size())))
      continue;
    Result<std::string> own = KeyObjectName(object);
    if (own.ok() && *own == name) {
      out.emplace(name, std::move(object));
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Repository>> Repository::Init(
    storage::Backend* backend, ByteView passphrase,
    const crypto::RecoveryCode& recovery_code, const InitOptions& options) {
  Result<storage::ObjectInfo> existing = backend->Stat(kConfigName);
  if (existing.ok()) {
    return Status::AlreadyExists("a chatvault repository already exists at " +
                                 backend->Properties().location);
  }
  if (existing.status().code() != StatusCode::kNotFound)
    return existing.status();
  RETURN_IF_ERROR(crypto::ValidateArgon2Params(options.kdf));
  RETURN_IF_ERROR(
      Chunker::Create(options.chunker, GearTable::Standard()).status());
  if (options.chunker.max_size > kMaxBlobBytes) {
    return Status::InvalidArgument("the largest chunk size is 64 MiB");
  }
  if (options.sqlite_pages_per_blob < 1 ||
      options.sqlite_pages_per_blob > kMaxSqlitePagesPerBlob) {
    return Status::InvalidArgument("SQLite pages per blob must be 1 to " +
                                   std::to_string(kMaxSqlitePagesPerBlob));
  }

  RepositoryKeys keys = RepositoryKeys::Generate();
  ASSIGN_OR_RETURN(pb::KeyObject pass,
                   MakePassphraseKeyObject(keys, passphrase, options.kdf));
  ASSIGN_OR_RETURN(pb::KeyObject recovery,
                   MakeRecoveryKeyObject(keys, recovery_code));
  RETURN_IF_ERROR(SaveKeyObject(backend, pass));
  RETURN_IF_ERROR(SaveKeyObject(backend, recovery));
  ASSIGN_OR_RETURN(std::string pass_name, KeyObjectName(pass));
  ASSIGN_OR_RETURN(std::string recovery_name, KeyObjectName(recovery));

  auto repo =
      std::unique_ptr<Repository>(new Repository(backend, std::move(keys)));
  pb::Config& config = repo->config_;
  config.set_format_version(kFormatVersion);
  config.set_repository_id(std::string(AsChars(repo->keys_.repository_id())));
  config.mutable_chunker()->set_min_size(options.chunker.min_size);
  config.mutable_chunker()->set_avg_size(options.chunker.avg_size);
  config.mutable_chunker()->set_max_size(options.chunker.max_size);
  config.mutable_chunker()->set_normalization(
      static_cast<uint32_t>(options.chunker.normalization));
  config.mutable_chunker()->set_sqlite_pages_per_blob(
      options.sqlite_pages_per_blob);
  config.set_created_unix_ms(NowMs());
  config.add_holders(pass_name);
  config.add_holders(recovery_name);
  Bytes sealed = SealObject(*repo->keys_.epoch_key(0), 0, ObjectType::kConfig,
                            repo->keys_.repository_id(),
                            AsBytes(config.SerializeAsString()));
  Status s =
      backend->Save(kConfigName, sealed, storage::SaveMode::kCreateIfAbsent);
  if (s.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("another process created a repository at " +
                                 backend->Properties().location +
                                 " at the same time");
  }
  RETURN_IF_ERROR(s);
  return repo;
}

Result<std::unique_ptr<Repository>> Repository::Open(
    storage::Backend* backend, pb::HolderKind kind,
    const std::function<Result<crypto::BoxKeyPair>(const pb::KeyObject&)>&
        holder) {
  std::vector<std::string> names;
  RETURN_IF_ERROR(backend->List(kKeysDir, [&](const storage::ObjectInfo& info) {
    names.push_back(info.name);
    return Status::OK();
  }));
  if (names.empty()) {
    Result<storage::ObjectInfo> config = backend->Stat(kConfigName);
    if (config.status().code() == StatusCode::kNotFound)
      return NoRepository(*backend);
    RETURN_IF_ERROR(config.status());
    return Status::Corruption("the repository at " +
                              backend->Properties().location +
                              " has a config but no key objects");
  }
  Status last = Status::PermissionDenied(
      kind == pb::HOLDER_KIND_PASSPHRASE
          ? "wrong passphrase for the repository at " +
                backend->Properties().location
          : "wrong recovery code for the repository at " +
                backend->Properties().location);
  // A damaged or hostile key object must not hide a good one: skip it and
  // report it only if no holder opens. Holder derivations (Argon2id runs)
  // are capped, so that a store full of key objects cannot stall opening.
  constexpr int kMaxDerivations = 8;
  int derivations = 0;
  Status skipped;
  int of_kind = 0;
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(Bytes data, backend->Load(name, 0, storage::kToEnd));
    pb::KeyObject object;
    if (!object.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
      skipped = Status::Corruption("key object '" + name + "' does not parse");
      continue;
    }
    if (object.kind() != kind) continue;
    ++of_kind;
    if (++derivations > kMaxDerivations) {
      return Status::Corruption(
          "the repository at " + backend->Properties().location +
          " has more than 8 key objects of this kind; it may "
          "have been tampered with");
    }
    Result<crypto::BoxKeyPair> pair = holder(object);
    if (!pair.ok()) {
      skipped = pair.status().WithContext(name);
      continue;
    }
    Result<RepositoryKeys> keys = OpenKeyObject(object, *pair);
    if (keys.status().code() == StatusCode::kPermissionDenied) continue;
    if (!keys.ok()) {
      skipped = keys.status().WithContext(name);
      continue;
    }
    auto repo =
        std::unique_ptr<Repository>(new Repository(backend, std::move(*keys)));
    // A key object that opens but whose keys do not open the config may
    // be a forgery sealed to this holder's public key (anyone who can
    // write the store can make one): it must not hide the genuine one.
    if (Status config = repo->LoadConfig(); !config.ok()) {
      skipped = config;
      continue;
    }
    repo->opened_name_ = name;
    repo->opened_kind_ = kind;
    return repo;
  }
  if (!skipped.ok()) return skipped;
  if (of_kind == 0 && kind == pb::HOLDER_KIND_PASSPHRASE) {
    // Every passphrase key object is gone (or the repository was created
    // without one): no passphrase can be right.
    return Status::PermissionDenied(
        "the repository at " + backend->Properties().location +
        " has no passphrase key object (removed or damaged?); open it with "
        "the recovery code, then set a passphrase with `chatvault key "
        "passwd`");
  }
  return last;
}

Status Repository::LoadConfig() {
  Result<Bytes> data = backend_->Load(kConfigName, 0, storage::kToEnd);
  if (data.status().code() == StatusCode::kNotFound) {
    return Status::Corruption(
        "the repository at " + location() +
        " has key objects but no config: it was not fully "
        "created; run `chatvault init` again in an empty place");
  }
  RETURN_IF_ERROR(data.status());
  const crypto::AeadKey* key = keys_.epoch_key(0);
  if (key == nullptr) return Status::Corruption("the key bundle lacks epoch 0");
  // The config is sealed with the repository ID as its ID: a key object
  // copied in from another repository opens, but cannot open this config.
  Result<Bytes> plain =
      OpenObject(*key, ObjectType::kConfig, keys_.repository_id(), *data);
  if (!plain.ok()) {
    return Status::Corruption(
        "the repository's config does not match its key objects (damaged, or "
        "keys from another repository): " +
        std::string(plain.status().message()));
  }
  if (!config_.ParseFromArray(plain->data(), static_cast<int>(plain->size()))) {
    return Status::Corruption("the repository's config does not parse");
  }
  if (config_.format_version() != kFormatVersion) {
    return Status::InvalidArgument("the repository uses format version " +
                                   std::to_string(config_.format_version()) +
                                   "; this chatvault reads version " +
                                   std::to_string(kFormatVersion) +
                                   " — install a newer chatvault");
  }
  return Status::OK();
}

Result<std::unique_ptr<Repository>> Repository::OpenWithPassphrase(
    storage::Backend* backend, ByteView passphrase) {
  // Holders with the same parameters and salt share one derivation.
  std::map<std::string, crypto::BoxKeyPair> derived;
  return Open(backend, pb::HOLDER_KIND_PASSPHRASE,
              [&](const pb::KeyObject& object) -> Result<crypto::BoxKeyPair> {
                ASSIGN_OR_RETURN(crypto::Argon2Params kdf,
                                 crypto::Argon2ParamsFromProto(object.kdf()));
                std::string cache_key = object.kdf().SerializeAsString();
                auto it = derived.find(cache_key);
                if (it == derived.end()) {
                  ASSIGN_OR_RETURN(crypto::BoxKeyPair pair,
                                   PassphraseHolderKey(passphrase, kdf));
                  it = derived.emplace(cache_key, std::move(pair)).first;
                }
                return crypto::BoxKeyPair::FromSecretKey(
                    it->second.secret_key().Clone());
              });
}

Result<std::unique_ptr<Repository>> Repository::OpenWithRecoveryCode(
    storage::Backend* backend, const crypto::RecoveryCode& code) {
  return Open(backend, pb::HOLDER_KIND_RECOVERY_CODE,
              [&](const pb::KeyObject&) { return RecoveryHolderKey(code); });
}

Result<std::unique_ptr<Repository>> Repository::OpenWithDevice(
    storage::Backend* backend, const crypto::BoxKeyPair& holder) {
  const std::string name = kKeysDir + HolderId(holder.public_key());
  Result<Bytes> data = backend->Load(name, 0, storage::kToEnd);
  if (data.status().code() == StatusCode::kNotFound) {
    Result<storage::ObjectInfo> config = backend->Stat(kConfigName);
    if (config.status().code() == StatusCode::kNotFound)
      return NoRepository(*backend);
    RETURN_IF_ERROR(config.status());
    return Status::PermissionDenied(
        "this device holds no key for the repository at " +
        backend->Properties().location +
        ": it was revoked, or was never linked (link it with `chatvault "
        "device join`)");
  }
  RETURN_IF_ERROR(data.status());
  pb::KeyObject object;
  if (!object.ParseFromArray(data->data(), static_cast<int>(data->size()))) {
    return Status::Corruption("key object '" + name + "' does not parse");
  }
  if (object.kind() != pb::HOLDER_KIND_DEVICE) {
    return Status::Corruption("key object '" + name +
                              "' is not a device's key object");
  }
  ASSIGN_OR_RETURN(RepositoryKeys keys, OpenKeyObject(object, holder));
  if (keys.account().has_value()) {
    return Status::Corruption("key object '" + name +
                              "' gives a device the account signing key");
  }
  auto repo =
      std::unique_ptr<Repository>(new Repository(backend, std::move(keys)));
  RETURN_IF_ERROR(repo->LoadConfig());
  repo->opened_name_ = name;
  repo->opened_kind_ = pb::HOLDER_KIND_DEVICE;
  return repo;
}

Result<std::string> Repository::AddDeviceHolder(
    const crypto::BoxPublicKey& holder) {
  // Another session may have changed the config meanwhile (a revocation):
  // change the current one.
  RETURN_IF_ERROR(LoadConfig());
  ASSIGN_OR_RETURN(pb::KeyObject object, MakeDeviceKeyObject(keys_, holder));
  ASSIGN_OR_RETURN(std::string name, KeyObjectName(object));
  Result<Bytes> existing = backend_->Load(name, 0, storage::kToEnd);
  if (existing.ok()) {
    pb::KeyObject old;
    if (old.ParseFromArray(existing->data(),
                           static_cast<int>(existing->size())) &&
        old.kind() != pb::HOLDER_KIND_DEVICE) {
      return Status::InvalidArgument(
          "the new device's holder key is the passphrase's or the recovery "
          "code's; refusing to replace that holder");
    }
  } else if (existing.status().code() != StatusCode::kNotFound) {
    return existing.status();
  }
  // A key object an interrupted link left behind is replaced.
  RETURN_IF_ERROR(backend_->Save(name, AsBytes(object.SerializeAsString()),
                                 storage::SaveMode::kOverwrite));
  // Listed already by a link that stopped before its device list: the
  // caller, which checked the list, is finishing it.
  if (std::find(config_.holders().begin(), config_.holders().end(), name) ==
      config_.holders().end()) {
    pb::Config config = config_;
    config.add_holders(name);
    RETURN_IF_ERROR(SaveConfig(std::move(config)));
  }
  return name;
}

Status Repository::Unlist(const std::string& name) {
  RETURN_IF_ERROR(LoadConfig());
  pb::Config config = config_;
  auto* holders = config.mutable_holders();
  auto it = std::find(holders->begin(), holders->end(), name);
  if (it == holders->end()) return Status::OK();
  holders->erase(it);
  return SaveConfig(std::move(config));
}

Status Repository::RemoveDeviceHolder(const std::string& name) {
  RETURN_IF_ERROR(Unlist(name));
  return backend_->Remove(name);
}

Result<uint32_t> Repository::RevokeHolder(const std::string& name) {
  if (name == opened_name_) {
    return Status::InvalidArgument(
        "a session cannot revoke the holder it opened with");
  }
  RETURN_IF_ERROR(Unlist(name));
  // The remaining holders get a new epoch; the revoked one keeps only what
  // it had. Its key object goes last, so that an interruption leaves it
  // merely unlisted (and so never given a key again).
  ASSIGN_OR_RETURN(uint32_t epoch, RotateKeys());
  RETURN_IF_ERROR(backend_->Remove(name));
  return epoch;
}

Result<std::vector<Repository::Holder>> Repository::ListHolders() const {
  ASSIGN_OR_RETURN(auto objects, LoadKeyObjects(backend_));
  std::vector<Holder> out;
  for (const auto& [name, object] : objects) {
    Holder h;
    h.name = name;
    h.kind = object.kind();
    h.created_unix_ms = object.created_unix_ms();
    h.kdf_memory_kib = object.kdf().m_cost_kib();
    h.opened_this = name == opened_name_;
    out.push_back(std::move(h));
  }
  return out;
}

Status Repository::SaveConfig(pb::Config config) {
  Bytes sealed =
      SealObject(*keys_.epoch_key(0), 0, ObjectType::kConfig,
                 keys_.repository_id(), AsBytes(config.SerializeAsString()));
  RETURN_IF_ERROR(
      backend_->Save(kConfigName, sealed, storage::SaveMode::kOverwrite));
  config_ = std::move(config);
  return Status::OK();
}

Status Repository::RemoveHolders(pb::HolderKind kind, const std::string& keep,
                                 bool only_opened) {
  ASSIGN_OR_RETURN(auto objects, LoadKeyObjects(backend_));
  std::vector<std::string> gone;
  for (const auto& [name, object] : objects) {
    if (object.kind() != kind || name == keep) continue;
    if (only_opened && name != opened_name_) continue;
    gone.push_back(name);
  }
  // The config's holder list first: the new holder in, the old ones out.
  pb::Config config = config_;
  config.clear_holders();
  for (const std::string& h : config_.holders()) {
    if (h != keep && std::find(gone.begin(), gone.end(), h) == gone.end()) {
      config.add_holders(h);
    }
  }
  config.add_holders(keep);
  RETURN_IF_ERROR(SaveConfig(std::move(config)));
  for (const std::string& name : gone) {
    Status s = backend_->Remove(name);
    if (!s.ok()) {
      return s.WithContext(
          "the new key is saved, but the old one could not be removed and "
          "still works; run the command again");
    }
  }
  return Status::OK();
}

Status Repository::RequireAccountKey(std::string_view what) const {
  if (keys_.account().has_value()) return Status::OK();
  return Status::PermissionDenied(
      std::string(what) +
      " needs the passphrase or the recovery code (a linked device's key "
      "lacks the account signing key, which would be lost)");
}

Status Repository::ChangePassphrase(ByteView new_passphrase) {
  RETURN_IF_ERROR(RequireAccountKey("changing the passphrase"));
  ASSIGN_OR_RETURN(auto objects, LoadKeyObjects(backend_));
  // The cost of the holder being replaced (the session's, else any
  // passphrase holder), with a fresh salt.
  crypto::Argon2Params kdf = crypto::DefaultArgon2Params();
  auto listed = [&](const std::string& name) {
    return std::find(config_.holders().begin(), config_.holders().end(),
                     name) != config_.holders().end();
  };
  for (const auto& [name, object] : objects) {
    // Only the repository's own holders: a key object anyone could have
    // added must not lower the new passphrase's cost.
    if (object.kind() != pb::HOLDER_KIND_PASSPHRASE || !listed(name)) continue;
    Result<crypto::Argon2Params> p =
        crypto::Argon2ParamsFromProto(object.kdf());
    if (!p.ok()) continue;
    if (name == opened_name_ || opened_kind_ != pb::HOLDER_KIND_PASSPHRASE) {
      const auto salt = kdf.salt;
      kdf = *p;
      kdf.salt = salt;
      if (name == opened_name_) break;
    }
  }
  ASSIGN_OR_RETURN(pb::KeyObject object,
                   MakePassphraseKeyObject(keys_, new_passphrase, kdf));
  ASSIGN_OR_RETURN(std::string name, KeyObjectName(object));
  RETURN_IF_ERROR(SaveKeyObject(backend_, object));
  return RemoveHolders(
      pb::HOLDER_KIND_PASSPHRASE, name,
      /*only_opened=*/opened_kind_ == pb::HOLDER_KIND_PASSPHRASE);
}

Result<uint32_t> Repository::RotateKeys() {
  // The passphrase and recovery holders' new key objects must carry the
  // account signing key, which only their sessions hold.
  RETURN_IF_ERROR(RequireAccountKey("rotating the keys"));
  RETURN_IF_ERROR(LoadConfig());
  if (config_.holders().empty()) {
    return Status::InvalidArgument(
        "this repository's config lists no key holders, so a rotation "
        "cannot tell them from key objects someone else added");
  }
  ASSIGN_OR_RETURN(auto objects, LoadKeyObjects(backend_));
  keys_.AddEpoch();
  // Every holder gets the new epoch before anything is sealed under it:
  // this command writes no data, and others see the epoch only through
  // their rewritten key object. Only the holders the (authenticated)
  // config lists are given the keys.
  for (const std::string& name : config_.holders()) {
    auto object = objects.find(name);
    if (object == objects.end()) {
      return Status::Corruption("key holder " + name +
                                " listed in the config is missing or damaged");
    }
    ASSIGN_OR_RETURN(pb::KeyObject resealed,
                     ResealKeyObject(keys_, object->second));
    RETURN_IF_ERROR(backend_->Save(name, AsBytes(resealed.SerializeAsString()),
                                   storage::SaveMode::kOverwrite));
  }
  // Only now, with every holder able to read it, does new data go under
  // the new epoch. The config stays sealed under epoch 0, which every
  // holder has.
  pb::Config config = config_;
  config.set_write_epoch(keys_.current_epoch());
  RETURN_IF_ERROR(SaveConfig(std::move(config)));
  return config_.write_epoch();
}

Status Repository::ReplaceRecoveryCode(const crypto::RecoveryCode& code) {
  RETURN_IF_ERROR(RequireAccountKey("replacing the recovery code"));
  ASSIGN_OR_RETURN(pb::KeyObject object, MakeRecoveryKeyObject(keys_, code));
  ASSIGN_OR_RETURN(std::string name, KeyObjectName(object));
  RETURN_IF_ERROR(SaveKeyObject(backend_, object));
  return RemoveHolders(pb::HOLDER_KIND_RECOVERY_CODE, name,
                       /*only_opened=*/false);
}

std::string Repository::NewObjectId() {
  Bytes id(kObjectIdBytes);
  crypto::RandomBytes(id);
  return HexEncode(id);
}

Result<std::string> Repository::SaveObject(
    ObjectType type, std::string_view dir,
    const google::protobuf::MessageLite& message) {
  std::string hex = NewObjectId();
  RETURN_IF_ERROR(SaveObjectAs(type, dir, hex, message,
                               storage::SaveMode::kCreateIfAbsent));
  return hex;
}

Status Repository::SaveObjectAs(ObjectType type, std::string_view dir,
                                std::string_view id_hex,
                                const google::protobuf::MessageLite& message,
                                storage::SaveMode mode) {
  ASSIGN_OR_RETURN(Bytes id, HexDecode(id_hex));
  if (id.size() != kObjectIdBytes) {
    return Status::InvalidArgument("'" + std::string(id_hex) +
                                   "' is not an object ID");
  }
  const uint32_t epoch = write_epoch();
  if (keys_.epoch_key(epoch) == nullptr) {
    return Status::PermissionDenied("this holder lacks the key epoch " +
                                    std::to_string(epoch) +
                                    " new objects are sealed under");
  }
  Bytes sealed = SealObject(*keys_.epoch_key(epoch), epoch, type, id,
                            AsBytes(message.SerializeAsString()));
  return backend_->Save(std::string(dir) + "/" + std::string(id_hex), sealed,
                        mode);
}

Status Repository::LoadObject(ObjectType type, std::string_view dir,
                              std::string_view id_hex,
                              google::protobuf::MessageLite* message) {
  const std::string name = std::string(dir) + "/" + std::string(id_hex);
  ASSIGN_OR_RETURN(Bytes id, HexDecode(id_hex));
  if (id.size() != kObjectIdBytes) {
    return Status::InvalidArgument("'" + std::string(id_hex) +
                                   "' is not an object ID");
  }
  ASSIGN_OR_RETURN(Bytes data, backend_->Load(name, 0, storage::kToEnd));
  ASSIGN_OR_RETURN(SealedObjectHeader header, PeekObjectHeader(data));
  const crypto::AeadKey* key = keys_.epoch_key(header.epoch);
  if (key == nullptr) {
    return Status::PermissionDenied(
        "'" + name + "' was written under key epoch " +
        std::to_string(header.epoch) + ", which this holder does not have");
  }
  Result<Bytes> plain = OpenObject(*key, type, id, data);
  if (!plain.ok()) return plain.status().WithContext(name);
  if (!message->ParseFromArray(plain->data(),
                               static_cast<int>(plain->size()))) {
    return Status::Corruption("'" + name + "' does not parse");
  }
  return Status::OK();
}

}  // namespace chatvault::backup
