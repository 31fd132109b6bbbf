#include "cli/passphrase.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <string>

namespace chatvault::cli {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "cvpassXXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& content) {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  std::string path_;
};

GetEnvFn Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(PassphraseTest, FileDropsOneTrailingNewline) {
  TempDir dir;
  EXPECT_EQ(ReadSecretFile(dir.Write("a", "pass phrase\n"))->chars(),
            "pass phrase");
  EXPECT_EQ(ReadSecretFile(dir.Write("b", "pass\r\n"))->chars(), "pass");
  EXPECT_EQ(ReadSecretFile(dir.Write("c", "pass\n\n"))->chars(), "pass\n");
  EXPECT_EQ(ReadSecretFile(dir.Write("d", " pass "))->chars(), " pass ");
  // Regression: a lone trailing "\r" was dropped too.
  EXPECT_EQ(ReadSecretFile(dir.Write("e", "pass\r"))->chars(), "pass\r");
}

TEST(PassphraseTest, FileOfExactlyMaximumLengthPlusCrLfIsAccepted) {
  // Regression: 4096 bytes followed by "\r\n" filled the buffer and was
  // refused as too long.
  TempDir dir;
  std::string longest(kMaxPassphraseBytes, 'x');
  Result<crypto::SecretBytes> r =
      ReadSecretFile(dir.Write("max", longest + "\r\n"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->size(), kMaxPassphraseBytes);
  EXPECT_FALSE(ReadSecretFile(dir.Write("over", longest + "y\n")).ok());
}

TEST(PassphraseTest, FileErrors) {
  TempDir dir;
  Result<crypto::SecretBytes> missing = ReadSecretFile("/nonexistent/pw");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/pw"),
            std::string_view::npos);
  std::string big(5000, 'x');
  EXPECT_EQ(ReadSecretFile(dir.Write("big", big)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(PassphraseTest, SourcesInOrder) {
  TempDir dir;
  std::string flag_file = dir.Write("flag", "from-flag\n");
  std::string env_file = dir.Write("env", "from-env-file\n");
  PassphraseRequest req;
  req.password_file = flag_file;
  auto all = Env({{"CHATVAULT_PASSWORD_FILE", env_file},
                  {"CHATVAULT_PASSWORD", "from-env"}});
  EXPECT_EQ(GetPassphrase(req, all)->chars(), "from-flag");
  req.password_file.clear();
  EXPECT_EQ(GetPassphrase(req, all)->chars(), "from-env-file");
  EXPECT_EQ(
      GetPassphrase(req, Env({{"CHATVAULT_PASSWORD", "from-env"}}))->chars(),
      "from-env");
}

TEST(PassphraseTest, ErrorsNameTheSourceNeverTheSecret) {
  TempDir dir;
  PassphraseRequest req;
  req.password_file = dir.Write("empty", "");
  Result<crypto::SecretBytes> r = GetPassphrase(req, Env({}));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("--password-file"),
            std::string_view::npos);

  req.password_file = "/nonexistent/pw";
  r = GetPassphrase(req, Env({}));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);

  r = GetPassphrase(PassphraseRequest{}, Env({{"CHATVAULT_PASSWORD", ""}}));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);

  PassphraseRequest create;
  create.is_new = true;
  create.password_file = dir.Write("blank-line", "\n");
  r = GetPassphrase(create, Env({}));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

// A pseudo-terminal stands in for the person at the keyboard.
class PtyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(openpty(&master_, &slave_, nullptr, nullptr, nullptr), 0);
  }
  void TearDown() override {
    close(master_);
    close(slave_);
  }
  // Everything the program wrote to the terminal so far (and its echo).
  std::string Drain() {
    std::string out;
    char buf[256];
    for (;;) {
      pollfd p{master_, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) break;
      ssize_t n = read(master_, buf, sizeof(buf));
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  void Type(const std::string& s) {
    ASSERT_EQ(write(master_, s.data(), s.size()),
              static_cast<ssize_t>(s.size()));
  }
  bool EchoIsOn() {
    termios t{};
    tcgetattr(slave_, &t);
    return (t.c_lflag & ECHO) != 0;
  }

  int master_ = -1;
  int slave_ = -1;
};

TEST_F(PtyTest, PromptsWithoutEchoAndRestoresTerminal) {
  ASSERT_TRUE(EchoIsOn());
  auto answer = std::async(std::launch::async, [&] {
    return PromptOnTerminal(slave_, "Passphrase: ", false);
  });
  std::string prompt;
  while (prompt.find("Passphrase: ") == std::string::npos) prompt += Drain();
  Type("hunter2 is secret\n");
  Result<crypto::SecretBytes> r = answer.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->chars(), "hunter2 is secret");
  std::string screen = prompt + Drain();
  EXPECT_EQ(screen.find("hunter2"), std::string::npos) << screen;
  EXPECT_TRUE(EchoIsOn());
}

TEST_F(PtyTest, NewPassphraseIsAskedTwiceAndMustMatch) {
  auto answer = std::async(std::launch::async, [&] {
    return PromptOnTerminal(slave_, "Passphrase: ", true);
  });
  std::string screen;
  while (screen.find("Passphrase: ") == std::string::npos) screen += Drain();
  Type("first try\n");
  while (screen.find("Repeat Passphrase: ") == std::string::npos) {
    screen += Drain();
  }
  Type("first trx\n");
  Result<crypto::SecretBytes> r = answer.get();
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("differ"), std::string_view::npos);
  EXPECT_EQ((screen + Drain()).find("first"), std::string::npos);
  EXPECT_TRUE(EchoIsOn());
}

TEST_F(PtyTest, MatchingConfirmationSucceeds) {
  auto answer = std::async(std::launch::async, [&] {
    return PromptOnTerminal(slave_, "Passphrase: ", true);
  });
  std::string screen;
  while (screen.find("Passphrase: ") == std::string::npos) screen += Drain();
  Type("same words\n");
  while (screen.find("Repeat") == std::string::npos) screen += Drain();
  Type("same words\n");
  Result<crypto::SecretBytes> r = answer.get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->chars(), "same words");
}

TEST(PassphraseTest, EnvironmentValueIsWipedAfterReading) {
  setenv("CHATVAULT_PASSWORD", "wipe me", 1);
  char* original = std::getenv("CHATVAULT_PASSWORD");
  Result<crypto::SecretBytes> r = GetPassphrase(PassphraseRequest{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->chars(), "wipe me");
  EXPECT_EQ(std::getenv("CHATVAULT_PASSWORD"), nullptr);
  EXPECT_EQ(original[0], '\0');
}

// Regression: on Ctrl-Z the handler re-enabled echo and stopped the process,
// and after `fg` the prompt went on reading with echo on. Now the prompt
// restores the terminal, delivers the stop, and asks again with echo off.
TEST_F(PtyTest, StopAndContinueAsksAgainWithEchoOff) {
  // Stand-in for the default stop action: observe the signal instead.
  static volatile sig_atomic_t stopped = 0;
  struct sigaction sa {
  }, old{};
  sa.sa_handler = [](int) { stopped = 1; };
  sigaction(SIGTSTP, &sa, &old);
  pthread_t prompt_thread{};
  auto answer = std::async(std::launch::async, [&] {
    prompt_thread = pthread_self();
    return PromptOnTerminal(slave_, "Passphrase: ", false);
  });
  std::string screen;
  while (screen.find("Passphrase: ") == std::string::npos) screen += Drain();
  ASSERT_FALSE(EchoIsOn());
  pthread_kill(prompt_thread, SIGTSTP);
  // The prompt is shown a second time once the signal has been handled.
  screen.clear();
  while (screen.find("Passphrase: ") == std::string::npos) screen += Drain();
  EXPECT_EQ(stopped, 1);
  Type("after fg\n");
  Result<crypto::SecretBytes> r = answer.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->chars(), "after fg");
  EXPECT_EQ((screen + Drain()).find("after fg"), std::string::npos);
  EXPECT_TRUE(EchoIsOn());
  sigaction(SIGTSTP, &old, nullptr);
}

TEST_F(PtyTest, EndOfInputIsCancelled) {
  auto answer = std::async(std::launch::async, [&] {
    return PromptOnTerminal(slave_, "Passphrase: ", false);
  });
  std::string screen;
  while (screen.find("Passphrase: ") == std::string::npos) screen += Drain();
  Type("\x04");  // Ctrl-D on an empty line
  EXPECT_EQ(answer.get().status().code(), StatusCode::kCancelled);
  EXPECT_TRUE(EchoIsOn());
}

}  // namespace
}  // namespace chatvault::cli
