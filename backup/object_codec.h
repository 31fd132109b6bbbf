// Sealed repository objects: the framing of docs/design.md section 5.2 and
// the associated data of section 2.2.
//
//   object = "CVO1" || u8(type) || u32le(epoch) ||
//            AeadSeal(epoch key, payload, ad(type, id, epoch))
//   ad     = "chatvault/v1" || 0x00 || u8(type) || id[32] || u32le(epoch)
//
// The associated data binds each object to its type, its ID (the name it is
// stored under) and the epoch whose key sealed it, so that a storage provider
// can neither swap objects nor move one to another name or type. A reader
// passes the type and ID it asked for, never ones read from the object;
// only the epoch comes from the object's header, and it is authenticated
// too, since a wrong epoch makes the associated data differ.
//
// Reading an object takes two steps: PeekObjectHeader tells which epoch's
// key to use, OpenObject authenticates and decrypts with it.
//
// Thread-safety: all functions are thread-safe.
#ifndef CHATVAULT_BACKUP_OBJECT_CODEC_H_
#define CHATVAULT_BACKUP_OBJECT_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/aead.h"

namespace chatvault::backup {

// Object and blob types of docs/design.md section 5.2. Their values are part
// of the format: they are written into every object header and every
// associated data. 2 is reserved (key objects are sealed boxes, not AEAD).
enum class ObjectType : uint8_t {
  kConfig = 1,
  kDataBlob = 3,
  kTreeBlob = 4,
  kPackHeader = 5,
  kIndex = 6,
  kSnapshot = 7,
  kHolderList = 8,
  kDeviceList = 9,
  kPrunePlan = 10,
  kLock = 11,
  kHead = 12,         // docs/sync-protocol.md
  kLinkRequest = 13,  // sealed under a link key, not an epoch key
  kLinkHello = 14,
  kLinkReply = 15,
};

// Bytes of an ID bound into associated data.
inline constexpr size_t kObjectIdBytes = 32;
// "CVO1" || u8(type) || u32le(epoch).
inline constexpr size_t kObjectHeaderBytes = 9;
// Bytes a sealed object is longer than its payload.
inline constexpr size_t kObjectOverheadBytes =
    kObjectHeaderBytes + crypto::kAeadOverheadBytes;

// A lower-case name for messages ("config", "data blob", ...); "unknown" for
// a value outside the enum.
std::string_view ObjectTypeName(ObjectType type);

// The associated data of section 2.2 for an object or blob of `type` named
// `id32`, sealed under epoch `epoch`: 50 bytes.
// REQUIRES: id32.size() == kObjectIdBytes (aborts otherwise: a short ID here
// is a bug that would silently weaken the binding).
Bytes AssociatedData(ObjectType type, ByteView id32, uint32_t epoch);

// Seals `payload` as an object of `type` named `id32` under the key of epoch
// `epoch`, which the caller passes as `key`. Returns
// kObjectOverheadBytes + payload.size() bytes; never fails.
// REQUIRES: id32.size() == kObjectIdBytes.
Bytes SealObject(const crypto::AeadKey& key, uint32_t epoch, ObjectType type,
                 ByteView id32, ByteView payload);

struct SealedObjectHeader {
  ObjectType type;
  uint32_t epoch;
};

// Parses the unauthenticated header of a sealed object, so that the caller
// can pick the key of its epoch. Returns Corruption when `object` is shorter
// than kObjectHeaderBytes, the magic is not "CVO1" or the type is not one of
// ObjectType's values. Nothing here is trustworthy until OpenObject succeeds.
[[nodiscard]] Result<SealedObjectHeader> PeekObjectHeader(ByteView object);

// Authenticates and decrypts a sealed object that the caller asked for as
// type `expected_type` under the name `id32`, with `key` being the key of
// the epoch named in the object's header. Returns the payload, or
// Corruption — naming the expected type, never any content — when the
// object is malformed, its header names another type, or authentication
// fails (damage, tampering, another ID or epoch, or the wrong key). No
// plaintext is released on failure.
// REQUIRES: id32.size() == kObjectIdBytes.
[[nodiscard]] Result<Bytes> OpenObject(const crypto::AeadKey& key,
                                       ObjectType expected_type, ByteView id32,
                                       ByteView object);

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_OBJECT_CODEC_H_
