// A device's local state directory ("home"): its identity and what it knows
// of each repository it uses (docs/sync-protocol.md section 2).
//
//   <home>/device              this installation's identity keys, 0600
//   <home>/repos/<repo id>     pinned account key, highest versions and
//                              write epoch seen, followed devices; 0600
//   <home>/sync/<repo id>/     what each sync wrote in its target
//                              (sync/follower.h)
//
// Several homes on one machine are several devices, which is how tests and
// benchmarks simulate an account's phone and its linked desktops.
//
// Thread-safety: DeviceIdentity is immutable once loaded. State updates
// take an flock on the state file's lock, so processes sharing a home do
// not lose each other's updates.
#ifndef CHATVAULT_SYNC_HOME_H_
#define CHATVAULT_SYNC_HOME_H_

#include <functional>
#include <string>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/box.h"
#include "crypto/sign.h"
#include "proto/sync.pb.h"

namespace chatvault::sync {

inline constexpr size_t kDeviceIdBytes = 32;

// $CHATVAULT_HOME, else $XDG_CONFIG_HOME/chatvault, else
// ~/.config/chatvault.
std::string DefaultHome();

// This machine's host name, the default name of its device.
std::string DefaultDeviceName();

// Creates `dir` and its parents and makes it private (0700): what a home
// or a sync cache holds is nobody else's.
Status MakePrivateDir(const std::string& dir);

// The device ID that belongs to an Ed25519 identity key: its BLAKE2b-256.
Bytes DeviceIdFor(const crypto::VerifyKey& identity);

class DeviceIdentity {
 public:
  // Loads `<home>/device`, creating the home (0700) and a fresh identity
  // (0600) if there is none. Of two processes creating one at once, both
  // end up with the same identity. PermissionDenied if the file is
  // readable by others (its keys would be exposed; chmod 600 it).
  static Result<DeviceIdentity> LoadOrCreate(const std::string& home);
  // NotFound if the home holds no identity.
  static Result<DeviceIdentity> Load(const std::string& home);

  ByteView device_id() const { return device_id_; }
  std::string device_id_hex() const { return HexEncode(device_id_); }
  // Signs this device's heads and link requests.
  const crypto::SigningKey& identity() const { return identity_; }
  // Opens this device's key object (once linked).
  const crypto::BoxKeyPair& holder() const { return holder_; }

 private:
  static Result<DeviceIdentity> Decode(std::string data,
                                       const std::string& path);
  DeviceIdentity(Bytes id, crypto::SigningKey identity,
                 crypto::BoxKeyPair holder)
      : device_id_(std::move(id)),
        identity_(std::move(identity)),
        holder_(std::move(holder)) {}
  Bytes device_id_;
  crypto::SigningKey identity_;
  crypto::BoxKeyPair holder_;
};

// What this device knows of repository `repository_id` (empty state with
// only the ID set if nothing yet).
Result<pb::RepositoryState> LoadRepositoryState(const std::string& home,
                                                ByteView repository_id);

// Reads the state, lets `update` change it, and writes it back (synced,
// atomically replaced) if it changed, all under an exclusive lock. `update`'s
// error leaves the file as it was and is returned.
Status UpdateRepositoryState(
    const std::string& home, ByteView repository_id,
    const std::function<Status(pb::RepositoryState&)>& update);

}  // namespace chatvault::sync

#endif  // CHATVAULT_SYNC_HOME_H_
