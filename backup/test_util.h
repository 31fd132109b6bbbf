// Helpers shared by backup tests.
#ifndef CHATVAULT_BACKUP_TEST_UTIL_H_
#define CHATVAULT_BACKUP_TEST_UTIL_H_

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "backup/repository.h"

namespace chatvault::backup::testing {

// The weakest Argon2id parameters chatvault accepts (RFC 9106's second
// option), so that tests unlock in about 0.1 s; fixed salt.
inline crypto::Argon2Params FastKdf() {
  crypto::Argon2Params p;
  p.t_cost = crypto::kArgon2MinTCost;
  p.m_cost_kib = crypto::kArgon2MinMCostKib;
  p.parallelism = crypto::kArgon2MinParallelism;
  p.salt.fill(std::byte{7});
  return p;
}

// Init options with FastKdf and the given chunk sizes.
inline InitOptions FastInit(ChunkerParams chunker = InitOptions{}.chunker) {
  InitOptions o;
  o.kdf = FastKdf();
  o.chunker = chunker;
  return o;
}

// Every regular file below `root` (none if it does not exist), by path
// relative to it, with its content: for byte-for-byte comparisons of
// restored trees.
inline std::map<std::string, std::string> ReadFiles(const std::string& root) {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> out;
  if (!fs::exists(root)) return out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    out[e.path().lexically_relative(root).string()] =
        std::string(std::istreambuf_iterator<char>(in), {});
  }
  return out;
}

// The unprivileged user and group ("nobody", "nogroup" on Debian).
constexpr uid_t kNobody = 65534;

// While alive, runs the process with effective uid and gid `id`; a no-op
// when not root. Root reads mode-000 files and may chown, so tests of what
// an ordinary user sees drop to one when they run as root (CI, containers).
class ScopedEffectiveId {
 public:
  explicit ScopedEffectiveId(uid_t id) : active_(::geteuid() == 0) {
    if (active_ && (::setegid(id) != 0 || ::seteuid(id) != 0)) std::abort();
  }
  ~ScopedEffectiveId() {
    if (active_ && (::seteuid(0) != 0 || ::setegid(0) != 0)) std::abort();
  }
  ScopedEffectiveId(const ScopedEffectiveId&) = delete;
  ScopedEffectiveId& operator=(const ScopedEffectiveId&) = delete;

 private:
  bool active_;
};

}  // namespace chatvault::backup::testing

#endif  // CHATVAULT_BACKUP_TEST_UTIL_H_
