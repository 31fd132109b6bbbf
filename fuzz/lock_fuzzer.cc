// Repository locks (backup/lock.h, ReadLock, DescribeLock, BreakLock): a
// prune reads the lock another device left, says who holds it, and may
// break it. The input is the lock's payload sealed under the fixed
// repository's key (mode bit 0: the stored object as it is). Reading it
// never fails on its content (a damaged lock counts as stale), describing
// it never crashes, and breaking it removes it unless a live holder has it.
#include <cstddef>
#include <cstdint>

#include "backup/lock.h"
#include "crypto/blake2b.h"
#include "fuzz/fuzz_support.h"

using namespace chatvault;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FixedRepository& fixed = fuzz::FixedRepository::Get();
  fixed.Reset();
  // backup/lock.cc names the lock of a purpose by this hash.
  static const Bytes id = *crypto::Blake2b(AsBytes("chatvault lock prune"), 32);

  fuzz::Reader in(data, size);
  const uint8_t mode = in.U8();
  const ByteView payload = in.Rest();
  const Bytes object = mode & 1
                           ? Bytes(payload.begin(), payload.end())
                           : fixed.Seal(backup::ObjectType::kLock, id, payload);
  const std::string name = "locks/" + HexEncode(id);
  FUZZ_CHECK(
      fixed.backend()->Save(name, object, storage::SaveMode::kOverwrite).ok());

  Result<std::optional<backup::LockInfo>> info =
      backup::ReadLock(fixed.repo(), "prune");
  if (!info.ok()) {
    // Only a lock sealed under an epoch this holder lacks.
    FUZZ_CHECK(info.status().code() == StatusCode::kPermissionDenied);
    return 0;
  }
  FUZZ_CHECK(info->has_value());
  FUZZ_CHECK(!backup::DescribeLock((*info)->lock).empty());

  if (mode & 2) {
    const bool force = mode & 4;
    Result<std::optional<pb::Lock>> broken =
        backup::BreakLock(fixed.repo(), "prune", force);
    if (broken.ok()) {
      FUZZ_CHECK(broken->has_value());
      FUZZ_CHECK(fixed.backend()->Stat(name).status().code() ==
                 StatusCode::kNotFound);
    } else {
      FUZZ_CHECK(!force && (*info)->stale.empty());
      FUZZ_CHECK(broken.status().code() == StatusCode::kLocked);
    }
  }
  return 0;
}
