// BackendWrapper forwards every call to another backend, so that a wrapper
// (retries, statistics, rate limits, fault injection) overrides only what it
// changes — as LevelDB's EnvWrapper does.
//
// Thread-safety: as the wrapped backend.
#ifndef CHATVAULT_STORAGE_BACKEND_WRAPPER_H_
#define CHATVAULT_STORAGE_BACKEND_WRAPPER_H_

#include <memory>

#include "storage/backend.h"

namespace chatvault::storage {

class BackendWrapper : public Backend {
 public:
  explicit BackendWrapper(std::unique_ptr<Backend> target)
      : target_(std::move(target)) {}

  Status Save(std::string_view name, ByteView data, SaveMode mode) override {
    return target_->Save(name, data, mode);
  }
  Result<Bytes> Load(std::string_view name, uint64_t offset,
                     uint64_t length) override {
    return target_->Load(name, offset, length);
  }
  Result<ObjectInfo> Stat(std::string_view name) override {
    return target_->Stat(name);
  }
  Result<std::optional<Bytes>> LoadIfChanged(std::string_view name,
                                             std::string* tag) override {
    return target_->LoadIfChanged(name, tag);
  }
  Status List(std::string_view prefix, const ListFn& fn) override {
    return target_->List(prefix, fn);
  }
  Status Remove(std::string_view name) override {
    return target_->Remove(name);
  }
  Status RemoveMany(std::span<const std::string> names) override {
    return target_->RemoveMany(names);
  }
  BackendProperties Properties() const override {
    return target_->Properties();
  }

  Backend* target() const { return target_.get(); }

 private:
  std::unique_ptr<Backend> target_;
};

}  // namespace chatvault::storage

#endif  // CHATVAULT_STORAGE_BACKEND_WRAPPER_H_
