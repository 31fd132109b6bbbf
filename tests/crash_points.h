// Kill points for crash tests: a process counts the points of its storage
// traffic and kills itself with SIGKILL, as kill -9 would, at the chosen
// one; RunInChild runs such a process and says how it ended.
#ifndef CHATVAULT_TESTS_CRASH_POINTS_H_
#define CHATVAULT_TESTS_CRASH_POINTS_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "storage/backend_wrapper.h"

namespace chatvault::testing {

// The points of one process's storage traffic. Point() counts them and
// kills the process, as kill -9 would, at number `kill_at` (0: never).
class Points {
 public:
  explicit Points(uint64_t kill_at) : kill_at_(kill_at) {}
  void Point() {
    if (++count_ == kill_at_) ::raise(SIGKILL);
  }
  uint64_t count() const { return count_.load(); }

 private:
  const uint64_t kill_at_;
  std::atomic<uint64_t> count_{0};
};

// A point before and after every call that changes the store (and, with
// `loads`, before every read: a restore writes files between reads).
class CrashBackend : public storage::BackendWrapper {
 public:
  CrashBackend(std::unique_ptr<storage::Backend> target, Points* points,
               bool loads)
      : BackendWrapper(std::move(target)), points_(points), loads_(loads) {}

  Status Save(std::string_view name, ByteView data,
              storage::SaveMode mode) override {
    points_->Point();
    Status s = BackendWrapper::Save(name, data, mode);
    points_->Point();
    return s;
  }
  Status Remove(std::string_view name) override {
    points_->Point();
    Status s = BackendWrapper::Remove(name);
    points_->Point();
    return s;
  }
  Status RemoveMany(std::span<const std::string> names) override {
    points_->Point();
    Status s = BackendWrapper::RemoveMany(names);
    points_->Point();
    return s;
  }
  Result<Bytes> Load(std::string_view name, uint64_t offset,
                     uint64_t length) override {
    if (loads_) points_->Point();
    return BackendWrapper::Load(name, offset, length);
  }

 private:
  Points* points_;
  bool loads_;
};

// Runs `body` in a child process whose point `kill_at` (0: none) kills it.
// Returns "killed", "completed" or what went wrong. The child must open its
// own connections: it shares none of the parent's.
inline std::string RunInChild(uint64_t kill_at,
                              const std::function<Status(Points*)>& body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    Points points(kill_at);
    Status s = body(&points);
    if (!s.ok()) {
      fprintf(stderr, "child: %s\n", s.ToString().c_str());
      ::_exit(3);
    }
    ::_exit(0);
  }
  int wstatus = 0;
  if (pid < 0 || ::waitpid(pid, &wstatus, 0) != pid) return "fork failed";
  if (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) return "killed";
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return "completed";
  return "child failed with wait status " + std::to_string(wstatus);
}

}  // namespace chatvault::testing

#endif  // CHATVAULT_TESTS_CRASH_POINTS_H_
