#include "storage/backend.h"

namespace chatvault::storage {

Status Backend::RemoveMany(std::span<const std::string> names) {
  for (const std::string& name : names) RETURN_IF_ERROR(Remove(name));
  return Status::OK();
}

Status ValidateObjectName(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("invalid object name '" +
                                   std::string(name.substr(0, 200)) +
                                   "': " + std::string(why));
  };
  if (name.empty()) return bad("empty");
  if (name.size() > 1024) return bad("longer than 1024 bytes");
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return bad("contains a control character");
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part.empty()) return bad("has an empty path component");
    if (part[0] == '.') return bad("has a component starting with '.'");
    start = end + 1;
  }
  return Status::OK();
}

Status CheckRange(std::string_view name, uint64_t size, uint64_t offset,
                  uint64_t length, uint64_t* out_length) {
  if (offset > size) {
    return Status::InvalidArgument("range starts at " + std::to_string(offset) +
                                   ", past the end of '" + std::string(name) +
                                   "' (" + std::to_string(size) + " bytes)");
  }
  if (length == kToEnd) {
    *out_length = size - offset;
    return Status::OK();
  }
  if (length > size - offset) {
    return Status::InvalidArgument(
        "range [" + std::to_string(offset) + ", " +
        std::to_string(offset + length) + ") reaches past the end of '" +
        std::string(name) + "' (" + std::to_string(size) + " bytes)");
  }
  *out_length = length;
  return Status::OK();
}

}  // namespace chatvault::storage
