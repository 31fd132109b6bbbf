#include "cli/exit_codes.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace chatvault::cli {
namespace {

TEST(ExitCodesTest, EachStatusCodeHasItsOwnExitCode) {
  std::set<int> seen;
  for (int c = 0; c <= static_cast<int>(StatusCode::kResourceExhausted); ++c) {
    auto code = static_cast<StatusCode>(c);
    Status s = code == StatusCode::kOk ? Status() : Status(code, "x");
    EXPECT_TRUE(seen.insert(ExitCodeFor(s)).second) << StatusCodeName(code);
  }
  EXPECT_EQ(ExitCodeFor(Status()), 0);
  EXPECT_EQ(ExitCodeFor(Status::PermissionDenied("wrong passphrase")), 5);
  EXPECT_EQ(ExitCodeFor(Status::Corruption("bad tag")), 6);
  EXPECT_EQ(ExitCodeFor(Status::ResourceExhausted("disk full")), 8);
}

TEST(ExitCodesTest, HelpListsEveryCode) {
  std::string help(ExitCodeHelp());
  for (int code : {0, 1, 2, 3, 4, 5, 6, 7, 8, 130}) {
    EXPECT_NE(help.find("  " + std::to_string(code) + " "), std::string::npos)
        << code;
  }
}

}  // namespace
}  // namespace chatvault::cli
