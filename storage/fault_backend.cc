#include "storage/fault_backend.h"

namespace chatvault::storage {

FaultBackend::FaultBackend(std::unique_ptr<Backend> target, FaultConfig config,
                           Clock* clock)
    : BackendWrapper(std::move(target)), clock_(clock) {
  Configure(config);
}

void FaultBackend::Configure(const FaultConfig& config) {
  std::lock_guard lock(mu_);
  config_ = config;
  rng_.seed(config.seed);
  calls_ = 0;
}

Status FaultBackend::Before(OpKind kind, std::string_view name) {
  std::chrono::milliseconds delay{0};
  bool fail = false;
  StatusCode code;
  {
    std::lock_guard lock(mu_);
    if ((config_.ops & OpBit(kind)) == 0) return Status::OK();
    ++calls_;
    delay = config_.delay;
    code = config_.code;
    fail = config_.fail_nth != 0 && calls_ == config_.fail_nth;
    if (!fail && config_.fail_fraction > 0) {
      fail = std::uniform_real_distribution<double>(0, 1)(rng_) <
             config_.fail_fraction;
    }
  }
  clock_->SleepFor(delay);
  if (!fail) return Status::OK();
  injected_.fetch_add(1);
  return Status(code, "injected fault: " + std::string(OpKindName(kind)) +
                          " '" + std::string(name) + "'");
}

Status FaultBackend::Save(std::string_view name, ByteView data, SaveMode mode) {
  RETURN_IF_ERROR(Before(OpKind::kSave, name));
  bool truncate;
  {
    std::lock_guard lock(mu_);
    truncate = config_.truncate_saves;
  }
  return target()->Save(name, truncate ? data.first(data.size() / 2) : data,
                        mode);
}

Result<Bytes> FaultBackend::Load(std::string_view name, uint64_t offset,
                                 uint64_t length) {
  RETURN_IF_ERROR(Before(OpKind::kLoad, name));
  Result<Bytes> r = target()->Load(name, offset, length);
  std::lock_guard lock(mu_);
  if (r.ok() && config_.truncate_loads) r->resize(r->size() / 2);
  return r;
}

Result<std::optional<Bytes>> FaultBackend::LoadIfChanged(std::string_view name,
                                                         std::string* tag) {
  RETURN_IF_ERROR(Before(OpKind::kLoad, name));
  Result<std::optional<Bytes>> r = target()->LoadIfChanged(name, tag);
  std::lock_guard lock(mu_);
  if (r.ok() && r->has_value() && config_.truncate_loads) {
    (*r)->resize((*r)->size() / 2);
  }
  return r;
}

Result<ObjectInfo> FaultBackend::Stat(std::string_view name) {
  RETURN_IF_ERROR(Before(OpKind::kStat, name));
  return target()->Stat(name);
}

Status FaultBackend::List(std::string_view prefix, const ListFn& fn) {
  RETURN_IF_ERROR(Before(OpKind::kList, prefix));
  return target()->List(prefix, fn);
}

Status FaultBackend::Remove(std::string_view name) {
  RETURN_IF_ERROR(Before(OpKind::kRemove, name));
  return target()->Remove(name);
}

}  // namespace chatvault::storage
