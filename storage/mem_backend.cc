#include "storage/mem_backend.h"

#include <vector>

namespace chatvault::storage {

Status MemBackend::Save(std::string_view name, ByteView data, SaveMode mode) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  std::lock_guard lock(mu_);
  auto it = objects_.find(name);
  if (it != objects_.end()) {
    if (mode == SaveMode::kCreateIfAbsent) {
      return Status::AlreadyExists("object '" + std::string(name) +
                                   "' already exists");
    }
    it->second.assign(data.begin(), data.end());
    return Status::OK();
  }
  objects_.emplace(std::string(name), Bytes(data.begin(), data.end()));
  return Status::OK();
}

Result<Bytes> MemBackend::Load(std::string_view name, uint64_t offset,
                               uint64_t length) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  std::lock_guard lock(mu_);
  auto it = objects_.find(name);
  if (it == objects_.end()) {
    return Status::NotFound("object '" + std::string(name) + "' not found");
  }
  uint64_t n = 0;
  RETURN_IF_ERROR(CheckRange(name, it->second.size(), offset, length, &n));
  auto begin = it->second.begin() + static_cast<ptrdiff_t>(offset);
  return Bytes(begin, begin + static_cast<ptrdiff_t>(n));
}

Result<ObjectInfo> MemBackend::Stat(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  std::lock_guard lock(mu_);
  auto it = objects_.find(name);
  if (it == objects_.end()) {
    return Status::NotFound("object '" + std::string(name) + "' not found");
  }
  return ObjectInfo{it->first, it->second.size()};
}

Status MemBackend::List(std::string_view prefix, const ListFn& fn) {
  // Snapshot under the lock, call back without it, so that `fn` may use
  // this backend.
  std::vector<ObjectInfo> found;
  {
    std::lock_guard lock(mu_);
    for (auto it = objects_.lower_bound(prefix);
         it != objects_.end() && it->first.starts_with(prefix); ++it) {
      found.push_back({it->first, it->second.size()});
    }
  }
  for (const ObjectInfo& info : found) RETURN_IF_ERROR(fn(info));
  return Status::OK();
}

Status MemBackend::Remove(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  std::lock_guard lock(mu_);
  auto it = objects_.find(name);
  if (it != objects_.end()) objects_.erase(it);
  return Status::OK();
}

BackendProperties MemBackend::Properties() const {
  return {.atomic_create_if_absent = true,
          .suggested_parallelism = 4,
          .location = "memory"};
}

}  // namespace chatvault::storage
