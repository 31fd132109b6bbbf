// Heads (sync/account.h, Account::VerifyHead and ReadHead): what a device
// publishes as its latest snapshot, read by every device that follows it.
// The input is the SignedHead payload sealed under the fixed repository's
// key for a fixed device (mode bit 3: the stored object as it is); with
// mode bit 0 it is a Head instead, signed here with that device's identity
// key (bit 1: naming this repository and device), so that the checks after
// the signature are reached. Bit 4 marks the device revoked. A head that
// verifies names this repository and device, a 32-byte snapshot and tree,
// and comes from an active device; reading it again with the tag the
// first read set reports it unchanged.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "sync/account.h"

using namespace chatvault;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FixedRepository& fixed = fuzz::FixedRepository::Get();
  fuzz::FixedAccount& me = fuzz::FixedAccount::Get();
  fixed.Reset();
  static const crypto::SigningKey device_key =
      fuzz::FixedSigningKey("device identity");
  const std::string repository_id(AsChars(fixed.repository_id()));

  fuzz::Reader in(data, size);
  const uint8_t mode = in.U8();
  const ByteView bytes = in.Rest();

  pb::Device device;
  device.set_device_id(
      std::string(AsChars(sync::DeviceIdFor(device_key.verify_key()))));
  device.set_name("phone");
  device.set_kind(pb::DEVICE_KIND_PHONE);
  device.set_identity_key(
      std::string(AsChars(device_key.verify_key().bytes())));
  device.set_status(mode & 16 ? pb::DEVICE_STATUS_REVOKED
                              : pb::DEVICE_STATUS_ACTIVE);

  std::string plain(AsChars(bytes));
  if (mode & 1) {
    pb::Head head;
    std::string head_bytes = plain;
    if (head.ParseFromString(head_bytes)) {
      if (mode & 2) {
        head.set_repository_id(repository_id);
        head.set_device_id(device.device_id());
      }
      head_bytes = head.SerializeAsString();
    }
    pb::SignedHead signed_head;
    signed_head.set_head(head_bytes);
    const crypto::Signature sig = device_key.Sign(
        sync::HeadSignedBytes(head.version(), AsBytes(head_bytes)));
    signed_head.set_signature(std::string(AsChars(sig)));
    plain = signed_head.SerializeAsString();
  }
  const Bytes object =
      mode & 8 ? Bytes(bytes.begin(), bytes.end())
               : fixed.Seal(backup::ObjectType::kHead,
                            AsBytes(device.device_id()), AsBytes(plain));

  Result<pb::Head> head = me.account->VerifyHead(device, object);
  if (head.ok()) {
    FUZZ_CHECK(head->repository_id() == repository_id);
    FUZZ_CHECK(head->device_id() == device.device_id());
    FUZZ_CHECK(head->snapshot().size() == backup::kObjectIdBytes);
    FUZZ_CHECK(head->tree().size() == backup::kObjectIdBytes);
    FUZZ_CHECK(device.status() == pb::DEVICE_STATUS_ACTIVE);
  } else {
    FUZZ_CHECK(head.status().code() == StatusCode::kCorruption ||
               head.status().code() == StatusCode::kPermissionDenied);
  }

  FUZZ_CHECK(fixed.backend()
                 ->Save(std::string(sync::kHeadsDir) + "/" +
                            HexEncode(AsBytes(device.device_id())),
                        object, storage::SaveMode::kOverwrite)
                 .ok());
  std::string tag;
  Result<std::optional<pb::Head>> read = me.account->ReadHead(device, &tag);
  FUZZ_CHECK(read.ok() == head.ok());
  if (read.ok()) {
    FUZZ_CHECK(read->has_value());
    Result<std::optional<pb::Head>> again = me.account->ReadHead(device, &tag);
    FUZZ_CHECK(again.ok() && !again->has_value());
  }
  return 0;
}
