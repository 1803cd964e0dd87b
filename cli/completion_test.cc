// `berth completion bash`: the script covers the whole command table, is
// valid bash, and completes what a user would type.
#include <stdio.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/command.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

std::string Script() {
  std::ostringstream out, err;
  EXPECT_EQ(RunCli({"completion", "bash"}, out, err), kExitOk) << err.str();
  return out.str();
}

class BashCompletion : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-completion-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
    std::ofstream(path_) << Script();
  }
  void TearDown() override { unlink(path_.c_str()); }

  // Runs bash with the script sourced; returns stdout, one entry per line.
  std::vector<std::string> Bash(const std::string& code) {
    std::string cmd =
        absl::StrCat("bash -c 'source \"$0\"; ", code, "' ", path_, " 2>&1");
    FILE* p = popen(cmd.c_str(), "r");
    EXPECT_NE(p, nullptr);
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) text.append(buf, n);
    exit_code_ = pclose(p);
    return absl::StrSplit(text, '\n', absl::SkipEmpty());
  }

  // What completing `line` (cursor at its end) offers.
  std::vector<std::string> Complete(const std::string& line) {
    return Bash(absl::StrCat("COMP_LINE=\"", line,
                             "\"; COMP_POINT=${#COMP_LINE}; _berth; "
                             "printf \"%s\\n\" \"${COMPREPLY[@]}\""));
  }

  std::string path_;
  int exit_code_ = 0;
};

TEST(CompletionScript, NamesEveryCommandPathAndFlag) {
  std::string script = Script();
  for (const Command& c : Commands()) {
    // Each full path is a case arm of _berth_flags or a leaf word of
    // _berth_words; the last word always appears after its parent path.
    std::vector<std::string> parts = absl::StrSplit(c.path, ' ');
    std::string parent;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      parent = parent.empty() ? parts[i] : absl::StrCat(parent, " ", parts[i]);
    }
    EXPECT_THAT(script, HasSubstr(absl::StrCat("\"", parent, "\") echo \"")))
        << c.path;
    EXPECT_THAT(script, HasSubstr(parts.back())) << c.path;
    po::options_description d;
    if (c.flags) c.flags(d);
    for (const auto& opt : d.options()) {
      EXPECT_THAT(script, HasSubstr(absl::StrCat("--", opt->long_name())))
          << c.path;
    }
  }
}

TEST_F(BashCompletion, IsValidBash) {
  std::string cmd = absl::StrCat("bash -n ", path_);
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST_F(BashCompletion, EveryCommandPathCompletesFromItsParent) {
  for (const Command& c : Commands()) {
    std::vector<std::string> parts = absl::StrSplit(c.path, ' ');
    std::string line = "berth";
    for (const std::string& p : parts) {
      std::vector<std::string> offered = Complete(absl::StrCat(line, " "));
      EXPECT_THAT(offered, ::testing::Contains(p))
          << "after \"" << line << "\"";
      line = absl::StrCat(line, " ", p);
    }
    EXPECT_THAT(Complete(absl::StrCat(line, " ")), IsEmpty())
        << "a full command offers no more command words: " << line;
  }
}

TEST_F(BashCompletion, CompletesWordsFlagsAndFlagValues) {
  EXPECT_THAT(Complete("berth kv g"), UnorderedElementsAre("get"));
  EXPECT_THAT(Complete("berth kv get --pre"), UnorderedElementsAre("--prefix"));
  // Global flags are offered for every command.
  EXPECT_THAT(Complete("berth kv get --lock"),
              UnorderedElementsAre("--lock-endpoints"));
  EXPECT_THAT(Complete("berth kv get --output "),
              UnorderedElementsAre("table", "json"));
  // A flag value containing ':' does not shift the command path.
  EXPECT_THAT(Complete("berth --lock-endpoints 127.0.0.1:7400 kv p"),
              UnorderedElementsAre("put"));
  // A positional argument ends the command path.
  EXPECT_THAT(Complete("berth kv get mykey "), IsEmpty());
  EXPECT_THAT(Complete("berth lease ttl --k"), UnorderedElementsAre("--keys"));
}

TEST_F(BashCompletion, CompletesJobSuspendAndResume) {
  EXPECT_THAT(Complete("berth job su"), UnorderedElementsAre("suspend"));
  EXPECT_THAT(Complete("berth job res"), UnorderedElementsAre("resume"));
  EXPECT_THAT(Complete("berth job suspend --names"),
              UnorderedElementsAre("--namespace"));
  EXPECT_THAT(Complete("berth job resume --names"),
              UnorderedElementsAre("--namespace"));
}

TEST_F(BashCompletion, CompletesNodeDrainAndItsFlags) {
  EXPECT_THAT(Complete("berth node "),
              ::testing::IsSupersetOf({"list", "drain", "undrain"}));
  EXPECT_THAT(Complete("berth node und"), UnorderedElementsAre("undrain"));
  EXPECT_THAT(Complete("berth node drain n1 --d"),
              UnorderedElementsAre("--deadline", "--detach"));
  EXPECT_THAT(Complete("berth node drain --deadline 10m n1 --ig"),
              UnorderedElementsAre("--ignore-batch"));
}

TEST_F(BashCompletion, CompletesJobAndAllocLogs) {
  EXPECT_THAT(Complete("berth job lo"), UnorderedElementsAre("logs"));
  EXPECT_THAT(Complete("berth al"), UnorderedElementsAre("alloc"));
  EXPECT_THAT(Complete("berth alloc "), ::testing::Contains("logs"));
  EXPECT_THAT(Complete("berth job logs web --f"),
              UnorderedElementsAre("--follow"));
  EXPECT_THAT(Complete("berth job logs web --tail 5 --s"),
              UnorderedElementsAre("--stderr", "--since", "--scheduler"));
  EXPECT_THAT(Complete("berth job logs web --al"),
              UnorderedElementsAre("--alloc"));
  EXPECT_THAT(Complete("berth alloc logs a1 --ta"),
              UnorderedElementsAre("--tail"));
}

}  // namespace
}  // namespace berth::cli
