// Byte buffers and views used across chatvault, and hex encoding for IDs,
// test vectors and diagnostics (never for secrets in logs).
//
// Thread-safety: all functions are thread-safe.
#ifndef CHATVAULT_BASE_BYTES_H_
#define CHATVAULT_BASE_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace chatvault {

using Bytes = std::vector<std::byte>;
using ByteView = std::span<const std::byte>;
using MutableByteView = std::span<std::byte>;

// Views the characters of `s` as bytes; no copy.
inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
// Views bytes as characters; no copy.
inline std::string_view AsChars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes ToBytes(std::string_view s) {
  ByteView v = AsBytes(s);
  return Bytes(v.begin(), v.end());
}

// Appends `v` as 4 little-endian bytes.
inline void AppendU32Le(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
  }
}
// Reads 4 little-endian bytes. REQUIRES: 4 bytes readable at `p`.
inline uint32_t ReadU32Le(const std::byte* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | std::to_integer<uint32_t>(p[i]);
  return v;
}

// Lower-case hex.
std::string HexEncode(ByteView data);
// Accepts upper and lower case; InvalidArgument on odd length or a non-hex
// character.
Result<Bytes> HexDecode(std::string_view hex);

}  // namespace chatvault

#endif  // CHATVAULT_BASE_BYTES_H_
