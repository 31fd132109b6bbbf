#include "backup/object_codec.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace chatvault::backup {
namespace {

// docs/design.md section 2.2; the NUL ends the domain string so that no
// future prefix can be extended into this one.
constexpr std::string_view kAdDomain{"chatvault/v1\0", 13};
constexpr std::string_view kObjectMagic = "CVO1";

void RequireId(ByteView id32) {
  if (id32.size() != kObjectIdBytes) {
    std::fprintf(stderr, "chatvault: object ID must be %zu bytes, got %zu\n",
                 kObjectIdBytes, id32.size());
    std::abort();
  }
}

bool IsKnownType(uint8_t t) {
  switch (static_cast<ObjectType>(t)) {
    case ObjectType::kConfig:
    case ObjectType::kDataBlob:
    case ObjectType::kTreeBlob:
    case ObjectType::kPackHeader:
    case ObjectType::kIndex:
    case ObjectType::kSnapshot:
    case ObjectType::kHolderList:
    case ObjectType::kDeviceList:
    case ObjectType::kPrunePlan:
    case ObjectType::kLock:
    case ObjectType::kHead:
    case ObjectType::kLinkRequest:
    case ObjectType::kLinkHello:
    case ObjectType::kLinkReply:
      return true;
  }
  return false;
}

Status Damaged(ObjectType type, std::string_view what) {
  return Status::Corruption("the " + std::string(ObjectTypeName(type)) +
                            " object " + std::string(what));
}

}  // namespace

std::string_view ObjectTypeName(ObjectType type) {
  switch (type) {
    case ObjectType::kConfig:
      return "config";
    case ObjectType::kDataBlob:
      return "data blob";
    case ObjectType::kTreeBlob:
      return "tree blob";
    case ObjectType::kPackHeader:
      return "pack header";
    case ObjectType::kIndex:
      return "index";
    case ObjectType::kSnapshot:
      return "snapshot";
    case ObjectType::kHolderList:
      return "holder list";
    case ObjectType::kDeviceList:
      return "device list";
    case ObjectType::kPrunePlan:
      return "prune plan";
    case ObjectType::kLock:
      return "lock";
    case ObjectType::kHead:
      return "head";
    case ObjectType::kLinkRequest:
      return "link request";
    case ObjectType::kLinkHello:
      return "link hello";
    case ObjectType::kLinkReply:
      return "link reply";
  }
  return "unknown";
}

Bytes AssociatedData(ObjectType type, ByteView id32, uint32_t epoch) {
  RequireId(id32);
  Bytes ad;
  ad.reserve(kAdDomain.size() + 1 + kObjectIdBytes + 4);
  ByteView domain = AsBytes(kAdDomain);
  ad.insert(ad.end(), domain.begin(), domain.end());
  ad.push_back(static_cast<std::byte>(type));
  ad.insert(ad.end(), id32.begin(), id32.end());
  AppendU32Le(ad, epoch);
  return ad;
}

Bytes SealObject(const crypto::AeadKey& key, uint32_t epoch, ObjectType type,
                 ByteView id32, ByteView payload) {
  Bytes ad = AssociatedData(type, id32, epoch);
  Bytes sealed = crypto::AeadSeal(key, payload, ad);
  Bytes out;
  out.reserve(kObjectHeaderBytes + sealed.size());
  ByteView magic = AsBytes(kObjectMagic);
  out.insert(out.end(), magic.begin(), magic.end());
  out.push_back(static_cast<std::byte>(type));
  AppendU32Le(out, epoch);
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

Result<SealedObjectHeader> PeekObjectHeader(ByteView object) {
  if (object.size() < kObjectHeaderBytes) {
    return Status::Corruption("the object is too short to be a sealed object");
  }
  if (std::memcmp(object.data(), kObjectMagic.data(), kObjectMagic.size()) !=
      0) {
    return Status::Corruption(
        "the object is not a chatvault sealed object (bad magic)");
  }
  uint8_t type = std::to_integer<uint8_t>(object[4]);
  if (!IsKnownType(type)) {
    return Status::Corruption("the object has an unknown type " +
                              std::to_string(type));
  }
  return SealedObjectHeader{static_cast<ObjectType>(type),
                            ReadU32Le(object.data() + 5)};
}

Result<Bytes> OpenObject(const crypto::AeadKey& key, ObjectType expected_type,
                         ByteView id32, ByteView object) {
  RequireId(id32);
  if (object.size() < kObjectOverheadBytes) {
    return Damaged(expected_type, "is truncated");
  }
  Result<SealedObjectHeader> header = PeekObjectHeader(object);
  if (!header.ok()) {
    return Damaged(expected_type, "has a damaged header");
  }
  if (header->type != expected_type) {
    return Damaged(expected_type,
                   "is stored as a " +
                       std::string(ObjectTypeName(header->type)) +
                       "; the repository was damaged or tampered with");
  }
  Bytes ad = AssociatedData(expected_type, id32, header->epoch);
  Result<Bytes> payload =
      crypto::AeadOpen(key, object.subspan(kObjectHeaderBytes), ad);
  if (!payload.ok()) {
    return Damaged(expected_type,
                   "failed authentication: it was damaged, tampered with, "
                   "stored under another name, or sealed under another key");
  }
  return payload;
}

}  // namespace chatvault::backup
