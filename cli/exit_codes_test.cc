#include "cli/exit_codes.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace chatvault::cli {
namespace {

TEST(ExitCodesTest, EachStatusCodeHasItsOwnExitCode) {
  std::set<int> seen;
  for (int c = 0; c <= static_cast<int>(StatusCode::kExpired); ++c) {
    auto code = static_cast<StatusCode>(c);
    Status s = code == StatusCode::kOk ? Status() : Status(code, "x");
    EXPECT_TRUE(seen.insert(ExitCodeFor(s)).second) << StatusCodeName(code);
  }
  EXPECT_EQ(ExitCodeFor(Status()), 0);
  EXPECT_EQ(ExitCodeFor(Status::NotFound("no repository")), 10);
  EXPECT_EQ(ExitCodeFor(Status::PermissionDenied("wrong passphrase")), 12);
  EXPECT_EQ(ExitCodeFor(Status::Corruption("bad tag")), 13);
  EXPECT_EQ(ExitCodeFor(Status::ResourceExhausted("disk full")), 15);
  EXPECT_EQ(ExitCodeFor(Status::Locked("prune running")), 11);
  EXPECT_EQ(ExitCodeFor(Status::Expired("link code used")), 17);
}

TEST(ExitCodesTest, HelpListsEveryCode) {
  std::string help(ExitCodeHelp());
  for (int code : {0, 1, 2, 3, 10, 11, 12, 13, 14, 15, 16, 130}) {
    EXPECT_NE(help.find("  " + std::to_string(code) + " "), std::string::npos)
        << code;
  }
}

}  // namespace
}  // namespace chatvault::cli
