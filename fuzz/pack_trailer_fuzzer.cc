// The trailer at the end of a pack (backup/pack.h, ReadPackTrailer), which
// is read before anything in the pack is authenticated, from a ranged read
// of the pack's last bytes: never reads outside the tail, and a trailer it
// accepts places a header of at least the AEAD overhead inside the pack.
// ReadPackHeader over the same bytes as a whole pack must refuse them
// (they are not sealed) without crashing.
#include <cstddef>
#include <cstdint>

#include "backup/pack.h"
#include "fuzz/fuzz_support.h"

using namespace chatvault;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  const uint8_t mode = in.U8();
  const uint64_t extra = in.U64();
  const ByteView tail = in.Rest();
  // The pack is either exactly the tail, longer by a few bytes, or of any
  // size at all (a listing's size need not match what was read).
  uint64_t pack_size = tail.size();
  if (mode % 3 == 1) pack_size += extra % (uint64_t{1} << 32);
  if (mode % 3 == 2) pack_size = extra;

  Result<backup::PackTrailer> trailer =
      backup::ReadPackTrailer(tail, pack_size);
  if (tail.size() > pack_size) {
    FUZZ_CHECK(trailer.status().code() == StatusCode::kInvalidArgument);
  } else if (trailer.ok()) {
    FUZZ_CHECK(tail.size() >= backup::kPackTrailerBytes);
    FUZZ_CHECK(trailer->header_length >= crypto::kAeadOverheadBytes);
    FUZZ_CHECK(trailer->header_offset + trailer->header_length +
                   backup::kPackTrailerBytes ==
               pack_size);
    FUZZ_CHECK(trailer->epoch == ReadU32Le(tail.data() + tail.size() -
                                           backup::kPackTrailerBytes));
  } else {
    FUZZ_CHECK(trailer.status().code() == StatusCode::kCorruption);
  }

  static const crypto::AeadKey key = fuzz::FixedAeadKey("epoch 0");
  Result<std::vector<pb::PackEntry>> header = backup::ReadPackHeader(key, tail);
  FUZZ_CHECK(!header.ok());
  FUZZ_CHECK(header.status().code() == StatusCode::kCorruption);
  return 0;
}
