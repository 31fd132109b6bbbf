#include "cli/context.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "backup/file_cache.h"
#include "base/errno.h"
#include "cli/exit_codes.h"
#include "cli/passphrase.h"
#include "crypto/secret_bytes.h"
#include "storage/limit_backend.h"
#include "storage/url.h"
#include "sync/account.h"
#include "sync/home.h"

namespace chatvault::cli {

std::string DefaultRepositoryLocation() {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  std::string base;
  if (xdg != nullptr && xdg[0] == '/') {
    base = xdg;
  } else {
    const char* home = std::getenv("HOME");
    base = std::string(home ? home : ".") + "/.local/share";
  }
  return base + "/chatvault/repo";
}

std::string Context::cache_dir() const {
  return options_.cache_dir.empty() ? backup::DefaultCacheDir()
                                    : options_.cache_dir;
}

std::string Context::home() const {
  return options_.home.empty() ? sync::DefaultHome() : options_.home;
}

std::string Context::location() const {
  return options_.repo.empty() ? DefaultRepositoryLocation() : options_.repo;
}

Result<storage::Backend*> Context::Backend() {
  if (!backend_) {
    ASSIGN_OR_RETURN(backend_,
                     storage::OpenBackend(location(), [](const char* n) {
                       return std::getenv(n);
                     }));
    if (options_.limit_upload_kib > 0 || options_.limit_download_kib > 0) {
      backend_ = std::make_unique<storage::LimitBackend>(
          std::move(backend_), options_.limit_upload_kib,
          options_.limit_download_kib);
    }
  }
  return backend_.get();
}

Result<std::unique_ptr<backup::Repository>> Context::OpenRepository(
    bool account_key) {
  ASSIGN_OR_RETURN(std::unique_ptr<backup::Repository> repo,
                   OpenRepositoryWith(account_key));
  // A config rolled back to an older key epoch is refused. The check needs
  // this device's state; a home that cannot be written only skips it.
  Status epoch = sync::CheckWriteEpoch(home(), repo.get());
  if (epoch.code() == StatusCode::kCorruption) return epoch;
  return repo;
}

Result<std::unique_ptr<backup::Repository>> Context::OpenRepositoryWith(
    bool account_key) {
  ASSIGN_OR_RETURN(storage::Backend * backend, Backend());
  Status device_error;
  if (!account_key && options_.recovery_code_file.empty() &&
      options_.password_file.empty()) {
    Result<sync::DeviceIdentity> identity = sync::DeviceIdentity::Load(home());
    if (identity.ok()) {
      Result<std::unique_ptr<backup::Repository>> repo =
          backup::Repository::OpenWithDevice(backend, identity->holder());
      if (repo.ok() || repo.status().code() != StatusCode::kPermissionDenied) {
        return repo;
      }
      device_error = repo.status();
    }
  }
  if (!options_.recovery_code_file.empty()) {
    ASSIGN_OR_RETURN(crypto::SecretBytes text,
                     ReadSecretFile(options_.recovery_code_file));
    ASSIGN_OR_RETURN(crypto::RecoveryCode code,
                     crypto::RecoveryCode::Parse(text.chars()));
    return backup::Repository::OpenWithRecoveryCode(backend, code);
  }
  PassphraseRequest request;
  request.password_file = options_.password_file;
  request.label = "Repository passphrase";
  Result<crypto::SecretBytes> passphrase = GetPassphrase(request);
  // A device that holds no key and has no passphrase to offer: say why the
  // device's key did not open it.
  if (!passphrase.ok() && !device_error.ok() &&
      passphrase.status().code() == StatusCode::kUnavailable) {
    return device_error;
  }
  RETURN_IF_ERROR(passphrase.status());
  return backup::Repository::OpenWithPassphrase(backend, passphrase->view());
}

int Fail(const Status& status) {
  std::cerr << "chatvault: " << status.message() << "\n";
  return ExitCodeFor(status);
}

int64_t ParseDurationSeconds(std::string_view text) {
  size_t i = 0;
  int64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    n = n * 10 + (text[i++] - '0');
    if (n > 1000000) return -1;
  }
  const std::string_view unit = text.substr(i);
  const int64_t s = unit == "s"                ? 1
                    : unit == "min"            ? 60
                    : unit == "h"              ? 3600
                    : unit == "d"              ? 86400
                    : (unit.empty() && n == 0) ? 1
                                               : 0;
  return i > 0 && s > 0 ? n * s : -1;
}

std::string HumanBytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

Status WriteRecoveryCodeFile(const std::string& path, std::string_view code) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    Status s = StatusFromErrno(
        errno, "cannot create recovery-code file '" + path + "'");
    if (errno == EEXIST) {
      return Status::AlreadyExists(
          "'" + path + "' exists; choose a new file for the recovery code");
    }
    return s;
  }
  std::string content(code);
  content += "\n";
  ssize_t w = ::write(fd, content.data(), content.size());
  int err = errno;
  crypto::SecureZero(MutableByteView(
      reinterpret_cast<std::byte*>(content.data()), content.size()));
  if (w != static_cast<ssize_t>(content.size()) || ::fsync(fd) != 0) {
    ::close(fd);
    ::unlink(path.c_str());
    return StatusFromErrno(w < 0 ? err : EIO, "cannot write '" + path + "'");
  }
  ::close(fd);
  return Status::OK();
}

}  // namespace chatvault::cli
