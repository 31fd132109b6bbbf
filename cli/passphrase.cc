#include "cli/passphrase.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/errno.h"

namespace chatvault::cli {
namespace {

using crypto::SecretBytes;

// Drops one trailing "\n" or "\r\n"; returns the new length.
size_t TrimNewline(const std::byte* data, size_t n) {
  if (n > 0 && data[n - 1] == std::byte{'\n'}) --n;
  if (n > 0 && data[n - 1] == std::byte{'\r'}) --n;
  return n;
}

Status WriteAll(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t w = ::write(fd, s.data(), s.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      return StatusFromErrno(errno, "cannot write to the terminal");
    }
    s.remove_prefix(static_cast<size_t>(w));
  }
  return Status::OK();
}

// The terminal whose echo we turned off, for the signal handler to restore.
volatile sig_atomic_t g_restore_fd = -1;
struct termios g_saved_termios;

extern "C" void RestoreTerminalAndReraise(int sig) {
  if (g_restore_fd >= 0) tcsetattr(g_restore_fd, TCSAFLUSH, &g_saved_termios);
  signal(sig, SIG_DFL);
  raise(sig);
}

// Turns echo off on construction and restores the terminal on destruction
// or on SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGTSTP.
class EchoOff {
 public:
  explicit EchoOff(int fd) : fd_(fd) {
    if (tcgetattr(fd, &saved_) != 0) return;
    g_saved_termios = saved_;
    g_restore_fd = fd;
    struct sigaction sa {};
    sa.sa_handler = RestoreTerminalAndReraise;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < kSignals.size(); ++i) {
      sigaction(kSignals[i], &sa, &old_actions_[i]);
    }
    struct termios t = saved_;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK);
    t.c_lflag |= ICANON;
    active_ = tcsetattr(fd, TCSAFLUSH, &t) == 0;
  }
  ~EchoOff() {
    if (g_restore_fd < 0) return;
    if (active_) tcsetattr(fd_, TCSAFLUSH, &saved_);
    g_restore_fd = -1;
    for (size_t i = 0; i < kSignals.size(); ++i) {
      sigaction(kSignals[i], &old_actions_[i], nullptr);
    }
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  static constexpr std::array<int, 5> kSignals = {SIGINT, SIGTERM, SIGHUP,
                                                  SIGQUIT, SIGTSTP};
  int fd_;
  bool active_ = false;
  struct termios saved_ {};
  std::array<struct sigaction, kSignals.size()> old_actions_{};
};

// Reads one line from `fd` into locked memory, without the newline.
Result<SecretBytes> ReadLine(int fd) {
  SecretBytes buf(kMaxPassphraseBytes + 1);
  size_t n = 0;
  for (;;) {
    char c;
    ssize_t r = ::read(fd, &c, 1);
    if (r < 0) {
      if (errno == EINTR) continue;
      return StatusFromErrno(errno, "cannot read from the terminal");
    }
    if (r == 0) {
      if (n == 0) return Status::Cancelled("no passphrase entered");
      break;
    }
    if (c == '\n') break;
    if (n == buf.size()) {
      return Status::InvalidArgument(
          "passphrase is longer than 4096 bytes; use a shorter one");
    }
    buf.data()[n++] = static_cast<std::byte>(c);
    c = 0;
  }
  n = TrimNewline(buf.data(), n);
  if (n > kMaxPassphraseBytes) {
    return Status::InvalidArgument(
        "passphrase is longer than 4096 bytes; use a shorter one");
  }
  return SecretBytes::CopyFrom(ByteView(buf.data(), n));
}

Result<SecretBytes> PromptOnce(int fd, std::string_view prompt) {
  RETURN_IF_ERROR(WriteAll(fd, prompt));
  Result<SecretBytes> line = [&] {
    EchoOff echo_off(fd);
    return ReadLine(fd);
  }();
  // The newline the person typed was not echoed.
  RETURN_IF_ERROR(WriteAll(fd, "\n"));
  return line;
}

Status CheckNew(const SecretBytes& passphrase) {
  if (passphrase.empty()) {
    return Status::InvalidArgument(
        "an empty passphrase protects nothing; choose a passphrase");
  }
  return Status::OK();
}

}  // namespace

Result<SecretBytes> ReadSecretFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return StatusFromErrno(errno, "cannot open '" + path + "'");
  }
  SecretBytes buf(kMaxPassphraseBytes + 2);  // room for "\r\n"
  size_t n = 0;
  Status status;
  for (;;) {
    if (n == buf.size()) {
      status = Status::InvalidArgument(
          "'" + path + "' is longer than 4096 bytes; a passphrase or " +
          "recovery-code file holds only the secret");
      break;
    }
    ssize_t r = ::read(fd, buf.data() + n, buf.size() - n);
    if (r < 0) {
      if (errno == EINTR) continue;
      status = StatusFromErrno(errno, "cannot read '" + path + "'");
      break;
    }
    if (r == 0) break;
    n += static_cast<size_t>(r);
  }
  ::close(fd);
  RETURN_IF_ERROR(status);
  n = TrimNewline(buf.data(), n);
  if (n > kMaxPassphraseBytes) {
    return Status::InvalidArgument("'" + path +
                                   "' holds more than 4096 bytes of secret");
  }
  return SecretBytes::CopyFrom(ByteView(buf.data(), n));
}

Result<SecretBytes> PromptOnTerminal(int tty_fd, std::string_view prompt,
                                     bool confirm) {
  ASSIGN_OR_RETURN(SecretBytes first, PromptOnce(tty_fd, prompt));
  if (!confirm) return first;
  RETURN_IF_ERROR(CheckNew(first));
  std::string again = "Repeat ";
  again += prompt;
  ASSIGN_OR_RETURN(SecretBytes second, PromptOnce(tty_fd, again));
  if (!crypto::ConstantTimeEquals(first.view(), second.view())) {
    return Status::InvalidArgument(
        "the two passphrases differ; nothing was changed, try again");
  }
  return first;
}

Result<SecretBytes> GetPassphrase(const PassphraseRequest& request,
                                  const GetEnvFn& getenv) {
  auto from_file = [&](const std::string& path,
                       std::string_view origin) -> Result<SecretBytes> {
    Result<SecretBytes> r = ReadSecretFile(path);
    if (!r.ok()) return r.status().WithContext(origin);
    if (r->empty()) {
      return Status::InvalidArgument(std::string(origin) + ": '" + path +
                                     "' is empty; write the passphrase in it");
    }
    return r;
  };
  Result<SecretBytes> result = Status::Unavailable("no passphrase");
  if (!request.password_file.empty()) {
    result = from_file(request.password_file, "--password-file");
  } else if (const char* f = getenv("CHATVAULT_PASSWORD_FILE"); f && *f) {
    result = from_file(f, "CHATVAULT_PASSWORD_FILE");
  } else if (const char* p = getenv("CHATVAULT_PASSWORD"); p != nullptr) {
    size_t len = std::strlen(p);
    if (len > kMaxPassphraseBytes) {
      return Status::InvalidArgument(
          "CHATVAULT_PASSWORD is longer than 4096 bytes");
    }
    result = SecretBytes::CopyFrom(AsBytes(std::string_view(p, len)));
  } else {
    int tty = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (tty < 0) {
      return Status::Unavailable(
          "a passphrase is needed and there is no terminal to ask on: set "
          "CHATVAULT_PASSWORD or CHATVAULT_PASSWORD_FILE, or pass "
          "--password-file FILE");
    }
    std::string prompt(request.label);
    prompt += request.is_new ? " (new): " : ": ";
    result = PromptOnTerminal(tty, prompt, request.is_new);
    ::close(tty);
  }
  if (result.ok() && request.is_new) RETURN_IF_ERROR(CheckNew(*result));
  return result;
}

Result<SecretBytes> GetPassphrase(const PassphraseRequest& request) {
  return GetPassphrase(request,
                       [](const char* name) { return std::getenv(name); });
}

}  // namespace chatvault::cli
