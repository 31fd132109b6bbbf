// File-system helpers shared by everything that writes a repository's
// trees to disk (restore, sync): safe names, directories opened without
// following symlinks, times, temporary names.
//
// Thread-safety: all functions are thread-safe.
#ifndef CHATVAULT_BACKUP_FS_UTIL_H_
#define CHATVAULT_BACKUP_FS_UTIL_H_

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "base/errno.h"
#include "base/fd.h"
#include "base/status.h"
#include "crypto/random.h"

namespace chatvault::backup {

// Permission bits only: setuid, setgid and sticky bits from a repository
// are not restored, so restoring as root cannot create setuid programs.
inline constexpr uint32_t kPermissionBits = 0777;

// OK for a name that stays in its directory; Corruption for an empty name,
// ".", "..", or one holding '/' or NUL (from a hostile tree).
inline Status CheckName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." ||
      name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return Status::Corruption(
        "the snapshot holds an unsafe file name; refusing to restore it");
  }
  return Status::OK();
}

// Opens directory `name` in `dir_fd`, refusing a symlink (ELOOP) or any
// other non-directory (ENOTDIR).
inline int OpenDirAt(int dir_fd, const std::string& name) {
  return ::openat(dir_fd, name.c_str(),
                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

// Access and modification times both set to `mtime_ns`, rounding towards
// minus infinity so that times before 1970 stay valid.
struct Times {
  explicit Times(int64_t mtime_ns) {
    int64_t sec = mtime_ns / 1'000'000'000;
    int64_t nsec = mtime_ns % 1'000'000'000;
    if (nsec < 0) {
      nsec += 1'000'000'000;
      --sec;
    }
    ts[0].tv_sec = ts[1].tv_sec = sec;
    ts[0].tv_nsec = ts[1].tv_nsec = nsec;
  }
  struct timespec ts[2];
};

// ".<name>.chatvault-<what>-XXXXXX": hidden, recognisable, and short
// enough for NAME_MAX whatever the length of `name`.
inline std::string TempName(const std::string& name,
                            const char* what = "restore") {
  static constexpr char kChars[] =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string tmp = "." + name.substr(0, 200) + ".chatvault-" + what + "-";
  for (int i = 0; i < 6; ++i)
    tmp += kChars[crypto::RandomUniform(sizeof(kChars) - 1)];
  return tmp;
}

// LMDB maps its lock file ("lock.mdb" in `dir`) after growing it with
// ftruncate; on a full disk (tmpfs, or any file system without space for
// the page) touching the mapping kills the process with SIGBUS. Creating
// the file and allocating its blocks first turns that into ENOSPC here.
// 64 KiB holds LMDB's default reader table many times over (it uses the
// file's size when that is larger than it needs).
inline Status ReserveLmdbLockFile(const std::string& dir) {
  const std::string path = dir + "/lock.mdb";
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    return StatusFromErrno(errno, "cannot create '" + path + "'");
  }
  int rc = ::posix_fallocate(fd.get(), 0, 64 << 10);
  if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
    return StatusFromErrno(rc, "cannot allocate '" + path + "'");
  }
  return Status::OK();
}

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_FS_UTIL_H_
