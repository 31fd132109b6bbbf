// Fd: a file descriptor closed on scope exit.
//
// Thread-safety: like an int; one owner.
#ifndef CHATVAULT_BASE_FD_H_
#define CHATVAULT_BASE_FD_H_

#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "base/errno.h"
#include "base/status.h"

namespace chatvault {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes now, reporting the error close(2) may carry for writes.
  Status Close(const std::string& what) {
    int fd = std::exchange(fd_, -1);
    if (fd >= 0 && ::close(fd) != 0) return StatusFromErrno(errno, what);
    return Status::OK();
  }

 private:
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_;
};

}  // namespace chatvault

#endif  // CHATVAULT_BASE_FD_H_
