// chatvault key list | key passwd | recovery-code regenerate.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/passphrase.h"
#include "crypto/recovery_code.h"
#include "sync/account.h"

namespace chatvault::cli {
namespace {

const char* KindName(pb::HolderKind kind) {
  switch (kind) {
    case pb::HOLDER_KIND_PASSPHRASE:
      return "passphrase";
    case pb::HOLDER_KIND_RECOVERY_CODE:
      return "recovery-code";
    case pb::HOLDER_KIND_DEVICE:
      return "device";
    default:
      return "unknown";
  }
}

int RunKeyList(Context& ctx) {
  Result<std::unique_ptr<backup::Repository>> repo = ctx.OpenRepository();
  if (!repo.ok()) return Fail(repo.status());
  Result<std::vector<backup::Repository::Holder>> holders =
      (*repo)->ListHolders();
  if (!holders.ok()) return Fail(holders.status());
  if (ctx.options().json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& h : *holders) {
      arr.push_back({{"id", h.name.substr(5)},
                     {"kind", KindName(h.kind)},
                     {"created_unix_ms", h.created_unix_ms},
                     {"kdf_memory_kib", h.kdf_memory_kib},
                     {"current", h.opened_this}});
    }
    std::cout << arr.dump() << "\n";
    return kExitOk;
  }
  std::ostream& out = ctx.out();
  for (const auto& h : *holders) {
    out << (h.opened_this ? "* " : "  ") << h.name.substr(5, 16) << "  "
        << KindName(h.kind) << "  created "
        << LocalTimeString(h.created_unix_ms);
    if (h.kind == pb::HOLDER_KIND_PASSPHRASE) {
      out << "  Argon2id " << h.kdf_memory_kib / 1024 << " MiB";
    }
    out << "\n";
  }
  out << "(* opened this session)\n";
  return kExitOk;
}

int RunKeyPasswd(Context& ctx, const std::string& new_password_file) {
  Result<std::unique_ptr<backup::Repository>> repo =
      ctx.OpenRepository(/*account_key=*/true);
  if (!repo.ok()) return Fail(repo.status());
  // The new passphrase never comes from the variables that gave the old
  // one: CHATVAULT_NEW_PASSWORD(_FILE) stand in for them.
  PassphraseRequest request;
  request.password_file = new_password_file;
  request.is_new = true;
  request.label = "New repository passphrase";
  Result<crypto::SecretBytes> passphrase =
      GetPassphrase(request, [](const char* name) -> const char* {
        const std::string n = name;
        if (n == "CHATVAULT_PASSWORD")
          return std::getenv("CHATVAULT_NEW_PASSWORD");
        if (n == "CHATVAULT_PASSWORD_FILE") {
          return std::getenv("CHATVAULT_NEW_PASSWORD_FILE");
        }
        return std::getenv(name);
      });
  if (!passphrase.ok()) return Fail(passphrase.status());
  Status s = (*repo)->ChangePassphrase(passphrase->view());
  if (!s.ok()) return Fail(s);
  if (ctx.options().json) {
    std::cout << nlohmann::json{{"changed", true}}.dump() << "\n";
  } else {
    ctx.out() << "Passphrase changed: the old one no longer opens "
              << ctx.location()
              << "; the recovery code still does. Update scheduled runs' "
                 "password files.\n";
  }
  return kExitOk;
}

int RunRotate(Context& ctx) {
  Result<std::unique_ptr<backup::Repository>> repo =
      ctx.OpenRepository(/*account_key=*/true);
  if (!repo.ok()) return Fail(repo.status());
  Result<uint32_t> epoch = (*repo)->RotateKeys();
  // This device must not accept the old epoch again (a config rolled
  // back by someone who could read it).
  if (epoch.ok()) sync::CheckWriteEpoch(ctx.home(), repo->get()).IgnoreError();
  if (!epoch.ok()) {
    return Fail(epoch.status().WithContext(
        "rotation did not finish; new data stays under the old key until "
        "`chatvault key rotate` completes"));
  }
  if (ctx.options().json) {
    std::cout << nlohmann::json{{"epoch", *epoch}}.dump() << "\n";
  } else {
    ctx.out() << "Keys rotated: new data is encrypted under key epoch "
              << *epoch << "; existing data stays readable\n";
  }
  return kExitOk;
}

int RunRegenerate(Context& ctx, const std::string& code_file) {
  Result<std::unique_ptr<backup::Repository>> repo =
      ctx.OpenRepository(/*account_key=*/true);
  if (!repo.ok()) return Fail(repo.status());
  crypto::RecoveryCode code = crypto::RecoveryCode::Generate();
  crypto::SecretBytes text = code.Format();
  // Recorded before the old code is retired, as at init.
  if (!code_file.empty()) {
    Status s = WriteRecoveryCodeFile(code_file, text.chars());
    if (!s.ok()) return Fail(s);
  }
  Status s = (*repo)->ReplaceRecoveryCode(code);
  if (!s.ok()) {
    // The new holder may be saved: keep the file, which may be the only
    // record of a code that already works.
    return Fail(s);
  }
  if (ctx.options().json) {
    nlohmann::json j = {{"regenerated", true}};
    if (code_file.empty()) {
      j["recovery_code"] = std::string(text.chars());
    } else {
      j["recovery_code_file"] = code_file;
    }
    std::cout << j.dump() << "\n";
    return kExitOk;
  }
  ctx.out() << "New recovery code made; the old one no longer opens "
            << ctx.location() << ".\n";
  if (code_file.empty()) {
    std::cout << "\nRecovery code (shown once; write it down and keep it "
                 "safe):\n\n    "
              << text.chars() << "\n\n";
  } else {
    ctx.out() << "Written to " << code_file << " (mode 0600).\n";
  }
  return kExitOk;
}

}  // namespace

void AddKeyCommands(CLI::App& app, Context& ctx, int& exit_code) {
  CLI::App* key = app.add_subcommand(
      "key", "The repository's keys: list them, change the passphrase, rotate");
  key->require_subcommand(1);
  key->add_subcommand("list",
                      "List the key holders (passphrase, recovery code, "
                      "devices) and which one opened this session")
      ->callback([&ctx, &exit_code] { exit_code = RunKeyList(ctx); });
  key->add_subcommand("rotate",
                      "Add a new encryption key for all new data (every key "
                      "holder gets it); existing data stays readable")
      ->callback([&ctx, &exit_code] { exit_code = RunRotate(ctx); });
  auto new_file = std::make_shared<std::string>();
  CLI::App* passwd = key->add_subcommand(
      "passwd",
      "Change the passphrase (open with the old one, or with the recovery "
      "code if it is lost); the old passphrase stops working");
  passwd->add_option("--new-password-file", *new_file,
                     "Read the new passphrase from FILE (else "
                     "CHATVAULT_NEW_PASSWORD_FILE, CHATVAULT_NEW_PASSWORD, or "
                     "a prompt asked twice)");
  passwd->callback([&ctx, &exit_code, new_file] {
    exit_code = RunKeyPasswd(ctx, *new_file);
  });

  CLI::App* code =
      app.add_subcommand("recovery-code", "The recovery code: make a new one");
  code->require_subcommand(1);
  auto code_file = std::make_shared<std::string>();
  CLI::App* regenerate = code->add_subcommand(
      "regenerate",
      "Make a new recovery code (shown once, or written to --new-code-file); "
      "the old code stops working");
  regenerate->add_option("--new-code-file", *code_file,
                         "Write the new code to FILE (a new file, mode 0600)");
  regenerate->callback([&ctx, &exit_code, code_file] {
    exit_code = RunRegenerate(ctx, *code_file);
  });
}

}  // namespace chatvault::cli
