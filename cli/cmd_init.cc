// chatvault init: create a repository and show its recovery code once.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/errno.h"
#include "cli/commands.h"
#include "cli/passphrase.h"
#include "crypto/argon2.h"

namespace chatvault::cli {
namespace {

constexpr uint64_t kMinAverageChunk = 16 << 10;
constexpr uint64_t kMaxAverageChunk = 8 << 20;

// "512K", "1M", "1048576" → bytes; 0 if malformed.
uint64_t ParseSize(const std::string& text) {
  size_t end = 0;
  uint64_t n = 0;
  while (end < text.size() && text[end] >= '0' && text[end] <= '9') {
    if (n > (uint64_t{1} << 40)) return 0;
    n = n * 10 + static_cast<uint64_t>(text[end++] - '0');
  }
  if (end == 0) return 0;
  std::string unit = text.substr(end);
  if (unit.empty() || unit == "B") return n;
  if (unit == "K" || unit == "KiB") return n << 10;
  if (unit == "M" || unit == "MiB") return n << 20;
  if (unit == "G" || unit == "GiB") return n << 30;
  return 0;
}

struct InitArgs {
  std::string chunk_size;
  std::string kdf_memory;
  uint32_t sqlite_pages = 1;
};

int RunInit(Context& ctx, const InitArgs& args) {
  backup::InitOptions init;
  if (!args.chunk_size.empty()) {
    const uint64_t avg = ParseSize(args.chunk_size);
    if (avg < kMinAverageChunk || avg > kMaxAverageChunk) {
      return Fail(Status::InvalidArgument(
          "--chunk-size wants an average chunk size from 16K to 8M (e.g. "
          "512K or 1M), not '" +
          args.chunk_size + "'"));
    }
    init.chunker.avg_size = static_cast<uint32_t>(avg);
    init.chunker.min_size = static_cast<uint32_t>(avg / 4);
    init.chunker.max_size = static_cast<uint32_t>(avg * 4);
  }
  if (args.sqlite_pages < 1 ||
      args.sqlite_pages > backup::kMaxSqlitePagesPerBlob) {
    return Fail(Status::InvalidArgument(
        "--sqlite-pages wants 1 to " +
        std::to_string(backup::kMaxSqlitePagesPerBlob)));
  }
  init.sqlite_pages_per_blob = args.sqlite_pages;
  if (!args.kdf_memory.empty()) {
    const uint64_t bytes = ParseSize(args.kdf_memory);
    if (bytes < uint64_t{crypto::kArgon2MinMCostKib} << 10 ||
        bytes > uint64_t{crypto::kArgon2MaxMCostKib} << 10) {
      return Fail(Status::InvalidArgument(
          "--kdf-memory wants 64M to 2048M (e.g. 64M for a device with "
          "little memory), not '" +
          args.kdf_memory + "'"));
    }
    init.kdf.m_cost_kib = static_cast<uint32_t>(bytes >> 10);
  }
  Result<storage::Backend*> backend = ctx.Backend();
  if (!backend.ok()) return Fail(backend.status());
  PassphraseRequest request;
  request.password_file = ctx.options().password_file;
  request.is_new = true;
  request.label = "New repository passphrase";
  Result<crypto::SecretBytes> passphrase = GetPassphrase(request);
  if (!passphrase.ok()) return Fail(passphrase.status());

  crypto::RecoveryCode code = crypto::RecoveryCode::Generate();
  crypto::SecretBytes code_text = code.Format();
  // Write the code file first: a repository whose code was never recorded
  // would have only the passphrase to open it.
  const std::string& code_file = ctx.options().recovery_code_file;
  if (!code_file.empty()) {
    Status s = WriteRecoveryCodeFile(code_file, code_text.chars());
    if (!s.ok()) return Fail(s);
  }
  Result<std::unique_ptr<backup::Repository>> repo =
      backup::Repository::Init(*backend, passphrase->view(), code, init);
  if (!repo.ok()) {
    if (!code_file.empty()) ::unlink(code_file.c_str());
    return Fail(repo.status());
  }
  const std::string id =
      HexEncode((*repo)->keys().repository_id()).substr(0, 16);
  if (ctx.options().json) {
    nlohmann::json j = {{"repository", ctx.location()}, {"id", id}};
    if (code_file.empty()) {
      j["recovery_code"] = std::string(code_text.chars());
    } else {
      j["recovery_code_file"] = code_file;
    }
    std::cout << j.dump() << "\n";
    return kExitOk;
  }
  std::ostream& out = ctx.out();
  out << "Created chatvault repository " << id << " at " << ctx.location()
      << "\n";
  if (code_file.empty()) {
    // The code is the point of this output: shown even with --quiet.
    std::cout
        << "\nRecovery code (shown once; it opens the repository without the "
           "passphrase — write it down and keep it safe):\n\n    "
        << code_text.chars() << "\n\n";
  } else {
    out << "Recovery code written to " << code_file
        << " (mode 0600); keep a copy away from this machine.\n";
  }
  return kExitOk;
}

}  // namespace

void AddInitCommand(CLI::App& app, Context& ctx, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "init",
      "Create a repository; prints the recovery code once (or writes it to "
      "--recovery-code-file)");
  auto args = std::make_shared<InitArgs>();
  cmd->add_option("--chunk-size", args->chunk_size,
                  "Average chunk size, 16K to 8M (default 1M); chunks range "
                  "from a quarter of it to four times it. Fixed for the "
                  "repository's life");
  cmd->add_option("--sqlite-pages", args->sqlite_pages,
                  "SQLite database pages per blob, 1 to 64 (default 1: a "
                  "day's scattered page writes store only those pages). "
                  "Fixed for the repository's life");
  cmd->add_option("--kdf-memory", args->kdf_memory,
                  "Memory the passphrase's Argon2id derivation uses on every "
                  "unlock, 64M to 2048M (default 256M); lower it for devices "
                  "with little memory");
  cmd->callback([&ctx, &exit_code, args] { exit_code = RunInit(ctx, *args); });
}

}  // namespace chatvault::cli
