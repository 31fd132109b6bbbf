// Account: one repository as seen by one device — the signed device list,
// this device's place in it, and the heads devices publish
// (docs/sync-protocol.md sections 3-4).
//
//   ASSIGN_OR_RETURN(auto account, Account::Open(repo, home, identity));
//   ASSIGN_OR_RETURN(pb::DeviceList devices, account.LoadDevices());
//   RETURN_IF_ERROR(account.PublishHead(snapshot_id, paths).status());
//
// Every list and head read is verified: the list's signature against the
// account verify key this device pinned, its version against the highest
// this device has seen (no rollback), a head's signature against its
// device's identity key in the list, its version against the highest seen.
//
// Thread-safety: one thread per Account.
#ifndef CHATVAULT_SYNC_ACCOUNT_H_
#define CHATVAULT_SYNC_ACCOUNT_H_

#include <optional>
#include <string>
#include <vector>

#include "backup/repository.h"
#include "sync/home.h"

namespace chatvault::sync {

// Repository objects of the sync protocol.
inline constexpr std::string_view kDevicesDir = "devices";
inline constexpr std::string_view kHeadsDir = "heads";

// Signature domains (sync-protocol.md 3.1, 4.1).
Bytes DeviceListSignedBytes(uint64_t version, ByteView list);
Bytes HeadSignedBytes(uint64_t version, ByteView head);

std::string DeviceKindName(pb::DeviceKind kind);
// The first 8 hex digits of a raw ID, as shown to people.
std::string ShortId(std::string_view id);
// "desktop", "web", "phone" → kind; UNSPECIFIED if unknown.
pb::DeviceKind DeviceKindFromName(std::string_view name);

class Account {
 public:
  // Binds `repo` (opened by any holder) to this device. The account verify
  // key comes from the key bundle; it is pinned in the device's state the
  // first time and must match afterwards (Corruption otherwise: the
  // repository was replaced).
  static Result<Account> Open(backup::Repository* repo, std::string home,
                              const DeviceIdentity* identity);

  backup::Repository* repo() const { return repo_; }
  const DeviceIdentity& identity() const { return *identity_; }
  const std::string& home() const { return home_; }
  // Whether this session can sign device lists (opened with the
  // passphrase or recovery code).
  bool can_sign() const { return repo_->keys().account().has_value(); }

  // The current device list, verified; version 0 with no devices if the
  // repository has none yet. Corruption for a bad signature or another
  // repository's list; Corruption ("rolled back") for a version below the
  // highest seen; PermissionDenied if it is sealed under an epoch this
  // device does not hold (revoked).
  Result<pb::DeviceList> LoadDevices();
  // Signs `list` as version (current + 1) and saves it. Needs can_sign().
  // `list` is updated to what was saved.
  Status SaveDevices(pb::DeviceList& list);

  // This device's entry, adding it (kind phone, no holder key) if the list
  // lacks it; FailedPrecondition-like PermissionDenied if it is revoked or
  // must be added by a session that cannot sign.
  Result<pb::Device> EnsureRegistered(const std::string& name);

  // Publishes `snapshot_id` as this device's head (version one above the
  // last one stored). Returns the head.
  Result<pb::Head> PublishHead(std::string_view snapshot_id,
                               const std::vector<std::string>& paths);

  // Reads and verifies `device`'s head. NotFound if it published none.
  // With `tag`, a conditional read: std::nullopt if unchanged since the
  // read that set `*tag`.
  Result<std::optional<pb::Head>> ReadHead(const pb::Device& device,
                                           std::string* tag = nullptr);
  // Verifies a sealed head object read from "heads/<device id>".
  Result<pb::Head> VerifyHead(const pb::Device& device, ByteView object);

  // Records the highest head version of `device` seen.
  Status NoteHeadSeen(const pb::Head& head);

 private:
  Account(backup::Repository* repo, std::string home,
          const DeviceIdentity* identity, crypto::VerifyKey verify)
      : repo_(repo),
        home_(std::move(home)),
        identity_(identity),
        verify_(verify) {}

  backup::Repository* repo_;
  std::string home_;
  const DeviceIdentity* identity_;
  crypto::VerifyKey verify_;
};

// Refuses a repository whose write epoch is below the highest this device
// has seen (its config rolled back, so that new data would be sealed under
// an epoch a revoked device holds), and records the current one.
Status CheckWriteEpoch(const std::string& home, backup::Repository* repo);

// The device named by `name`: an ID prefix of at least 4 hex digits or an
// exact name. NotFound if none matches, InvalidArgument if several do.
Result<pb::Device> FindDevice(const pb::DeviceList& list,
                              std::string_view name);

}  // namespace chatvault::sync

#endif  // CHATVAULT_SYNC_ACCOUNT_H_
