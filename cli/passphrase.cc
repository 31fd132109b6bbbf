#include "cli/passphrase.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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

// Drops one trailing "\n" or "\r\n"; returns the new length. A lone "\r"
// stays: it is part of the secret, as it would be in CHATVAULT_PASSWORD.
size_t TrimNewline(const std::byte* data, size_t n) {
  if (n == 0 || data[n - 1] != std::byte{'\n'}) return n;
  --n;
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

// The signal that interrupted a prompt. The handler only records it: the
// prompt restores the terminal itself, then re-sends the signal with the
// previous disposition in place (as OpenSSH's readpassphrase does), so that
// a Ctrl-Z stops the process with echo back on and a `fg` asks again.
volatile sig_atomic_t g_caught_signal = 0;

extern "C" void RecordSignal(int sig) { g_caught_signal = sig; }

constexpr std::array<int, 7> kPromptSignals = {
    SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU};

// Turns echo off and routes the signals above to RecordSignal for its
// lifetime; restores the terminal and the previous handlers on destruction.
// Signals that were ignored stay ignored.
class EchoOff {
 public:
  explicit EchoOff(int fd) : fd_(fd) {
    g_caught_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = RecordSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: read(2) must return EINTR
    for (size_t i = 0; i < kPromptSignals.size(); ++i) {
      sigaction(kPromptSignals[i], nullptr, &old_actions_[i]);
      if (old_actions_[i].sa_handler != SIG_IGN) {
        sigaction(kPromptSignals[i], &sa, nullptr);
      }
    }
    if (tcgetattr(fd, &saved_) != 0) return;
    struct termios t = saved_;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK);
    t.c_lflag |= ICANON;
    active_ = tcsetattr(fd, TCSAFLUSH, &t) == 0;
  }
  ~EchoOff() {
    if (active_) tcsetattr(fd_, TCSAFLUSH, &saved_);
    for (size_t i = 0; i < kPromptSignals.size(); ++i) {
      sigaction(kPromptSignals[i], &old_actions_[i], nullptr);
    }
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  int fd_;
  bool active_ = false;
  struct termios saved_ {};
  std::array<struct sigaction, kPromptSignals.size()> old_actions_{};
};

// Reads one line from `fd` into locked memory, without the newline.
// Cancelled when one of kPromptSignals arrives. Those signals stay blocked
// except inside ppoll(2), which unblocks them atomically while it waits, so
// a signal arriving at any moment interrupts the wait instead of being
// recorded just before a read that would then block.
Result<SecretBytes> ReadLine(int fd) {
  sigset_t prompt_signals, wait_mask;
  sigemptyset(&prompt_signals);
  for (int sig : kPromptSignals) sigaddset(&prompt_signals, sig);
  pthread_sigmask(SIG_BLOCK, &prompt_signals, &wait_mask);
  struct Unblock {
    sigset_t mask;
    ~Unblock() { pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
  } unblock{wait_mask};
  for (int sig : kPromptSignals) sigdelset(&wait_mask, sig);

  SecretBytes buf(kMaxPassphraseBytes + 1);
  size_t n = 0;
  for (;;) {
    if (g_caught_signal != 0) return Status::Cancelled("interrupted");
    struct pollfd p {};
    p.fd = fd;
    p.events = POLLIN;
    if (::ppoll(&p, 1, nullptr, &wait_mask) < 0) {
      if (errno == EINTR) continue;
      return StatusFromErrno(errno, "cannot wait for the terminal");
    }
    char c;
    ssize_t r = ::read(fd, &c, 1);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
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
  if (n > kMaxPassphraseBytes) {
    return Status::InvalidArgument(
        "passphrase is longer than 4096 bytes; use a shorter one");
  }
  return SecretBytes::CopyFrom(ByteView(buf.data(), n));
}

Result<SecretBytes> PromptOnce(int fd, std::string_view prompt) {
  for (;;) {
    int signal_number = 0;
    Result<SecretBytes> line = [&]() -> Result<SecretBytes> {
      // Echo goes off before the prompt appears, so that nothing typed
      // after seeing it is echoed.
      EchoOff echo_off(fd);
      RETURN_IF_ERROR(WriteAll(fd, prompt));
      Result<SecretBytes> r = ReadLine(fd);
      signal_number = g_caught_signal;
      return r;
    }();
    // The newline the person typed was not echoed.
    RETURN_IF_ERROR(WriteAll(fd, "\n"));
    if (signal_number == 0) return line;
    // Terminal and handlers are restored: deliver the signal as it would
    // have been delivered without us. A stop signal returns here once the
    // process is continued, and the prompt starts again with echo off.
    // raise(3) targets this thread, so the signal is handled before it
    // returns, not later in another thread while the prompt runs again.
    ::raise(signal_number);
    if (signal_number != SIGTSTP && signal_number != SIGTTIN &&
        signal_number != SIGTTOU) {
      return Status::Cancelled("passphrase prompt interrupted");
    }
  }
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
  // Room for the longest secret, "\r\n", and one more byte to tell a file
  // that is too long from one that fits exactly.
  SecretBytes buf(kMaxPassphraseBytes + 3);
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
    if (len == 0) {
      return Status::InvalidArgument(
          "CHATVAULT_PASSWORD is set but empty; set it to the passphrase or "
          "unset it to be asked");
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
  Result<SecretBytes> r = GetPassphrase(
      request, [](const char* name) { return std::getenv(name); });
  // The variable's value has been copied to locked memory: wipe it from the
  // environment block, where it would otherwise stay for the life of the
  // process and be inherited by any child.
  if (char* p = std::getenv("CHATVAULT_PASSWORD"); p != nullptr) {
    crypto::SecureZero(
        MutableByteView(reinterpret_cast<std::byte*>(p), std::strlen(p)));
    ::unsetenv("CHATVAULT_PASSWORD");
  }
  return r;
}

}  // namespace chatvault::cli
