#include "cli/app.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "cli/exit_codes.h"

namespace chatvault::cli {

void HardenProcess() {
  // Key material lives in locked, MADV_DONTDUMP memory already; this also
  // keeps the rest of the heap (plaintext chat data) out of core files.
  struct rlimit none {};
  if (setrlimit(RLIMIT_CORE, &none) != 0 ||
      prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    std::cerr << "chatvault: warning: cannot disable core dumps; memory "
                 "holding chat data could end up in a core file\n";
  }
}

int Run(int argc, char** argv) {
  CLI::App app{
      "chatvault: end-to-end encrypted, deduplicating backup and multi-device "
      "sync for chat history.",
      "chatvault"};
  app.set_version_flag("-V,--version", "chatvault " CHATVAULT_VERSION);
  app.footer(std::string(ExitCodeHelp()));

  std::string repo;
  std::string password_file;
  std::string recovery_code_file;
  bool json = false;
  bool quiet = false;
  app.add_option("-r,--repo", repo,
                 "Repository: a directory, or s3:http[s]://HOST[:PORT]/BUCKET"
                 "[/PREFIX]")
      ->envname("CHATVAULT_REPO");
  app.add_option("--password-file", password_file,
                 "Read the passphrase from FILE (else CHATVAULT_PASSWORD_FILE, "
                 "CHATVAULT_PASSWORD, or a prompt)");
  app.add_option("--recovery-code-file", recovery_code_file,
                 "Read or write the recovery code in FILE");
  app.add_flag("--json", json, "Machine-readable output");
  app.add_flag("-q,--quiet", quiet, "Print only errors");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  // Commands are added here as the library grows; until one is named,
  // show what there is.
  std::cout << app.help();
  return kExitOk;
}

}  // namespace chatvault::cli
