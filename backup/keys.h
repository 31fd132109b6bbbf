// The repository's secrets and the key objects that seal them to holders,
// as specified in docs/design.md section 4.
//
// Thread-safety: RepositoryKeys is immutable after construction and may be
// shared by threads; the functions are thread-safe.
#ifndef CHATVAULT_BACKUP_KEYS_H_
#define CHATVAULT_BACKUP_KEYS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/aead.h"
#include "crypto/argon2.h"
#include "crypto/blake2b.h"
#include "crypto/box.h"
#include "crypto/recovery_code.h"
#include "crypto/secret_bytes.h"
#include "crypto/sign.h"
#include "proto/repository.pb.h"

namespace chatvault::backup {

inline constexpr size_t kRepositoryIdBytes = 32;

class RepositoryKeys {
 public:
  // Fresh secrets for a new repository: a random repository ID, id key,
  // epoch 0 key and account signing key.
  static RepositoryKeys Generate();
  // From an opened key bundle; Corruption if a field has the wrong size.
  static Result<RepositoryKeys> FromBundle(const pb::KeyBundle& bundle);

  ByteView repository_id() const { return repository_id_; }
  // Keyed BLAKE2b-256 key for blob IDs (DeriveSubkey(id key, blob-id)).
  const crypto::HashKey& blob_id_key() const { return blob_id_key_; }
  // Key for the chunker's gear table (DeriveSubkey(id key, chunker/gear)).
  const crypto::SecretBytes& gear_key() const { return gear_key_; }
  uint32_t current_epoch() const { return epochs_.rbegin()->first; }
  // The key of `epoch`, or nullptr if this holder does not have it.
  const crypto::AeadKey* epoch_key(uint32_t epoch) const;
  // Present for holders that may sign the holder and device lists.
  const std::optional<crypto::SigningKey>& account() const { return account_; }
  // The account signing key's public half, which every holder learns.
  const std::optional<crypto::VerifyKey>& account_verify_key() const {
    return account_verify_;
  }

  // Adds epoch current_epoch() + 1 with a fresh random key, which new data
  // is then sealed under (key rotation, design.md 4.7). Not while the keys
  // are shared with other threads.
  void AddEpoch();

  // The bundle for a holder with public key `holder` (account seed only
  // when `include_signing`). The caller seals it and wipes the encoding.
  pb::KeyBundle ToBundle(const crypto::BoxPublicKey& holder,
                         bool include_signing) const;

 private:
  RepositoryKeys() = default;
  Status Derive();

  Bytes repository_id_;
  crypto::SecretBytes id_key_;
  crypto::HashKey blob_id_key_ = crypto::HashKey::Generate();
  crypto::SecretBytes gear_key_;
  std::map<uint32_t, crypto::AeadKey> epochs_;
  std::optional<crypto::SigningKey> account_;
  std::optional<crypto::VerifyKey> account_verify_;
};

// BLAKE2b-256 of a holder's X25519 public key, as hex: the name of its key
// object ("keys/<holder id>").
std::string HolderId(const crypto::BoxPublicKey& holder);

// Key objects for the two holders every repository starts with.
Result<pb::KeyObject> MakePassphraseKeyObject(const RepositoryKeys& keys,
                                              ByteView passphrase,
                                              const crypto::Argon2Params& kdf);
Result<pb::KeyObject> MakeRecoveryKeyObject(const RepositoryKeys& keys,
                                            const crypto::RecoveryCode& code);

// A key object for a linked device's holder key: every epoch, never the
// account signing seed (docs/sync-protocol.md).
Result<pb::KeyObject> MakeDeviceKeyObject(const RepositoryKeys& keys,
                                          const crypto::BoxPublicKey& holder);

// The holder key pairs the two secrets stand for (design.md 4.3, 4.4).
Result<crypto::BoxKeyPair> PassphraseHolderKey(ByteView passphrase,
                                               const crypto::Argon2Params& kdf);
Result<crypto::BoxKeyPair> RecoveryHolderKey(const crypto::RecoveryCode& code);

// A new key object for the holder of `object` (same kind, public key and
// KDF parameters) sealing `keys`: what rotation writes for every holder.
// Needs no secret of the holder's: a sealed box needs its public key only.
Result<pb::KeyObject> ResealKeyObject(const RepositoryKeys& keys,
                                      const pb::KeyObject& object);

// Opens `object` with `holder`. PermissionDenied if the object belongs to
// another holder (a wrong passphrase or recovery code); Corruption if it is
// this holder's but does not open or its bundle is malformed or names
// another holder.
Result<RepositoryKeys> OpenKeyObject(const pb::KeyObject& object,
                                     const crypto::BoxKeyPair& holder);

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_KEYS_H_
