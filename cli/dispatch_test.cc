// Command-line handling that needs no server: every case here fails (or
// prints help) before any connection is made.
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "cli/command.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result Invoke(std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = RunCli(args, out, err);
  return {code, out.str(), err.str()};
}

TEST(DispatchTest, NoArgumentsPrintsUsageAndFails) {
  Result r = Invoke({});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("berth kv get"));
}

TEST(DispatchTest, HelpListsEveryCommand) {
  Result r = Invoke({"--help"});
  EXPECT_EQ(r.code, kExitOk);
  for (const Command& c : Commands()) {
    EXPECT_THAT(r.out, HasSubstr("berth " + c.path)) << c.path;
  }
}

TEST(DispatchTest, CommandHelpShowsItsFlags) {
  Result r = Invoke({"kv", "get", "--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_THAT(r.out, HasSubstr("--serializable"));
  EXPECT_THAT(r.out, HasSubstr("--lock-endpoints"));
}

TEST(DispatchTest, UnknownCommand) {
  Result r = Invoke({"frobnicate"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("unknown command \"frobnicate\""));
}

TEST(DispatchTest, MissingAndUnknownSubcommand) {
  Result r = Invoke({"kv"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("missing subcommand"));
  EXPECT_THAT(r.err, HasSubstr("get"));
  r = Invoke({"cluster", "explode"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("unknown subcommand \"explode\""));
}

TEST(DispatchTest, MissingPositional) {
  Result r = Invoke({"kv", "put", "k"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("missing VALUE"));
  EXPECT_THAT(r.err, HasSubstr("Usage: berth kv put KEY VALUE"));
}

TEST(DispatchTest, TooManyPositionals) {
  Result r = Invoke({"kv", "get", "a", "b"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("berth kv get:"));
}

TEST(DispatchTest, UnknownFlag) {
  Result r = Invoke({"kv", "get", "k", "--bogus"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("bogus"));
}

TEST(DispatchTest, BadGlobalFlagValues) {
  Result r = Invoke({"--output", "xml", "kv", "get", "k"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--output"));
  r = Invoke({"kv", "get", "k", "--timeout", "5"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--timeout"));
  r = Invoke({"kv", "get", "k", "--lock-endpoints", "nohost"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("missing port"));
}

TEST(DispatchTest, BadCommandValues) {
  Result r = Invoke({"lease", "grant", "10"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("unit"));
  r = Invoke({"lease", "revoke", "xyz"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("lease id"));
  r = Invoke({"kv", "put", "k", "v", "--lease", "-3"});
  EXPECT_EQ(r.code, kExitUsage);
  r = Invoke({"watch", "p", "--count", "many"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--count"));
}

TEST(DispatchTest, LockNeedsACommand) {
  Result r = Invoke({"lock", "db"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("missing the command to run"));
  r = Invoke({"lock", "db", "--ttl", "1500ms", "--", "true"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("whole number of seconds"));
}

TEST(DispatchTest, DoubleDashOnlyForLock) {
  Result r = Invoke({"kv", "get", "k", "--", "x"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("unexpected \"--\""));
}

// The completion generator relies on these invariants of the table.
TEST(CommandTableTest, PathsUniqueAndCommandsComplete) {
  std::set<std::string> paths;
  for (const Command& c : Commands()) {
    EXPECT_TRUE(paths.insert(c.path).second) << c.path;
    EXPECT_TRUE(static_cast<bool>(c.run)) << c.path;
    EXPECT_THAT(c.summary, Not(IsEmpty())) << c.path;
    for (size_t i = 0; i + 1 < c.positionals.size(); ++i) {
      EXPECT_FALSE(c.positionals[i].repeated) << c.path;
    }
    // A command path is never a prefix of another command's path, so the
    // longest-match lookup is unambiguous.
    for (const Command& other : Commands()) {
      if (&other != &c) {
        EXPECT_FALSE(absl::StartsWith(other.path, c.path + " "))
            << c.path << " vs " << other.path;
      }
    }
  }
  for (const char* required :
       {"kv get", "kv put", "kv del", "kv list", "watch", "lock", "elect",
        "lease grant", "lease revoke", "lease ttl", "cluster status",
        "cluster members", "cluster add", "cluster remove",
        "cluster transfer-leader"}) {
    EXPECT_EQ(paths.count(required), 1u) << required;
  }
}

}  // namespace
}  // namespace berth::cli
