#include "storage/backend.h"

#include "crypto/blake2b.h"

namespace chatvault::storage {

Status Backend::RemoveMany(std::span<const std::string> names) {
  for (const std::string& name : names) RETURN_IF_ERROR(Remove(name));
  return Status::OK();
}

Result<std::optional<Bytes>> Backend::LoadIfChanged(std::string_view name,
                                                    std::string* tag) {
  ASSIGN_OR_RETURN(Bytes data, Load(name, 0, kToEnd));
  ASSIGN_OR_RETURN(Bytes digest, crypto::Blake2b(data, 32));
  std::string new_tag = "b2:" + HexEncode(digest);
  if (new_tag == *tag) return std::optional<Bytes>();
  *tag = std::move(new_tag);
  return std::optional<Bytes>(std::move(data));
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
