// Backend: the object store a repository lives in — a local directory, an
// S3 bucket, memory in tests. Deliberately small: whole immutable objects
// addressed by name, so that any store that can keep files can hold a
// repository. Behaviour such as retries, rate limits, statistics and fault
// injection is added by wrappers (storage/wrappers.h), not by backends.
//
// Object names are '/'-separated relative paths ("data/3f/3fa9..."), valid
// per ValidateObjectName. Every backend passes the conformance suite in
// tests/storage_conformance/.
//
// Errors: NotFound (no such object), AlreadyExists (create-if-absent found
// one), InvalidArgument (bad name or range), PermissionDenied (credentials
// or file permissions), Unavailable (transient: the caller may retry),
// ResourceExhausted (disk full, quota), Corruption (the store returned
// something inconsistent), IOError (other permanent failures).
//
// Thread-safety: every method of every backend may be called concurrently
// from several threads, and several processes may use one store at once.
#ifndef CHATVAULT_STORAGE_BACKEND_H_
#define CHATVAULT_STORAGE_BACKEND_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"

namespace chatvault::storage {

struct ObjectInfo {
  std::string name;
  uint64_t size = 0;
};

struct BackendProperties {
  // SaveMode::kCreateIfAbsent is atomic: of several concurrent creators,
  // exactly one succeeds. When false the backend checks then writes, and a
  // concurrent creator can win the race unnoticed.
  bool atomic_create_if_absent = false;
  // How many requests are worth running in parallel.
  int suggested_parallelism = 1;
  // Where the objects are, for messages: "/srv/backup", "s3:http://h/b/p".
  std::string location;
};

enum class SaveMode {
  kOverwrite,       // replace an existing object
  kCreateIfAbsent,  // AlreadyExists if the object exists
};

inline constexpr uint64_t kToEnd = std::numeric_limits<uint64_t>::max();

// Called once per object by List; a non-OK status stops the listing and is
// returned by List.
using ListFn = std::function<Status(const ObjectInfo&)>;

class Backend {
 public:
  virtual ~Backend() = default;

  // Stores `data` as object `name`, atomically: afterwards readers see the
  // whole new object or (on failure) whatever was there before, never a part.
  // A successful Save is durable (synced to stable storage, or acknowledged
  // by the server).
  virtual Status Save(std::string_view name, ByteView data,
                      SaveMode mode = SaveMode::kOverwrite) = 0;

  // Returns bytes [offset, offset + length) of `name`; length kToEnd means
  // up to the end. InvalidArgument if the range reaches past the end of the
  // object (an offset equal to the size with kToEnd gives empty data).
  virtual Result<Bytes> Load(std::string_view name, uint64_t offset = 0,
                             uint64_t length = kToEnd) = 0;

  virtual Result<ObjectInfo> Stat(std::string_view name) = 0;

  // Loads the whole of `name` unless it is still the version `*tag` names
  // (a tag an earlier call set; empty: none): then returns std::nullopt,
  // having transferred no content. Otherwise sets `*tag` to the loaded
  // version's tag. For watching a mutable object cheaply: backends answer
  // with a conditional request (S3: If-None-Match on the ETag; a local
  // directory: the file's identity and mtime). The default loads the
  // object every time and tags it by its content.
  virtual Result<std::optional<Bytes>> LoadIfChanged(std::string_view name,
                                                     std::string* tag);

  // Calls `fn` for every object whose name starts with `prefix`, in no
  // particular order, fetching results page by page as it goes. Objects
  // saved or removed during the listing may or may not be reported.
  virtual Status List(std::string_view prefix, const ListFn& fn) = 0;

  // Removes `name`. Removing an absent object succeeds: Remove is
  // idempotent, as S3's DELETE is.
  virtual Status Remove(std::string_view name) = 0;

  // Removes several objects, in batches where the store supports it. On
  // failure some of them may have been removed.
  virtual Status RemoveMany(std::span<const std::string> names);

  virtual BackendProperties Properties() const = 0;
};

// OK if `name` can name an object in every backend: 1..1024 bytes, no
// control characters, no leading, trailing or doubled '/', no "." or ".."
// component and no component starting with '.' (reserved for the backends'
// own files). InvalidArgument saying what is wrong otherwise.
Status ValidateObjectName(std::string_view name);

// OK if [offset, offset + length) lies within an object of `size` bytes;
// returns the actual length (resolving kToEnd) in *out_length.
Status CheckRange(std::string_view name, uint64_t size, uint64_t offset,
                  uint64_t length, uint64_t* out_length);

}  // namespace chatvault::storage

#endif  // CHATVAULT_STORAGE_BACKEND_H_
