#include "backup/media.h"

#include <cstring>

namespace chatvault::backup {
namespace {

struct Magic {
  std::string_view format;
  size_t offset;
  std::string_view bytes;
};

// From each format's specification; the ISO base media formats (MP4, MOV,
// 3GP, M4A, HEIC, AVIF) share "ftyp" at offset 4.
constexpr Magic kMagics[] = {
    {"jpeg", 0, std::string_view("\xFF\xD8\xFF", 3)},
    {"png", 0, std::string_view("\x89PNG\r\n\x1A\n", 8)},
    {"gif", 0, "GIF87a"},
    {"gif", 0, "GIF89a"},
    {"mp4", 4, "ftyp"},
    {"webm", 0, std::string_view("\x1A\x45\xDF\xA3", 4)},
    {"ogg", 0, "OggS"},
    {"mp3", 0, "ID3"},
    {"flac", 0, "fLaC"},
    {"amr", 0, "#!AMR"},
    {"pdf", 0, "%PDF-"},
    {"zip", 0, std::string_view("PK\x03\x04", 4)},
    {"gzip", 0, std::string_view("\x1F\x8B", 2)},
    {"zstd", 0, std::string_view("\x28\xB5\x2F\xFD", 4)},
    {"xz", 0,
     std::string_view("\xFD"
                      "7zXZ\0",
                      6)},
    {"7z", 0, std::string_view("7z\xBC\xAF\x27\x1C", 6)},
    {"bzip2", 0, "BZh"},
};

bool At(ByteView head, size_t offset, std::string_view bytes) {
  return head.size() >= offset + bytes.size() &&
         std::memcmp(head.data() + offset, bytes.data(), bytes.size()) == 0;
}

}  // namespace

std::string_view CompressedMediaFormat(ByteView head) {
  for (const Magic& m : kMagics) {
    if (At(head, m.offset, m.bytes)) return m.format;
  }
  // RIFF containers: WebP images are compressed, WAV audio is not.
  if (At(head, 0, "RIFF") && At(head, 8, "WEBP")) return "webp";
  // MPEG audio frames without an ID3 tag: sync word and layer III.
  if (head.size() >= 2 && head[0] == std::byte{0xFF} &&
      (static_cast<unsigned>(head[1]) & 0xE6) == 0xE2) {
    return "mp3";
  }
  return {};
}

}  // namespace chatvault::backup
