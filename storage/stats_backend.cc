#include "storage/stats_backend.h"

#include <cstdio>

namespace chatvault::storage {

std::string_view OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kSave:
      return "save";
    case OpKind::kLoad:
      return "load";
    case OpKind::kStat:
      return "stat";
    case OpKind::kList:
      return "list";
    case OpKind::kRemove:
      return "remove";
    case OpKind::kCount:
      break;
  }
  return "?";
}

std::string StatsSnapshot::ToString() const {
  std::string out;
  for (size_t i = 0; i < ops.size(); ++i) {
    char buf[128];
    std::snprintf(buf, sizeof(buf), "%s%s %llu req %llu B%s",
                  out.empty() ? "" : ", ",
                  std::string(OpKindName(static_cast<OpKind>(i))).c_str(),
                  static_cast<unsigned long long>(ops[i].requests),
                  static_cast<unsigned long long>(ops[i].bytes),
                  ops[i].failures ? " (with failures)" : "");
    out += buf;
  }
  return out;
}

void StatsBackend::Count(OpKind kind, bool ok, uint64_t bytes) {
  Counters& c = counters_[static_cast<size_t>(kind)];
  c.requests.fetch_add(1, std::memory_order_relaxed);
  if (!ok) c.failures.fetch_add(1, std::memory_order_relaxed);
  c.bytes.fetch_add(bytes, std::memory_order_relaxed);
}

Status StatsBackend::Save(std::string_view name, ByteView data, SaveMode mode) {
  Status s = target()->Save(name, data, mode);
  Count(OpKind::kSave, s.ok(), s.ok() ? data.size() : 0);
  return s;
}

Result<std::optional<Bytes>> StatsBackend::LoadIfChanged(std::string_view name,
                                                         std::string* tag) {
  Result<std::optional<Bytes>> r = target()->LoadIfChanged(name, tag);
  Count(OpKind::kLoad, r.ok(), r.ok() && r->has_value() ? (*r)->size() : 0);
  return r;
}

Result<Bytes> StatsBackend::Load(std::string_view name, uint64_t offset,
                                 uint64_t length) {
  Result<Bytes> r = target()->Load(name, offset, length);
  Count(OpKind::kLoad, r.ok(), r.ok() ? r->size() : 0);
  return r;
}

Result<ObjectInfo> StatsBackend::Stat(std::string_view name) {
  Result<ObjectInfo> r = target()->Stat(name);
  Count(OpKind::kStat, r.ok(), 0);
  return r;
}

Status StatsBackend::List(std::string_view prefix, const ListFn& fn) {
  uint64_t n = 0;
  Status s = target()->List(prefix, [&](const ObjectInfo& info) {
    ++n;
    return fn(info);
  });
  Count(OpKind::kList, s.ok(), n);
  return s;
}

Status StatsBackend::Remove(std::string_view name) {
  Status s = target()->Remove(name);
  Count(OpKind::kRemove, s.ok(), 1);
  return s;
}

Status StatsBackend::RemoveMany(std::span<const std::string> names) {
  Status s = target()->RemoveMany(names);
  Count(OpKind::kRemove, s.ok(), names.size());
  return s;
}

StatsSnapshot StatsBackend::Snapshot() const {
  StatsSnapshot snap;
  for (size_t i = 0; i < counters_.size(); ++i) {
    snap.ops[i].requests = counters_[i].requests.load();
    snap.ops[i].failures = counters_[i].failures.load();
    snap.ops[i].bytes = counters_[i].bytes.load();
  }
  return snap;
}

}  // namespace chatvault::storage
