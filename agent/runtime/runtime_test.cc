#include "agent/runtime/runtime.h"

#include <signal.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

using ::testing::HasSubstr;

TaskSpec Good() {
  TaskSpec s;
  s.alloc_id = "web-1";
  s.argv = {"/bin/true"};
  s.sandbox_dir = "/tmp/x";
  return s;
}

TEST(ValidateTaskSpecTest, AcceptsMinimalSpec) {
  EXPECT_TRUE(ValidateTaskSpec(Good()).ok());
}

TEST(ValidateTaskSpecTest, ErrorsNameTheField) {
  TaskSpec s = Good();
  s.alloc_id = "../etc";
  EXPECT_THAT(ValidateTaskSpec(s).message(), HasSubstr("alloc_id"));
  s = Good();
  s.argv.clear();
  EXPECT_THAT(ValidateTaskSpec(s).message(), HasSubstr("argv"));
  s = Good();
  s.env = {"NOEQUALS"};
  EXPECT_THAT(ValidateTaskSpec(s).message(), HasSubstr("env[0]"));
  s = Good();
  s.sandbox_dir = "relative";
  EXPECT_THAT(ValidateTaskSpec(s).message(), HasSubstr("sandbox_dir"));
  s = Good();
  s.resources.cpu_limit_millicores = 500;
  s.resources.cpu_request_millicores = 1000;
  EXPECT_THAT(ValidateTaskSpec(s).message(),
              HasSubstr("cpu_request_millicores"));
  s = Good();
  s.binds = {{"/usr", "/usr", true}};
  EXPECT_THAT(ValidateTaskSpec(s).message(), HasSubstr("binds"));
}

TEST(WithDefaultsTest, FillsHostnameAndLogPaths) {
  TaskSpec s = WithDefaults(Good());
  EXPECT_EQ(s.hostname, "web-1");
  EXPECT_EQ(s.stdout_path, "/tmp/x/stdout");
  EXPECT_EQ(s.stderr_path, "/tmp/x/stderr");
}

TEST(ExitStatusTest, ToStringDistinguishesKinds) {
  EXPECT_EQ(ExitStatus::Exited(3).ToString(), "exited(3)");
  EXPECT_EQ(ExitStatus::Killed(SIGKILL).ToString(), "killed(SIGKILL)");
  EXPECT_EQ(ExitStatus::OomKilled("limit").ToString(), "oom_killed(limit)");
  EXPECT_EQ(ExitStatus::Failed("gone").ToString(), "failed(gone)");
  EXPECT_TRUE(ExitStatus::Exited(0).ok());
  EXPECT_FALSE(ExitStatus::Exited(1).ok());
}

}  // namespace
}  // namespace berth::agent
