// The account's signed device list (sync/account.h, Account::LoadDevices,
// FindDevice): who belongs to the account, read by every device before it
// trusts a head or links another. The input is the SignedDeviceList
// payload sealed under the fixed repository's key (mode bit 3: the stored
// object as it is); with mode bit 0 it is a DeviceList instead, signed here
// with the account key as a session that can sign would (bit 1: naming
// this repository, bit 2: with device IDs derived from their keys), so
// that the checks after the signature are reached. Its version is set to
// 0 so that this device's state never moves between inputs. A list that
// loads names this repository and only devices whose IDs are their keys';
// looking its devices up by name or ID prefix never crashes.
#include <cctype>
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "sync/account.h"

using namespace chatvault;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FixedRepository& fixed = fuzz::FixedRepository::Get();
  fuzz::FixedAccount& me = fuzz::FixedAccount::Get();
  fixed.Reset();
  static const crypto::SigningKey account = fuzz::FixedSigningKey("account");
  const std::string repository_id(AsChars(fixed.repository_id()));

  fuzz::Reader in(data, size);
  const uint8_t mode = in.U8();
  const ByteView bytes = in.Rest();
  std::string plain(AsChars(bytes));
  if (mode & 1) {
    pb::DeviceList list;
    std::string list_bytes = plain;
    if (list.ParseFromString(list_bytes)) {
      if (mode & 2) list.set_repository_id(repository_id);
      if (mode & 4) {
        for (pb::Device& d : *list.mutable_devices()) {
          Result<crypto::VerifyKey> key =
              crypto::VerifyKey::FromBytes(AsBytes(d.identity_key()));
          if (key.ok()) {
            d.set_device_id(std::string(AsChars(sync::DeviceIdFor(*key))));
          }
        }
      }
      list.set_version(0);
      list_bytes = list.SerializeAsString();
    }
    pb::SignedDeviceList signed_list;
    signed_list.set_list(list_bytes);
    const crypto::Signature sig =
        account.Sign(sync::DeviceListSignedBytes(0, AsBytes(list_bytes)));
    signed_list.set_signature(std::string(AsChars(sig)));
    plain = signed_list.SerializeAsString();
  }
  const Bytes object = mode & 8
                           ? Bytes(bytes.begin(), bytes.end())
                           : fixed.Seal(backup::ObjectType::kDeviceList,
                                        fixed.repository_id(), AsBytes(plain));
  FUZZ_CHECK(fixed.backend()
                 ->Save(std::string(sync::kDevicesDir) + "/" +
                            HexEncode(fixed.repository_id()),
                        object, storage::SaveMode::kOverwrite)
                 .ok());

  Result<pb::DeviceList> list = me.account->LoadDevices();
  if (!list.ok()) {
    FUZZ_CHECK(list.status().code() == StatusCode::kCorruption ||
               list.status().code() == StatusCode::kPermissionDenied);
    return 0;
  }
  FUZZ_CHECK(list->repository_id() == repository_id);
  FUZZ_CHECK(list->version() == 0);
  for (const pb::Device& d : list->devices()) {
    Result<crypto::VerifyKey> key =
        crypto::VerifyKey::FromBytes(AsBytes(d.identity_key()));
    FUZZ_CHECK(key.ok());
    FUZZ_CHECK(AsChars(sync::DeviceIdFor(*key)) == d.device_id());
  }
  int looked_up = 0;
  for (const pb::Device& d : list->devices()) {
    if (++looked_up > 8) break;
    Result<pb::Device> by_name = sync::FindDevice(*list, d.name());
    if (by_name.ok()) {
      std::string lower = d.name();
      for (char& c : lower) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      FUZZ_CHECK(by_name->name() == d.name() ||
                 HexEncode(AsBytes(by_name->device_id())).starts_with(lower));
    }
    const std::string prefix = HexEncode(AsBytes(d.device_id())).substr(0, 8);
    Result<pb::Device> by_id = sync::FindDevice(*list, prefix);
    if (by_id.ok()) {
      FUZZ_CHECK(by_id->name() == prefix ||
                 HexEncode(AsBytes(by_id->device_id())).starts_with(prefix));
    }
    (void)sync::ShortId(d.device_id());
    (void)sync::DeviceKindName(d.kind());
  }
  return 0;
}
