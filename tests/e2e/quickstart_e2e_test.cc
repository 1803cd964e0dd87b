// The README's quick start, end to end (issue #7): scripts/demo.sh in a
// clean temporary data dir and on its own ports, then the CLI against the
// `berth dev` it left running, asserting on --output json that the three
// example jobs reach their expected states.
#include <signal.h>
#include <unistd.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/ports.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "proto/scheduler.pb.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/subprocess.h"

namespace berth::e2e {
namespace {

class QuickstartE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("berth-quickstart");
    // `berth dev` listens on port_, port_ + 100 and port_ + 200.
    absl::StatusOr<int> base = FindFreePortBlock(201, getpid());
    ASSERT_TRUE(base.ok()) << base.status();
    port_ = *base;
  }
  void TearDown() override {
    std::string pid_text = ReadFileOrEmpty(dir_ + "/dev.pid");
    int pid = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(pid_text), &pid) &&
        pid > 0) {
      kill(pid, SIGINT);
      WaitFor([&] { return kill(pid, 0) != 0; }, absl::Seconds(20));
      kill(pid, SIGKILL);
    }
  }

  RunResult Cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {
        BERTH_CLI_BIN, "--lock-endpoints", absl::StrCat("127.0.0.1:", port_),
        "--scheduler", absl::StrCat("127.0.0.1:", port_ + 100)};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunToExit(argv, absl::StrCat(dir_, "/cli-", ++calls_));
  }

  template <typename T>
  bool Json(const std::vector<std::string>& args, T* out) {
    RunResult r = Cli(args);
    return r.exit_code == 0 &&
           google::protobuf::util::JsonStringToMessage(r.out, out).ok();
  }

  std::string dir_;
  int port_ = 0;
  int calls_ = 0;
};

TEST_F(QuickstartE2ETest, DemoRunsTheExampleJobs) {
  RunResult demo = RunToExit({"/bin/bash", BERTH_SOURCE_DIR "/scripts/demo.sh"},
                             dir_ + "/demo", absl::Minutes(12),
                             {{"BUILD_DIR", BERTH_BUILD_DIR},
                              {"BERTH_DEMO_DIR", dir_},
                              {"BERTH_DEMO_PORT_BASE", absl::StrCat(port_)}});
  ASSERT_EQ(demo.exit_code, 0)
      << demo.out << demo.err << ReadFileOrEmpty(dir_ + "/dev.log");
  EXPECT_NE(demo.out.find("--- berth job status web"), std::string::npos);
  EXPECT_NE(demo.out.find("Stop it with"), std::string::npos);

  schedpb::ListJobsResponse jobs;
  std::map<std::string, jobpb::JobStatus::State> state;
  ASSERT_TRUE(WaitFor(
      [&] {
        if (!Json({"job", "list", "--output", "json"}, &jobs)) return false;
        for (const auto& j : jobs.jobs()) state[j.name()] = j.status().state();
        return state["web"] == jobpb::JobStatus::RUNNING &&
               state["crunch"] == jobpb::JobStatus::COMPLETE &&
               state["cron-hello"] == jobpb::JobStatus::RUNNING;
      },
      absl::Seconds(120)))
      << jobs.DebugString();
  schedpb::JobHistoryResponse history;
  ASSERT_TRUE(WaitFor(
      [&] {
        if (!Json({"job", "history", "cron-hello", "--output", "json"},
                  &history)) {
          return false;
        }
        for (const auto& r : history.runs()) {
          if (r.result() == jobpb::CronRun::SUCCEEDED) return true;
        }
        return false;
      },
      absl::Seconds(60)))
      << history.DebugString();
  schedpb::JobStatusResponse web;
  ASSERT_TRUE(Json({"job", "status", "web", "--output", "json"}, &web));
  int healthy = 0;
  for (const auto& v : web.allocations()) healthy += v.status().healthy();
  EXPECT_EQ(healthy, 2);

  // Ctrl-C, then the demo again on the same data dir: berth dev resumes
  // with the same jobs and the cron history so far.
  int pid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      absl::StripAsciiWhitespace(ReadFileOrEmpty(dir_ + "/dev.pid")), &pid));
  kill(pid, SIGINT);
  ASSERT_TRUE(WaitFor([&] { return kill(pid, 0) != 0; }, absl::Seconds(30)))
      << "berth dev did not stop on SIGINT";
  const int64_t claimed_before = history.marker().claimed();
  ASSERT_GT(claimed_before, 0);
  RunResult again =
      RunToExit({"/bin/bash", BERTH_SOURCE_DIR "/scripts/demo.sh"},
                dir_ + "/demo2", absl::Minutes(5),
                {{"BUILD_DIR", BERTH_BUILD_DIR},
                 {"BERTH_DEMO_DIR", dir_},
                 {"BERTH_DEMO_PORT_BASE", absl::StrCat(port_)}});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  ASSERT_TRUE(Json({"job", "list", "--output", "json"}, &jobs));
  EXPECT_EQ(jobs.jobs_size(), 3);
  for (const auto& j : jobs.jobs()) {
    EXPECT_EQ(j.version(), 1) << j.name() << " must not be resubmitted anew";
  }
  ASSERT_TRUE(
      Json({"job", "history", "cron-hello", "--output", "json"}, &history));
  ASSERT_GT(history.runs_size(), 0);
  EXPECT_GE(history.marker().claimed(), claimed_before)
      << "cron history from before the restart is gone";
}

}  // namespace
}  // namespace berth::e2e
