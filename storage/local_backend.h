// LocalBackend: a repository in a local (or NAS-mounted) directory, the
// embedded default.
//
// Layout: object "a/b/c" is the file ROOT/a/b/c. Saves write a temporary
// file under ROOT/.tmp/, fsync it, rename it into place (renameat2 with
// RENAME_NOREPLACE for create-if-absent, or link(2) where the filesystem
// lacks it) and fsync the directory, so a reader never sees part of an
// object and a completed Save survives a crash. Several processes may write
// one directory at once. Files are created 0600 and directories 0700: a
// repository reveals object sizes, so other local users should not see it.
//
// Thread-safety: thread-safe.
#ifndef CHATVAULT_STORAGE_LOCAL_BACKEND_H_
#define CHATVAULT_STORAGE_LOCAL_BACKEND_H_

#include <memory>
#include <string>

#include "storage/backend.h"

namespace chatvault::storage {

// Test seam: called inside Save at points where a real failure can happen
// ("partial-write" after some bytes are written, "before-publish" just
// before the object becomes visible). A non-OK status makes Save fail there,
// as the real failure would.
using SaveFaultHook = std::function<Status(std::string_view point)>;

class LocalBackend : public Backend {
 public:
  // `root` need not exist yet; it is created by the first Save.
  // InvalidArgument if it exists and is not a directory.
  static Result<std::unique_ptr<LocalBackend>> Open(std::string root);

  Status Save(std::string_view name, ByteView data, SaveMode mode) override;
  Result<Bytes> Load(std::string_view name, uint64_t offset,
                     uint64_t length) override;
  Result<ObjectInfo> Stat(std::string_view name) override;
  Status List(std::string_view prefix, const ListFn& fn) override;
  Status Remove(std::string_view name) override;
  BackendProperties Properties() const override;

  // REQUIRES: called before concurrent use.
  void set_save_fault_hook(SaveFaultHook hook) {
    fault_hook_ = std::move(hook);
  }

 private:
  explicit LocalBackend(std::string root) : root_(std::move(root)) {}
  Status Fault(std::string_view point) const {
    return fault_hook_ ? fault_hook_(point) : Status::OK();
  }
  std::string PathOf(std::string_view name) const;

  const std::string root_;
  SaveFaultHook fault_hook_;
};

}  // namespace chatvault::storage

#endif  // CHATVAULT_STORAGE_LOCAL_BACKEND_H_
