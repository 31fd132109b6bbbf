#include "storage/local_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "base/errno.h"
#include "base/fd.h"
#include "crypto/random.h"

namespace chatvault::storage {
namespace {

constexpr const char* kTmpDir = ".tmp";

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

Status FsyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return StatusFromErrno(errno, "cannot open '" + dir + "'");
  if (::fsync(fd.get()) != 0) {
    return StatusFromErrno(errno, "cannot sync directory '" + dir + "'");
  }
  return Status::OK();
}

// mkdir -p, syncing each parent in which a directory was created so that
// the new entry is durable too.
Status MakeDirs(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::OK();
    return Status::InvalidArgument("'" + dir +
                                   "' exists and is not a directory");
  }
  if (errno != ENOENT)
    return StatusFromErrno(errno, "cannot stat '" + dir + "'");
  std::string parent = DirOf(dir);
  if (parent != dir) RETURN_IF_ERROR(MakeDirs(parent));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return StatusFromErrno(errno, "cannot create directory '" + dir + "'");
  }
  return FsyncDir(parent);
}

Status WriteAll(int fd, ByteView data, const std::string& path) {
  while (!data.empty()) {
    ssize_t w = ::write(fd, data.data(), data.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      return StatusFromErrno(errno, "cannot write '" + path + "'");
    }
    data = data.subspan(static_cast<size_t>(w));
  }
  return Status::OK();
}

// Publishes `tmp` as `path`, failing with AlreadyExists if `path` exists.
Status PublishNoReplace(const std::string& tmp, const std::string& path,
                        std::string_view name) {
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(),
                  RENAME_NOREPLACE) == 0) {
    return Status::OK();
  }
  if (errno == EEXIST) {
    return Status::AlreadyExists("object '" + std::string(name) +
                                 "' already exists");
  }
  if (errno != EINVAL && errno != ENOSYS) {
    return StatusFromErrno(errno, "cannot rename into '" + path + "'");
  }
  // Filesystems without RENAME_NOREPLACE (some network filesystems): link(2)
  // is atomic and refuses an existing target.
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST) {
      return Status::AlreadyExists("object '" + std::string(name) +
                                   "' already exists");
    }
    return StatusFromErrno(errno, "cannot link into '" + path + "'");
  }
  ::unlink(tmp.c_str());
  return Status::OK();
}

Status NotFound(std::string_view name) {
  return Status::NotFound("object '" + std::string(name) + "' not found");
}

// Lists regular files below `dir`, whose object-name prefix is `rel`.
// Reads each directory completely before calling back or descending, so at
// most one directory is open at a time and `fn` may use the backend.
Status Walk(const std::string& dir, const std::string& rel,
            std::string_view prefix, const ListFn& fn) {
  struct Entry {
    std::string name;
    bool is_dir;
    uint64_t size;
  };
  std::vector<Entry> entries;
  {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT || errno == ENOTDIR) return Status::OK();
      return StatusFromErrno(errno, "cannot list '" + dir + "'");
    }
    Status status;
    for (;;) {
      errno = 0;
      dirent* e = ::readdir(d);
      if (e == nullptr) {
        if (errno != 0)
          status = StatusFromErrno(errno, "cannot list '" + dir + "'");
        break;
      }
      if (e->d_name[0] == '.') continue;  // ., .., .tmp, foreign dotfiles
      std::string full = rel.empty() ? e->d_name : rel + "/" + e->d_name;
      // Skip subtrees and files that cannot match the prefix.
      size_t n = std::min(full.size(), prefix.size());
      if (full.compare(0, n, prefix.substr(0, n)) != 0) continue;
      struct stat st;
      if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed meanwhile
        status = StatusFromErrno(errno,
                                 "cannot stat '" + dir + "/" + e->d_name + "'");
        break;
      }
      if (S_ISDIR(st.st_mode)) {
        entries.push_back({std::move(full), true, 0});
      } else if (S_ISREG(st.st_mode) && full.starts_with(prefix)) {
        entries.push_back(
            {std::move(full), false, static_cast<uint64_t>(st.st_size)});
      }
    }
    ::closedir(d);
    RETURN_IF_ERROR(status);
  }
  for (Entry& e : entries) {
    if (e.is_dir) {
      std::string sub = e.name.substr(rel.empty() ? 0 : rel.size() + 1);
      RETURN_IF_ERROR(Walk(dir + "/" + sub, e.name, prefix, fn));
    } else {
      RETURN_IF_ERROR(fn(ObjectInfo{std::move(e.name), e.size}));
    }
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<LocalBackend>> LocalBackend::Open(std::string root) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root.empty()) return Status::InvalidArgument("empty repository path");
  struct stat st;
  if (::stat(root.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("'" + root +
                                   "' exists and is not a directory");
  }
  return std::unique_ptr<LocalBackend>(new LocalBackend(std::move(root)));
}

std::string LocalBackend::PathOf(std::string_view name) const {
  std::string p = root_;
  p += '/';
  p += name;
  return p;
}

Status LocalBackend::Save(std::string_view name, ByteView data, SaveMode mode) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  const std::string path = PathOf(name);
  const std::string tmp_dir = root_ + "/" + kTmpDir;
  RETURN_IF_ERROR(MakeDirs(tmp_dir));
  RETURN_IF_ERROR(MakeDirs(DirOf(path)));
  if (mode == SaveMode::kCreateIfAbsent && ::access(path.c_str(), F_OK) == 0) {
    return Status::AlreadyExists("object '" + std::string(name) +
                                 "' already exists");
  }

  std::byte rnd[12];
  crypto::RandomBytes(rnd);
  const std::string tmp = tmp_dir + "/" + HexEncode(rnd);
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0)
    return StatusFromErrno(errno, "cannot create '" + tmp + "'");

  auto write_and_publish = [&]() -> Status {
    size_t half = data.size() / 2;
    RETURN_IF_ERROR(WriteAll(fd.get(), data.first(half), tmp));
    RETURN_IF_ERROR(Fault("partial-write"));
    RETURN_IF_ERROR(WriteAll(fd.get(), data.subspan(half), tmp));
    if (::fsync(fd.get()) != 0) {
      return StatusFromErrno(errno, "cannot sync '" + tmp + "'");
    }
    RETURN_IF_ERROR(fd.Close("cannot close '" + tmp + "'"));
    RETURN_IF_ERROR(Fault("before-publish"));
    if (mode == SaveMode::kCreateIfAbsent) {
      RETURN_IF_ERROR(PublishNoReplace(tmp, path, name));
    } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
      return StatusFromErrno(errno, "cannot rename into '" + path + "'");
    }
    return FsyncDir(DirOf(path));
  };
  Status s = write_and_publish();
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

Result<Bytes> LocalBackend::Load(std::string_view name, uint64_t offset,
                                 uint64_t length) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  const std::string path = PathOf(name);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return NotFound(name);
    return StatusFromErrno(errno, "cannot open '" + path + "'");
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return StatusFromErrno(errno, "cannot stat '" + path + "'");
  }
  if (!S_ISREG(st.st_mode)) return NotFound(name);
  uint64_t n = 0;
  RETURN_IF_ERROR(
      CheckRange(name, static_cast<uint64_t>(st.st_size), offset, length, &n));
  Bytes out(n);
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd.get(), out.data() + done, n - done,
                        static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return StatusFromErrno(errno, "cannot read '" + path + "'");
    }
    if (r == 0) {
      return Status::Corruption("'" + path + "' shrank while being read");
    }
    done += static_cast<size_t>(r);
  }
  return out;
}

Result<ObjectInfo> LocalBackend::Stat(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  const std::string path = PathOf(name);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return NotFound(name);
    return StatusFromErrno(errno, "cannot stat '" + path + "'");
  }
  if (!S_ISREG(st.st_mode)) return NotFound(name);
  return ObjectInfo{std::string(name), static_cast<uint64_t>(st.st_size)};
}

Status LocalBackend::List(std::string_view prefix, const ListFn& fn) {
  return Walk(root_, "", prefix, fn);
}

Status LocalBackend::Remove(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  const std::string path = PathOf(name);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) {
    return StatusFromErrno(errno, "cannot remove '" + path + "'");
  }
  return Status::OK();
}

BackendProperties LocalBackend::Properties() const {
  return {.atomic_create_if_absent = true,
          .suggested_parallelism = 2,
          .location = root_};
}

}  // namespace chatvault::storage
