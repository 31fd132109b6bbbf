// MemBackend: objects in memory. For tests, and as the reference the
// conformance suite is written against.
//
// Thread-safety: thread-safe.
#ifndef CHATVAULT_STORAGE_MEM_BACKEND_H_
#define CHATVAULT_STORAGE_MEM_BACKEND_H_

#include <map>
#include <mutex>

#include "storage/backend.h"

namespace chatvault::storage {

class MemBackend : public Backend {
 public:
  Status Save(std::string_view name, ByteView data, SaveMode mode) override;
  Result<Bytes> Load(std::string_view name, uint64_t offset,
                     uint64_t length) override;
  Result<ObjectInfo> Stat(std::string_view name) override;
  Status List(std::string_view prefix, const ListFn& fn) override;
  Status Remove(std::string_view name) override;
  BackendProperties Properties() const override;

 private:
  std::mutex mu_;
  std::map<std::string, Bytes, std::less<>> objects_;
};

}  // namespace chatvault::storage

#endif  // CHATVAULT_STORAGE_MEM_BACKEND_H_
