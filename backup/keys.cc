#include "backup/keys.h"

#include <chrono>

#include "crypto/kdf.h"
#include "crypto/random.h"

namespace chatvault::backup {
namespace {

using crypto::SecretBytes;

uint64_t NowMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

SecretBytes SecretFromString(const std::string& s) {
  return SecretBytes::CopyFrom(AsBytes(s));
}

void Wipe(std::string* s) {
  crypto::SecureZero(
      MutableByteView(reinterpret_cast<std::byte*>(s->data()), s->size()));
}

// Zeroes the secrets a bundle holds in protobuf's (unlocked) strings.
void WipeBundle(pb::KeyBundle& bundle) {
  Wipe(bundle.mutable_id_key());
  Wipe(bundle.mutable_account_signing_seed());
  for (pb::EpochKey& e : *bundle.mutable_epochs()) Wipe(e.mutable_key());
}

// Serialises a bundle into locked memory and wipes the other copies.
SecretBytes EncodeBundle(pb::KeyBundle& bundle) {
  std::string wire = bundle.SerializeAsString();
  SecretBytes out = SecretBytes::CopyFrom(AsBytes(wire));
  Wipe(&wire);
  WipeBundle(bundle);
  return out;
}

Result<pb::KeyObject> MakeKeyObject(const RepositoryKeys& keys,
                                    const crypto::BoxPublicKey& holder,
                                    pb::HolderKind kind, bool include_signing) {
  pb::KeyBundle bundle = keys.ToBundle(holder, include_signing);
  SecretBytes plaintext = EncodeBundle(bundle);
  ASSIGN_OR_RETURN(Bytes sealed,
                   crypto::SealedBoxSeal(holder, plaintext.view()));
  pb::KeyObject object;
  object.set_format_version(1);
  object.set_kind(kind);
  object.set_holder_public_key(std::string(AsChars(holder.bytes())));
  object.set_sealed_bundle(std::string(AsChars(sealed)));
  object.set_created_unix_ms(NowMs());
  return object;
}

}  // namespace

void RepositoryKeys::AddEpoch() {
  epochs_.emplace(current_epoch() + 1, crypto::AeadKey::Generate());
}

RepositoryKeys RepositoryKeys::Generate() {
  RepositoryKeys k;
  k.repository_id_.resize(kRepositoryIdBytes);
  crypto::RandomBytes(k.repository_id_);
  k.id_key_ = SecretBytes::Random(32);
  k.epochs_.emplace(0, crypto::AeadKey::Generate());
  k.account_ = crypto::SigningKey::Generate();
  k.account_verify_ = k.account_->verify_key();
  Status s = k.Derive();
  // Derivation from freshly generated 32-byte keys cannot fail.
  s.IgnoreError();
  return k;
}

Status RepositoryKeys::Derive() {
  ASSIGN_OR_RETURN(SecretBytes blob,
                   crypto::DeriveSubkey(id_key_, crypto::kKdfBlobId, 32));
  ASSIGN_OR_RETURN(blob_id_key_, crypto::HashKey::FromSecret(std::move(blob)));
  ASSIGN_OR_RETURN(gear_key_,
                   crypto::DeriveSubkey(id_key_, crypto::kKdfChunkerGear, 32));
  return Status::OK();
}

Result<RepositoryKeys> RepositoryKeys::FromBundle(const pb::KeyBundle& b) {
  auto bad = [](const char* what) {
    return Status::Corruption(std::string("key bundle: ") + what);
  };
  if (b.repository_id().size() != kRepositoryIdBytes)
    return bad("repository ID size");
  if (b.id_key().size() != 32) return bad("id key size");
  if (b.epochs().empty()) return bad("no epoch keys");
  RepositoryKeys k;
  k.repository_id_ = ToBytes(b.repository_id());
  k.id_key_ = SecretFromString(b.id_key());
  for (const pb::EpochKey& e : b.epochs()) {
    Result<crypto::AeadKey> key =
        crypto::AeadKey::FromSecret(SecretFromString(e.key()));
    if (!key.ok()) return bad("epoch key size");
    if (!k.epochs_.emplace(e.number(), std::move(*key)).second) {
      return bad("epoch listed twice");
    }
  }
  if (!b.account_signing_seed().empty()) {
    Result<crypto::SigningKey> account = crypto::SigningKey::FromSeed(
        SecretFromString(b.account_signing_seed()));
    if (!account.ok()) return bad("account seed size");
    k.account_ = std::move(*account);
    k.account_verify_ = k.account_->verify_key();
  }
  if (!b.account_verify_key().empty()) {
    Result<crypto::VerifyKey> verify =
        crypto::VerifyKey::FromBytes(AsBytes(b.account_verify_key()));
    if (!verify.ok()) return bad("account verify key size");
    if (k.account_verify_ && !(*k.account_verify_ == *verify)) {
      return bad("account verify key does not match the signing seed");
    }
    k.account_verify_ = *verify;
  }
  RETURN_IF_ERROR(k.Derive());
  return k;
}

const crypto::AeadKey* RepositoryKeys::epoch_key(uint32_t epoch) const {
  auto it = epochs_.find(epoch);
  return it == epochs_.end() ? nullptr : &it->second;
}

pb::KeyBundle RepositoryKeys::ToBundle(const crypto::BoxPublicKey& holder,
                                       bool include_signing) const {
  pb::KeyBundle b;
  b.set_repository_id(std::string(AsChars(repository_id_)));
  Result<Bytes> holder_id = crypto::Blake2b(holder.bytes(), 32);
  b.set_holder_id(std::string(AsChars(*holder_id)));
  b.set_id_key(std::string(id_key_.chars()));
  for (const auto& [number, key] : epochs_) {
    pb::EpochKey* e = b.add_epochs();
    e->set_number(number);
    e->set_key(std::string(key.secret().chars()));
  }
  if (include_signing && account_) {
    b.set_account_signing_seed(std::string(account_->Seed().chars()));
  }
  if (account_verify_) {
    b.set_account_verify_key(std::string(AsChars(account_verify_->bytes())));
  }
  return b;
}

std::string HolderId(const crypto::BoxPublicKey& holder) {
  return HexEncode(*crypto::Blake2b(holder.bytes(), 32));
}

Result<crypto::BoxKeyPair> PassphraseHolderKey(
    ByteView passphrase, const crypto::Argon2Params& kdf) {
  ASSIGN_OR_RETURN(SecretBytes stretched,
                   crypto::Argon2id(passphrase, kdf, 32));
  ASSIGN_OR_RETURN(
      SecretBytes seed,
      crypto::DeriveSubkey(stretched, crypto::kKdfPassphraseHolderBox, 32));
  return crypto::BoxKeyPair::FromSeed(seed);
}

Result<crypto::BoxKeyPair> RecoveryHolderKey(const crypto::RecoveryCode& code) {
  ASSIGN_OR_RETURN(
      SecretBytes seed,
      crypto::DeriveSubkey(code.seed(), crypto::kKdfRecoveryHolderBox, 32));
  return crypto::BoxKeyPair::FromSeed(seed);
}

Result<pb::KeyObject> MakePassphraseKeyObject(const RepositoryKeys& keys,
                                              ByteView passphrase,
                                              const crypto::Argon2Params& kdf) {
  ASSIGN_OR_RETURN(crypto::BoxKeyPair holder,
                   PassphraseHolderKey(passphrase, kdf));
  ASSIGN_OR_RETURN(pb::KeyObject object,
                   MakeKeyObject(keys, holder.public_key(),
                                 pb::HOLDER_KIND_PASSPHRASE, true));
  *object.mutable_kdf() = crypto::Argon2ParamsToProto(kdf);
  return object;
}

Result<pb::KeyObject> MakeRecoveryKeyObject(const RepositoryKeys& keys,
                                            const crypto::RecoveryCode& code) {
  ASSIGN_OR_RETURN(crypto::BoxKeyPair holder, RecoveryHolderKey(code));
  return MakeKeyObject(keys, holder.public_key(), pb::HOLDER_KIND_RECOVERY_CODE,
                       true);
}

Result<pb::KeyObject> ResealKeyObject(const RepositoryKeys& keys,
                                      const pb::KeyObject& object) {
  ASSIGN_OR_RETURN(
      crypto::BoxPublicKey holder,
      crypto::BoxPublicKey::FromBytes(AsBytes(object.holder_public_key())));
  // Passphrase and recovery-code holders may sign (design.md 4.2).
  ASSIGN_OR_RETURN(
      pb::KeyObject resealed,
      MakeKeyObject(keys, holder, object.kind(),
                    object.kind() == pb::HOLDER_KIND_PASSPHRASE ||
                        object.kind() == pb::HOLDER_KIND_RECOVERY_CODE));
  if (object.has_kdf()) *resealed.mutable_kdf() = object.kdf();
  return resealed;
}

Result<pb::KeyObject> MakeDeviceKeyObject(const RepositoryKeys& keys,
                                          const crypto::BoxPublicKey& holder) {
  return MakeKeyObject(keys, holder, pb::HOLDER_KIND_DEVICE,
                       /*include_signing=*/false);
}

Result<RepositoryKeys> OpenKeyObject(const pb::KeyObject& object,
                                     const crypto::BoxKeyPair& holder) {
  // The derived public key tells a wrong secret (PermissionDenied) from a
  // damaged object (Corruption): a sealed box alone cannot.
  if (!crypto::ConstantTimeEquals(AsBytes(object.holder_public_key()),
                                  holder.public_key().bytes())) {
    return Status::PermissionDenied(
        "wrong passphrase or recovery code for this repository");
  }
  Result<SecretBytes> plaintext =
      crypto::SealedBoxOpen(holder, AsBytes(object.sealed_bundle()));
  if (!plaintext.ok()) {
    return Status::Corruption(
        "the key object for this passphrase or recovery code is damaged; "
        "use another holder (recovery code or another device) to open the "
        "repository");
  }
  pb::KeyBundle bundle;
  if (!bundle.ParseFromArray(plaintext->data(),
                             static_cast<int>(plaintext->size()))) {
    return Status::Corruption("key bundle does not parse");
  }
  Result<Bytes> holder_id = crypto::Blake2b(holder.public_key().bytes(), 32);
  if (!crypto::ConstantTimeEquals(AsBytes(bundle.holder_id()), *holder_id)) {
    return Status::Corruption("key bundle was sealed for another holder");
  }
  Result<RepositoryKeys> keys = RepositoryKeys::FromBundle(bundle);
  WipeBundle(bundle);
  return keys;
}

}  // namespace chatvault::backup
