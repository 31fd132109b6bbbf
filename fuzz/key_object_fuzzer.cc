// Key objects and the key bundles they seal (backup/keys.h, OpenKeyObject,
// RepositoryKeys::FromBundle; backup/repository.h, Repository::Open*).
// Key objects are stored unencrypted under keys/, so anyone who can write
// to the storage can put any there.
//   mode 0: the input is a stored key object, beside the fixed repository's
//           own: opening with the recovery code still works or fails
//           cleanly, and ListHolders lists only objects stored under their
//           own holder's name.
//   mode 1: the input is a key bundle, sealed here to the recovery code's
//           holder key (as someone who knows that public key can), so that
//           the bundle's checks are reached.
//   mode 2: the input is a passphrase holder's Argon2id parameters:
//           Argon2ParamsFromProto accepts only what ValidateArgon2Params
//           does, and what it accepts round-trips (Argon2id never runs).
//   mode 3: the input is a bundle sealed to a device's holder key, opened
//           with OpenWithDevice: a device never gets the signing key.
// A bundle that opens gives keys that a reseal (key rotation) hands on
// unchanged.
#include <cstddef>
#include <cstdint>

#include "backup/keys.h"
#include "crypto/argon2.h"
#include "fuzz/fuzz_support.h"

using namespace chatvault;

namespace {

pb::KeyObject SealBundle(ByteView bundle, const crypto::BoxKeyPair& holder,
                         pb::HolderKind kind) {
  Result<Bytes> sealed = crypto::SealedBoxSeal(holder.public_key(), bundle);
  FUZZ_CHECK(sealed.ok());
  pb::KeyObject object;
  object.set_format_version(1);
  object.set_kind(kind);
  object.set_holder_public_key(
      std::string(AsChars(holder.public_key().bytes())));
  object.set_sealed_bundle(std::string(AsChars(*sealed)));
  return object;
}

// Opens `object` with `holder` and checks that the keys survive a reseal.
void CheckOpened(const pb::KeyObject& object, const crypto::BoxKeyPair& holder,
                 const backup::Repository& repo) {
  const backup::RepositoryKeys& keys = repo.keys();
  FUZZ_CHECK(keys.repository_id().size() == backup::kRepositoryIdBytes);
  FUZZ_CHECK(keys.epoch_key(0) != nullptr);
  Result<pb::KeyObject> resealed = backup::ResealKeyObject(keys, object);
  FUZZ_CHECK(resealed.ok());
  Result<backup::RepositoryKeys> again =
      backup::OpenKeyObject(*resealed, holder);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(
      std::equal(again->repository_id().begin(), again->repository_id().end(),
                 keys.repository_id().begin(), keys.repository_id().end()));
  FUZZ_CHECK(again->current_epoch() == keys.current_epoch());
  FUZZ_CHECK(again->account_verify_key() == keys.account_verify_key());
}

void CheckArgon2(ByteView bytes) {
  pb::Argon2Params proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return;
  }
  Result<crypto::Argon2Params> params = crypto::Argon2ParamsFromProto(proto);
  if (!params.ok()) {
    FUZZ_CHECK(params.status().code() == StatusCode::kInvalidArgument ||
               params.status().code() == StatusCode::kCorruption);
    return;
  }
  FUZZ_CHECK(crypto::ValidateArgon2Params(*params).ok());
  Result<crypto::Argon2Params> again =
      crypto::Argon2ParamsFromProto(crypto::Argon2ParamsToProto(*params));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->t_cost == params->t_cost &&
             again->m_cost_kib == params->m_cost_kib &&
             again->parallelism == params->parallelism &&
             again->salt == params->salt);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FixedRepository& fixed = fuzz::FixedRepository::Get();
  static const crypto::BoxKeyPair device = fuzz::FixedBoxKeyPair("device");
  fuzz::Reader in(data, size);
  const uint8_t mode = in.U8() % 4;
  const ByteView bytes = in.Rest();

  if (mode == 2) {
    CheckArgon2(bytes);
    return 0;
  }

  storage::MemBackend backend;
  FUZZ_CHECK(
      backend
          .Save("config", fixed.config_object(), storage::SaveMode::kOverwrite)
          .ok());
  if (mode == 0) {
    // The fixed repository's own holder is there too: a hostile object
    // beside it must not stop it from opening.
    FUZZ_CHECK(backend
                   .Save(fixed.key_object_name(), fixed.key_object(),
                         storage::SaveMode::kOverwrite)
                   .ok());
    FUZZ_CHECK(backend
                   .Save("keys/" + HexEncode(fuzz::FixedId("other holder")),
                         bytes, storage::SaveMode::kOverwrite)
                   .ok());
    Result<std::unique_ptr<backup::Repository>> repo =
        backup::Repository::OpenWithRecoveryCode(&backend,
                                                 fixed.recovery_code());
    FUZZ_CHECK(repo.ok());
    Result<std::vector<backup::Repository::Holder>> holders =
        (*repo)->ListHolders();
    FUZZ_CHECK(holders.ok());
    FUZZ_CHECK(holders->size() == 1);
    // Opened as a device's key: a key object with any content, named by
    // the device's holder ID.
    FUZZ_CHECK(backend
                   .Save("keys/" + backup::HolderId(device.public_key()), bytes,
                         storage::SaveMode::kOverwrite)
                   .ok());
    Result<std::unique_ptr<backup::Repository>> as_device =
        backup::Repository::OpenWithDevice(&backend, device);
    if (as_device.ok()) {
      FUZZ_CHECK(!(*as_device)->keys().account().has_value());
    }
    return 0;
  }

  const bool as_device = mode == 3;
  const crypto::BoxKeyPair& holder =
      as_device ? device : fixed.recovery_holder();
  const pb::KeyObject object = SealBundle(
      bytes, holder,
      as_device ? pb::HOLDER_KIND_DEVICE : pb::HOLDER_KIND_RECOVERY_CODE);
  const std::string name = "keys/" + backup::HolderId(holder.public_key());
  FUZZ_CHECK(backend
                 .Save(name, AsBytes(object.SerializeAsString()),
                       storage::SaveMode::kOverwrite)
                 .ok());
  Result<std::unique_ptr<backup::Repository>> repo =
      as_device ? backup::Repository::OpenWithDevice(&backend, device)
                : backup::Repository::OpenWithRecoveryCode(
                      &backend, fixed.recovery_code());
  if (!repo.ok()) {
    FUZZ_CHECK(repo.status().code() == StatusCode::kCorruption ||
               repo.status().code() == StatusCode::kPermissionDenied ||
               repo.status().code() == StatusCode::kInvalidArgument);
    return 0;
  }
  if (as_device) {
    FUZZ_CHECK(!(*repo)->keys().account().has_value());
    FUZZ_CHECK((*repo)->opened_kind() == pb::HOLDER_KIND_DEVICE);
  }
  CheckOpened(object, holder, **repo);
  return 0;
}
