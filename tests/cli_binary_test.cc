// Runs the built chatvault binary as a user would.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace {

struct Output {
  int exit_code = -1;
  std::string text;  // stdout and stderr
};

Output RunChatvault(const std::string& args) {
  std::string cmd = std::string(CHATVAULT_BINARY) + " " + args + " 2>&1";
  Output out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    out.text.append(buf.data(), n);
  int status = pclose(p);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

TEST(CliBinaryTest, HelpListsGlobalOptionsAndExitCodes) {
  Output o = RunChatvault("--help");
  EXPECT_EQ(o.exit_code, 0);
  for (const char* want :
       {"--repo", "--password-file", "--recovery-code-file", "--json",
        "--quiet", "Exit status:", "wrong passphrase"}) {
    EXPECT_NE(o.text.find(want), std::string::npos) << want << "\n" << o.text;
  }
}

TEST(CliBinaryTest, Version) {
  Output o = RunChatvault("--version");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.text.rfind("chatvault ", 0), 0u) << o.text;
}

TEST(CliBinaryTest, UnknownOptionIsAUsageError) {
  Output o = RunChatvault("--no-such-option");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.text.find("no-such-option"), std::string::npos) << o.text;
}

TEST(CliBinaryTest, PasswordIsNotAcceptedOnTheCommandLine) {
  // There is deliberately no --password option: secrets never go in argv.
  Output o = RunChatvault("--password hunter2");
  EXPECT_EQ(o.exit_code, 2);
}

}  // namespace
