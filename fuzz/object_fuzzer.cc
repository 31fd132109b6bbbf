// Sealed repository objects (backup/object_codec.h): the framing every
// config, index, snapshot, lock, device list, head and link object has.
// Mode 0 reads the input as a stored object: PeekObjectHeader never reads
// past it, and OpenObject refuses it unless it was sealed with the key,
// without crashing. Otherwise the input is sealed with SealObject and must
// open to the same payload, with the header naming its type and epoch; a
// sealed object damaged in one byte, truncated, or asked for under
// another type or ID is refused.
#include <cstddef>
#include <cstdint>

#include "backup/object_codec.h"
#include "fuzz/fuzz_support.h"

using namespace chatvault;
using backup::ObjectType;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const crypto::AeadKey key = fuzz::FixedAeadKey("epoch 0");
  static const Bytes id = fuzz::FixedId("object");
  static const Bytes other_id = fuzz::FixedId("another object");

  fuzz::Reader in(data, size);
  const uint8_t mode = in.U8();
  const uint8_t type_byte = in.U8();
  const uint32_t epoch = in.U32();
  const uint16_t damage_at = in.U16();
  const ByteView payload = in.Rest();
  const auto type = static_cast<ObjectType>(type_byte % 16);
  const bool known = backup::ObjectTypeName(type) != "unknown";

  if (mode % 4 == 0) {
    Result<backup::SealedObjectHeader> header =
        backup::PeekObjectHeader(payload);
    if (header.ok()) {
      FUZZ_CHECK(payload.size() >= backup::kObjectHeaderBytes);
      FUZZ_CHECK(backup::ObjectTypeName(header->type) != "unknown");
      FUZZ_CHECK(header->epoch == ReadU32Le(payload.data() + 5));
    }
    // Only an object really sealed with the key (a seed) opens.
    Result<Bytes> opened = backup::OpenObject(key, type, id, payload);
    if (opened.ok()) {
      FUZZ_CHECK(header.ok() && header->type == type);
      FUZZ_CHECK(opened->size() + backup::kObjectOverheadBytes ==
                 payload.size());
    } else {
      FUZZ_CHECK(opened.status().code() == StatusCode::kCorruption);
    }
    return 0;
  }
  if (!known) return 0;  // SealObject is only ever given known types

  Bytes sealed = backup::SealObject(key, epoch, type, id, payload);
  FUZZ_CHECK(sealed.size() == payload.size() + backup::kObjectOverheadBytes);
  Result<backup::SealedObjectHeader> header = backup::PeekObjectHeader(sealed);
  FUZZ_CHECK(header.ok());
  FUZZ_CHECK(header->type == type);
  FUZZ_CHECK(header->epoch == epoch);

  switch (mode % 4) {
    case 1: {
      Result<Bytes> opened = backup::OpenObject(key, type, id, sealed);
      FUZZ_CHECK(opened.ok());
      FUZZ_CHECK(std::equal(opened->begin(), opened->end(), payload.begin(),
                            payload.end()));
      // Another name or another type: refused.
      FUZZ_CHECK(!backup::OpenObject(key, type, other_id, sealed).ok());
      const auto other = type == ObjectType::kIndex ? ObjectType::kSnapshot
                                                    : ObjectType::kIndex;
      FUZZ_CHECK(!backup::OpenObject(key, other, id, sealed).ok());
      break;
    }
    case 2: {
      sealed[damage_at % sealed.size()] ^=
          std::byte{static_cast<uint8_t>(1 + (mode >> 2) % 255)};
      Result<Bytes> opened = backup::OpenObject(key, type, id, sealed);
      FUZZ_CHECK(!opened.ok());
      FUZZ_CHECK(opened.status().code() == StatusCode::kCorruption);
      break;
    }
    case 3: {
      sealed.resize(damage_at % sealed.size());
      FUZZ_CHECK(!backup::OpenObject(key, type, id, sealed).ok());
      break;
    }
  }
  return 0;
}
