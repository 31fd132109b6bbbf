// chatvault check [--read-data | --read-data-subset N%|n/m].
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "backup/checker.h"
#include "cli/commands.h"

namespace chatvault::cli {
namespace {

struct CheckArgs {
  bool read_data = false;
  std::string subset;  // "N%" or "n/m"
};

// "25%" or "2/5" into `o`; InvalidArgument for anything else.
Status ParseSubset(const std::string& text, backup::CheckOptions* o) {
  const auto bad = Status::InvalidArgument(
      "--read-data-subset takes a percentage (10%) or a group n/m (1/5), "
      "not '" +
      text + "'");
  try {
    size_t used = 0;
    if (text.ends_with('%')) {
      const double p = std::stod(text.substr(0, text.size() - 1), &used);
      if (used != text.size() - 1 || !(p > 0) || p > 100) return bad;
      o->subset_percent = p;
      return Status::OK();
    }
    const size_t slash = text.find('/');
    if (slash == std::string::npos) return bad;
    const unsigned long n = std::stoul(text.substr(0, slash), &used);
    if (used != slash) return bad;
    const unsigned long m = std::stoul(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1 || n < 1 || n > m || m > 1'000'000) {
      return bad;
    }
    o->subset_n = static_cast<uint32_t>(n);
    o->subset_m = static_cast<uint32_t>(m);
    return Status::OK();
  } catch (const std::exception&) {
    return bad;
  }
}

int RunCheck(Context& ctx, const CheckArgs& args) {
  backup::CheckOptions options;
  options.read_data = args.read_data || !args.subset.empty();
  if (!args.subset.empty()) {
    Status s = ParseSubset(args.subset, &options);
    if (!s.ok()) return Fail(s);
  }
  Result<std::unique_ptr<backup::Repository>> repo = ctx.OpenRepository();
  if (!repo.ok()) return Fail(repo.status());
  const bool json = ctx.options().json;
  const bool tty = !json && !ctx.options().quiet && ::isatty(STDERR_FILENO);
  backup::CheckProgressFn progress;
  if (tty) {
    progress = [](const std::string& phase, uint64_t done, uint64_t total) {
      std::fprintf(stderr, "\r\033[Kchecking %s: %llu of %llu", phase.c_str(),
                   static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total));
    };
  }
  Result<backup::CheckResult> r = backup::Check(repo->get(), options, progress);
  if (tty) std::fprintf(stderr, "\r\033[K");
  if (!r.ok()) return Fail(r.status());
  if (json) {
    std::cout << nlohmann::json{{"problems", r->problems},
                                {"notes", r->notes},
                                {"snapshots", r->snapshots},
                                {"trees", r->trees},
                                {"blobs", r->blobs},
                                {"packs", r->packs},
                                {"packs_read", r->packs_read},
                                {"bytes_read", r->bytes_read}}
                     .dump()
              << "\n";
  } else {
    std::ostream& out = ctx.out();
    for (const std::string& p : r->problems) {
      std::cerr << "chatvault: problem: " << p << "\n";
    }
    for (const std::string& n : r->notes) out << "note: " << n << "\n";
    out << "Checked " << r->snapshots << " snapshots, " << r->trees
        << " trees, " << r->blobs << " blobs in " << r->packs << " packs";
    if (options.read_data) {
      out << "; read " << r->packs_read << " packs ("
          << HumanBytes(static_cast<double>(r->bytes_read)) << ")";
    }
    out << ": ";
    if (r->problems.empty()) {
      out << "no problems found\n";
    } else {
      out << r->problems.size() << " problem"
          << (r->problems.size() == 1 ? "" : "s")
          << " found; files they do not affect still restore\n";
    }
  }
  return r->problems.empty() ? kExitOk : kExitCorruption;
}

}  // namespace

void AddCheckCommand(CLI::App& app, Context& ctx, int& exit_code) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* cmd = app.add_subcommand(
      "check",
      "Check that every snapshot can be restored: indexes, snapshots, trees, "
      "and that every blob they use is in a pack; exit 13 on any problem");
  CLI::Option* all =
      cmd->add_flag("--read-data", args->read_data,
                    "Also download every pack and check every blob it holds");
  cmd->add_option("--read-data-subset", args->subset,
                  "Download only some packs: a percentage (10%) or group n "
                  "of m (1/5; running 1/5 to 5/5 reads each pack once)")
      ->excludes(all);
  cmd->callback([&ctx, &exit_code, args] { exit_code = RunCheck(ctx, *args); });
}

}  // namespace chatvault::cli
