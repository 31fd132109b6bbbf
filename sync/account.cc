#include "sync/account.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "backup/object_codec.h"
#include "base/clock.h"

namespace chatvault::sync {
namespace {

using backup::ObjectType;

Bytes SignedBytes(std::string_view domain, uint64_t version, ByteView body) {
  Bytes out = ToBytes(domain);
  out.push_back(std::byte{0});
  for (int i = 0; i < 8; ++i) {
    out.push_back(static_cast<std::byte>((version >> (8 * i)) & 0xff));
  }
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

}  // namespace

std::string ShortId(std::string_view id) {
  return HexEncode(AsBytes(id)).substr(0, 8);
}

Bytes DeviceListSignedBytes(uint64_t version, ByteView list) {
  return SignedBytes("chatvault/v1/device-list", version, list);
}

Bytes HeadSignedBytes(uint64_t version, ByteView head) {
  return SignedBytes("chatvault/v1/head", version, head);
}

std::string DeviceKindName(pb::DeviceKind kind) {
  switch (kind) {
    case pb::DEVICE_KIND_PHONE:
      return "phone";
    case pb::DEVICE_KIND_DESKTOP:
      return "desktop";
    case pb::DEVICE_KIND_WEB:
      return "web";
    default:
      return "unknown";
  }
}

pb::DeviceKind DeviceKindFromName(std::string_view name) {
  if (name == "phone") return pb::DEVICE_KIND_PHONE;
  if (name == "desktop") return pb::DEVICE_KIND_DESKTOP;
  if (name == "web") return pb::DEVICE_KIND_WEB;
  return pb::DEVICE_KIND_UNSPECIFIED;
}

Result<Account> Account::Open(backup::Repository* repo, std::string home,
                              const DeviceIdentity* identity) {
  const std::optional<crypto::VerifyKey>& verify =
      repo->keys().account_verify_key();
  if (!verify.has_value()) {
    return Status::Corruption(
        "the key bundle names no account verify key, so the device list "
        "cannot be checked");
  }
  ByteView id = repo->keys().repository_id();
  RETURN_IF_ERROR(UpdateRepositoryState(
      home, id, [&](pb::RepositoryState& state) -> Status {
        if (state.account_verify_key().empty()) {
          state.set_account_verify_key(std::string(AsChars(verify->bytes())));
        } else if (!crypto::ConstantTimeEquals(
                       AsBytes(state.account_verify_key()), verify->bytes())) {
          return Status::Corruption(
              "the repository's account key is not the one this device "
              "pinned when it first used it: the repository at " +
              repo->location() + " was replaced or tampered with");
        }
        state.set_location(repo->location());
        return Status::OK();
      }));
  return Account(repo, std::move(home), identity, *verify);
}

Result<pb::DeviceList> Account::LoadDevices() {
  ByteView id = repo_->keys().repository_id();
  ASSIGN_OR_RETURN(pb::RepositoryState state, LoadRepositoryState(home_, id));
  const std::string name = std::string(kDevicesDir) + "/" + HexEncode(id);
  Result<Bytes> data = repo_->backend()->Load(name, 0, storage::kToEnd);
  pb::DeviceList list;
  if (data.status().code() == StatusCode::kNotFound) {
    if (state.device_list_version() > 0) {
      return Status::Corruption(
          "the repository's device list is gone, though this device has "
          "seen version " +
          std::to_string(state.device_list_version()) +
          " of it: it was deleted or rolled back");
    }
    list.set_repository_id(std::string(AsChars(id)));
    return list;
  }
  RETURN_IF_ERROR(data.status());
  ASSIGN_OR_RETURN(backup::SealedObjectHeader header,
                   backup::PeekObjectHeader(*data));
  const crypto::AeadKey* key = repo_->keys().epoch_key(header.epoch);
  if (key == nullptr) {
    return Status::PermissionDenied(
        "this device cannot read the account's device list: it is sealed "
        "under key epoch " +
        std::to_string(header.epoch) +
        ", which this device does not hold, so this device was revoked "
        "(link it again with `chatvault device join`)");
  }
  Result<Bytes> plain =
      backup::OpenObject(*key, ObjectType::kDeviceList, id, *data);
  if (!plain.ok()) return plain.status().WithContext("the device list");
  pb::SignedDeviceList signed_list;
  if (!signed_list.ParseFromArray(plain->data(),
                                  static_cast<int>(plain->size()))) {
    return Status::Corruption("the device list does not parse");
  }
  if (!list.ParseFromString(signed_list.list())) {
    return Status::Corruption("the device list does not parse");
  }
  Status verified = crypto::Verify(
      verify_,
      DeviceListSignedBytes(list.version(), AsBytes(signed_list.list())),
      AsBytes(signed_list.signature()));
  if (!verified.ok()) {
    return Status::Corruption(
        "the device list is not signed by the account key: it was tampered "
        "with");
  }
  if (list.repository_id() != AsChars(id)) {
    return Status::Corruption("the device list belongs to another repository");
  }
  for (const pb::Device& d : list.devices()) {
    Result<crypto::VerifyKey> key =
        crypto::VerifyKey::FromBytes(AsBytes(d.identity_key()));
    if (!key.ok() || AsChars(DeviceIdFor(*key)) != d.device_id()) {
      return Status::Corruption("the device list names device " +
                                ShortId(d.device_id()) +
                                " with an ID that is not its key's");
    }
  }
  if (list.version() < state.device_list_version()) {
    return Status::Corruption(
        "the device list was rolled back: the repository shows version " +
        std::to_string(list.version()) + ", this device has seen version " +
        std::to_string(state.device_list_version()));
  }
  if (list.version() > state.device_list_version()) {
    RETURN_IF_ERROR(
        UpdateRepositoryState(home_, id, [&](pb::RepositoryState& st) {
          st.set_device_list_version(
              std::max(st.device_list_version(), list.version()));
          return Status::OK();
        }));
  }
  return list;
}

Status Account::SaveDevices(pb::DeviceList& list) {
  const std::optional<crypto::SigningKey>& account = repo_->keys().account();
  if (!account.has_value()) {
    return Status::PermissionDenied(
        "changing the device list needs the account key: run this with the "
        "passphrase (or the recovery code) on a device that has it");
  }
  ByteView id = repo_->keys().repository_id();
  ASSIGN_OR_RETURN(pb::RepositoryState state, LoadRepositoryState(home_, id));
  list.set_repository_id(std::string(AsChars(id)));
  list.set_version(std::max(list.version(), state.device_list_version()) + 1);
  list.set_time_unix_ms(UnixMs());
  pb::SignedDeviceList signed_list;
  signed_list.set_list(list.SerializeAsString());
  crypto::Signature sig = account->Sign(
      DeviceListSignedBytes(list.version(), AsBytes(signed_list.list())));
  signed_list.set_signature(std::string(AsChars(sig)));
  RETURN_IF_ERROR(repo_->SaveObjectAs(ObjectType::kDeviceList, kDevicesDir,
                                      HexEncode(id), signed_list,
                                      storage::SaveMode::kOverwrite));
  return UpdateRepositoryState(home_, id, [&](pb::RepositoryState& st) {
    st.set_device_list_version(
        std::max(st.device_list_version(), list.version()));
    return Status::OK();
  });
}

Result<pb::Device> Account::EnsureRegistered(const std::string& name) {
  ASSIGN_OR_RETURN(pb::DeviceList list, LoadDevices());
  for (const pb::Device& d : list.devices()) {
    if (d.device_id() != AsChars(identity_->device_id())) continue;
    if (d.status() != pb::DEVICE_STATUS_ACTIVE) {
      return Status::PermissionDenied(
          "this device (" + ShortId(d.device_id()) +
          ") was revoked from the account; link it again with `chatvault "
          "device join`");
    }
    return d;
  }
  if (!can_sign()) {
    return Status::PermissionDenied(
        "this device is not in the account's device list; add it with "
        "`chatvault device join` here and `chatvault device link` on a "
        "device of the account");
  }
  pb::Device* d = list.add_devices();
  d->set_device_id(std::string(AsChars(identity_->device_id())));
  d->set_name(name.empty() ? DefaultDeviceName() : name);
  d->set_kind(pb::DEVICE_KIND_PHONE);
  d->set_identity_key(
      std::string(AsChars(identity_->identity().verify_key().bytes())));
  d->set_status(pb::DEVICE_STATUS_ACTIVE);
  d->set_added_unix_ms(UnixMs());
  pb::Device added = *d;
  RETURN_IF_ERROR(SaveDevices(list));
  return added;
}

Result<pb::Head> Account::PublishHead(std::string_view snapshot_id,
                                      const std::vector<std::string>& paths) {
  ASSIGN_OR_RETURN(pb::Device self, EnsureRegistered(""));
  ASSIGN_OR_RETURN(Bytes snapshot, HexDecode(snapshot_id));
  if (snapshot.size() != backup::kObjectIdBytes) {
    return Status::InvalidArgument("not a snapshot ID");
  }
  ByteView id = repo_->keys().repository_id();
  ASSIGN_OR_RETURN(pb::RepositoryState state, LoadRepositoryState(home_, id));
  // Versions only grow: above the stored head, above what this device
  // published last, and at least the time, so that a device whose state
  // was lost still publishes above what followers saw.
  uint64_t version = std::max(state.head_version() + 1, UnixMs());
  Result<std::optional<pb::Head>> stored = ReadHead(self);
  if (stored.ok() && stored->has_value()) {
    version = std::max(version, (*stored)->version() + 1);
  }
  pb::Snapshot snapshot_object;
  RETURN_IF_ERROR(repo_->LoadObject(ObjectType::kSnapshot, "snapshots",
                                    snapshot_id, &snapshot_object));
  pb::Head head;
  head.set_tree(snapshot_object.tree());
  head.set_repository_id(std::string(AsChars(id)));
  head.set_device_id(self.device_id());
  head.set_version(version);
  head.set_snapshot(std::string(AsChars(snapshot)));
  for (const std::string& p : paths) head.add_paths(p);
  head.set_time_unix_ms(UnixMs());
  pb::SignedHead signed_head;
  signed_head.set_head(head.SerializeAsString());
  crypto::Signature sig = identity_->identity().Sign(
      HeadSignedBytes(version, AsBytes(signed_head.head())));
  signed_head.set_signature(std::string(AsChars(sig)));
  RETURN_IF_ERROR(repo_->SaveObjectAs(
      ObjectType::kHead, kHeadsDir, HexEncode(AsBytes(self.device_id())),
      signed_head, storage::SaveMode::kOverwrite));
  RETURN_IF_ERROR(
      UpdateRepositoryState(home_, id, [&](pb::RepositoryState& st) {
        st.set_head_version(std::max(st.head_version(), version));
        return Status::OK();
      }));
  return head;
}

Result<std::optional<pb::Head>> Account::ReadHead(const pb::Device& device,
                                                  std::string* tag) {
  const std::string name =
      std::string(kHeadsDir) + "/" + HexEncode(AsBytes(device.device_id()));
  // The tag moves only once the head is verified: a head refused now
  // (a key epoch not yet known) is read again next time.
  std::string new_tag = tag != nullptr ? *tag : "";
  Result<Bytes> data = [&]() -> Result<Bytes> {
    if (tag == nullptr) return repo_->backend()->Load(name, 0, storage::kToEnd);
    ASSIGN_OR_RETURN(std::optional<Bytes> changed,
                     repo_->backend()->LoadIfChanged(name, &new_tag));
    // Unchanged: an empty result, told apart below by the tag.
    return changed.has_value() ? std::move(*changed) : Bytes();
  }();
  if (data.ok() && tag != nullptr && new_tag == *tag) {
    return std::optional<pb::Head>();
  }
  if (data.status().code() == StatusCode::kNotFound) {
    return Status::NotFound("device " + device.name() + " (" +
                            ShortId(device.device_id()) +
                            ") has published nothing yet");
  }
  RETURN_IF_ERROR(data.status());
  ASSIGN_OR_RETURN(pb::Head head, VerifyHead(device, *data));
  if (tag != nullptr) *tag = std::move(new_tag);
  return std::optional<pb::Head>(std::move(head));
}

Result<pb::Head> Account::VerifyHead(const pb::Device& device,
                                     ByteView object) {
  const std::string what = "the head of device " + device.name() + " (" +
                           ShortId(device.device_id()) + ")";
  if (device.device_id().size() != kDeviceIdBytes) {
    return Status::Corruption("a device in the list has a malformed ID");
  }
  ASSIGN_OR_RETURN(backup::SealedObjectHeader header,
                   backup::PeekObjectHeader(object));
  const crypto::AeadKey* key = repo_->keys().epoch_key(header.epoch);
  if (key == nullptr) {
    return Status::PermissionDenied(
        what + " is sealed under key epoch " + std::to_string(header.epoch) +
        ", which this device does not hold: it was revoked");
  }
  Result<Bytes> plain = backup::OpenObject(*key, ObjectType::kHead,
                                           AsBytes(device.device_id()), object);
  if (!plain.ok()) return plain.status().WithContext(what);
  pb::SignedHead signed_head;
  pb::Head head;
  if (!signed_head.ParseFromArray(plain->data(),
                                  static_cast<int>(plain->size())) ||
      !head.ParseFromString(signed_head.head())) {
    return Status::Corruption(what + " does not parse");
  }
  ASSIGN_OR_RETURN(
      crypto::VerifyKey device_key,
      crypto::VerifyKey::FromBytes(AsBytes(device.identity_key())));
  if (!crypto::Verify(
           device_key,
           HeadSignedBytes(head.version(), AsBytes(signed_head.head())),
           AsBytes(signed_head.signature()))
           .ok()) {
    return Status::Corruption(what +
                              " is not signed by that device: it was "
                              "tampered with");
  }
  if (head.repository_id() != AsChars(repo_->keys().repository_id()) ||
      head.device_id() != device.device_id() ||
      head.snapshot().size() != backup::kObjectIdBytes ||
      head.tree().size() != backup::kObjectIdBytes) {
    return Status::Corruption(what + " names another repository or device");
  }
  if (device.status() != pb::DEVICE_STATUS_ACTIVE) {
    return Status::PermissionDenied(
        "device " + device.name() + " (" + ShortId(device.device_id()) +
        ") was revoked; its heads are no longer followed");
  }
  ASSIGN_OR_RETURN(pb::RepositoryState state,
                   LoadRepositoryState(home_, repo_->keys().repository_id()));
  for (const pb::FollowedDevice& f : state.followed()) {
    if (f.device_id() == device.device_id() &&
        head.version() < f.head_version()) {
      return Status::Corruption(
          what + " was rolled back: the repository shows version " +
          std::to_string(head.version()) + ", this device has seen version " +
          std::to_string(f.head_version()));
    }
  }
  return head;
}

Status CheckWriteEpoch(const std::string& home, backup::Repository* repo) {
  const uint32_t epoch = repo->write_epoch();
  return UpdateRepositoryState(
      home, repo->keys().repository_id(),
      [&](pb::RepositoryState& state) -> Status {
        if (epoch < state.write_epoch()) {
          return Status::Corruption(
              "the repository's key epoch went back from " +
              std::to_string(state.write_epoch()) + " to " +
              std::to_string(epoch) +
              ": its config was rolled back or replaced. Someone who can "
              "write to the storage (a revoked device?) may be trying to "
              "read new data: change the storage credentials, then run "
              "`chatvault key rotate`");
        }
        state.set_write_epoch(epoch);
        return Status::OK();
      });
}

Status Account::NoteHeadSeen(const pb::Head& head) {
  return UpdateRepositoryState(
      home_, repo_->keys().repository_id(), [&](pb::RepositoryState& st) {
        bool found = false;
        for (pb::FollowedDevice& f : *st.mutable_followed()) {
          if (f.device_id() != head.device_id()) continue;
          f.set_head_version(std::max(f.head_version(), head.version()));
          found = true;
        }
        if (!found) {
          pb::FollowedDevice* f = st.add_followed();
          f->set_device_id(head.device_id());
          f->set_head_version(head.version());
        }
        return Status::OK();
      });
}

Result<pb::Device> FindDevice(const pb::DeviceList& list,
                              std::string_view name) {
  std::vector<const pb::Device*> matches;
  for (const pb::Device& d : list.devices()) {
    if (d.name() == name) matches.push_back(&d);
  }
  if (matches.size() > 1) {
    return Status::InvalidArgument("several devices are named '" +
                                   std::string(name) +
                                   "'; give an ID prefix instead");
  }
  if (matches.size() == 1) return *matches.front();
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (lower.size() >= 4) {
    for (const pb::Device& d : list.devices()) {
      if (HexEncode(AsBytes(d.device_id())).starts_with(lower)) {
        matches.push_back(&d);
      }
    }
  }
  if (matches.empty()) {
    return Status::NotFound("no device named or with an ID starting '" +
                            std::string(name) +
                            "'; `chatvault device list` shows them");
  }
  if (matches.size() > 1) {
    return Status::InvalidArgument("several devices' IDs start with '" +
                                   std::string(name) + "'; give more digits");
  }
  return *matches.front();
}

}  // namespace chatvault::sync
