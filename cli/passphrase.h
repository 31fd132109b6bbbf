// Getting the passphrase from the person or script running chatvault,
// without it ever passing through argv, logs or error messages.
//
// Sources, first match wins:
//   1. --password-file FILE   (the whole file; one trailing newline dropped)
//   2. CHATVAULT_PASSWORD_FILE (same, for scheduled runs)
//   3. CHATVAULT_PASSWORD      (the variable's value; the process wipes it
//                               from its environment once read)
//   4. a prompt on the controlling terminal with echo off; a new passphrase
//      is asked twice and must match
// With none of these, the error says which to provide.
//
// Thread-safety: GetPassphrase reads the environment and may own the
// terminal; call it from one thread.
#ifndef CHATVAULT_CLI_PASSPHRASE_H_
#define CHATVAULT_CLI_PASSPHRASE_H_

#include <functional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace chatvault::cli {

// Longest passphrase accepted from any source.
inline constexpr size_t kMaxPassphraseBytes = 4096;

struct PassphraseRequest {
  // From --password-file; empty when not given.
  std::string password_file;
  // Creating a passphrase: ask twice on a terminal, refuse an empty one.
  bool is_new = false;
  // What the passphrase is for, shown in the prompt ("Repository
  // passphrase").
  std::string_view label = "Passphrase";
};

// Looks environment variables up; injectable for tests.
using GetEnvFn = std::function<const char*(const char*)>;

// Returns the passphrase from the first available source (see above).
// Errors: NotFound/PermissionDenied for an unreadable password file,
// InvalidArgument for an empty or too long passphrase or a mismatched
// confirmation, Unavailable when no source is available (the message says
// how to provide one), Cancelled on end of input at the prompt.
Result<crypto::SecretBytes> GetPassphrase(const PassphraseRequest& request,
                                          const GetEnvFn& getenv);
Result<crypto::SecretBytes> GetPassphrase(const PassphraseRequest& request);

// Reads a passphrase file: its whole content, minus one trailing "\n" or
// "\r\n". Used for recovery-code files too.
Result<crypto::SecretBytes> ReadSecretFile(const std::string& path);

// Prompts on the terminal `tty_fd` (read and written) with echo turned off,
// restoring the terminal's settings afterwards. A signal during the prompt
// (Ctrl-C, Ctrl-Z, hang-up) is delivered only after the terminal is
// restored; after a stop and `fg` the prompt is shown again.
// With `confirm`, asks a second time and fails if the answers differ.
Result<crypto::SecretBytes> PromptOnTerminal(int tty_fd,
                                             std::string_view prompt,
                                             bool confirm);

}  // namespace chatvault::cli

#endif  // CHATVAULT_CLI_PASSPHRASE_H_
