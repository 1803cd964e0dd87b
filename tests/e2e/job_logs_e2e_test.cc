// berth job logs / berth alloc logs end to end (issue #17 item 1): a real
// lockd, two real schedulers and a real agent on the process runtime, driven
// through the berth CLI, which reaches the agent's logs only through the
// scheduler. Every wait is a condition poll with a deadline.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster_test.h"
#include "tests/e2e/subprocess.h"

namespace berth::e2e {
namespace {

class JobLogsE2ETest : public ProcessClusterTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartCluster(1));
    // Not --stop-tasks-on-exit: a restarted agent adopts the task. Small
    // log files, so that a follow crosses several rotations.
    const std::string data = absl::StrCat(lockd_->dir(), "/agent-n1");
    std::filesystem::create_directories(data);
    agents_.push_back(std::make_unique<AgentProcess>(
        "n1", lockd_->EndpointsFlag(), lockd_->NextAddress(), data, "process",
        std::vector<std::string>{"--cpu", "4000m", "--memory", "4GiB",
                                 "--log-max-bytes", "1KiB", "--log-max-files",
                                 "2"}));
    ASSERT_TRUE(agents_.back()->Start().ok());
    ASSERT_TRUE(WaitFor([&] { return Node("n1").has_value(); }))
        << "n1 never registered";
  }
  AgentProcess& agent() { return *agents_.back(); }

  // The id of the job's only allocation once the agent runs or ran it.
  std::string StartedAlloc(const std::string& job) {
    std::string id;
    WaitFor([&] {
      absl::StatusOr<schedpb::JobStatusResponse> r = scheds_->Status(job);
      if (!r.ok()) return false;
      for (const auto& v : r->allocations()) {
        // A quick task's status may already be folded into its outcome.
        if (v.status().start_unix_ms() > 0 ||
            v.alloc().outcome().state() !=
                jobpb::AllocOutcome::STATE_UNSPECIFIED) {
          id = v.alloc().id();
        }
      }
      return !id.empty();
    });
    return id;
  }

  std::unique_ptr<Subprocess> StartCli(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BerthCliBinary(), "--scheduler",
                                     scheds_->Flag()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto p = Subprocess::Start(
        argv, absl::StrCat(lockd_->dir(), "/follow-", ++followers_));
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  }
  int followers_ = 0;
};

TEST_F(JobLogsE2ETest, ShowsOutputTailStderrAndNamesWhatIsMissing) {
  ASSERT_TRUE(SubmitUntilAccepted("hello", R"(
job: hello
kind: batch
batch: {completions: 1, parallelism: 1, backoff_limit: 0}
task:
  command: ["/bin/sh", "-c", "echo one; echo two; echo three; echo oops >&2"]
  resources: {cpu: 10m, memory: 8MiB}
  kill_timeout: 1s
)"));
  const std::string id = StartedAlloc("hello");
  ASSERT_FALSE(id.empty()) << "the task never started";
  RunResult all;
  ASSERT_TRUE(WaitFor([&] {
    all = scheds_->Cli({"job", "logs", "hello"});
    return all.exit_code == 0 && all.out == "one\ntwo\nthree\n";
  })) << all.exit_code
      << " out: " << all.out << " err: " << all.err;
  EXPECT_TRUE(absl::StrContains(
      all.err, absl::StrCat("showing allocation ", id, " on node n1")))
      << all.err;

  RunResult tail = scheds_->Cli({"job", "logs", "hello", "--tail", "1"});
  EXPECT_EQ(tail.exit_code, 0) << tail.err;
  EXPECT_EQ(tail.out, "three\n");
  RunResult err = scheds_->Cli({"alloc", "logs", id, "--stderr"});
  EXPECT_EQ(err.exit_code, 0) << err.err;
  EXPECT_EQ(err.out, "oops\n");
  RunResult by_alloc = scheds_->Cli({"job", "logs", "hello", "--alloc", id});
  EXPECT_EQ(by_alloc.out, "one\ntwo\nthree\n") << by_alloc.err;
  RunResult recent = scheds_->Cli({"job", "logs", "hello", "--since", "1h"});
  EXPECT_EQ(recent.out, "one\ntwo\nthree\n") << recent.err;
  RunResult future =
      scheds_->Cli({"job", "logs", "hello", "--since", "2099-01-01T00:00:00Z"});
  EXPECT_EQ(future.exit_code, 0) << future.err;
  EXPECT_EQ(future.out, "");
  // A follow of a finished task prints what there is and ends.
  RunResult done = scheds_->Cli({"job", "logs", "hello", "-f"});
  EXPECT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(done.out, "one\ntwo\nthree\n");

  RunResult no_job = scheds_->Cli({"job", "logs", "nope"});
  EXPECT_EQ(no_job.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(no_job.err, "job default/nope does not exist"))
      << no_job.err;
  RunResult no_alloc = scheds_->Cli({"alloc", "logs", "nope"});
  EXPECT_EQ(no_alloc.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(no_alloc.err, "allocation nope does not exist"))
      << no_alloc.err;
  RunResult bad_tail = scheds_->Cli({"job", "logs", "hello", "--tail", "x"});
  EXPECT_EQ(bad_tail.exit_code, 2) << bad_tail.err;
}

// -f follows a task that prints over time, across the agent's log rotation
// (1 KiB files) and a kill -9 and restart of the agent, and ends when the
// task exits; every line arrives once, in order.
TEST_F(JobLogsE2ETest, FollowCrossesRotationAndAnAgentRestartAndEnds) {
  const std::string stop = absl::StrCat(lockd_->dir(), "/stop-ticker");
  ASSERT_TRUE(SubmitUntilAccepted(
      "ticker",
      absl::StrCat(
          R"(
job: ticker
kind: batch
batch: {completions: 1, parallelism: 1, backoff_limit: 0}
task:
  command: ["/bin/sh", "-c", "i=0; while [ ! -f )",
          stop,
          R"( ]; do echo tick$i ..............................; i=$((i+1)); sleep 0.05; done; echo finished"]
  resources: {cpu: 10m, memory: 8MiB}
  kill_timeout: 1s
)")));
  const std::string id = StartedAlloc("ticker");
  ASSERT_FALSE(id.empty()) << "the task never started";
  std::unique_ptr<Subprocess> follow =
      StartCli({"job", "logs", "ticker", "-f"});
  ASSERT_NE(follow, nullptr);
  auto has_tick = [&](int n) {
    return absl::StrContains(follow->Stdout(), absl::StrCat("tick", n, " "));
  };
  ASSERT_TRUE(WaitFor([&] { return has_tick(40); }))
      << "no output followed: " << follow->Stderr();
  const std::string logs =
      absl::StrCat(agent().data_dir(), "/allocs/", id, "/logs/stdout.log.1");
  EXPECT_TRUE(std::filesystem::exists(logs)) << "the agent never rotated";

  agent().Kill9();
  int at_kill = 0;
  while (has_tick(at_kill + 1)) ++at_kill;
  ASSERT_TRUE(agent().Start().ok());
  ASSERT_TRUE(WaitFor([&] { return has_tick(at_kill + 60); }))
      << "the follow did not continue after the agent restart: "
      << follow->Stderr();
  EXPECT_FALSE(follow->Wait(absl::ZeroDuration()).has_value())
      << "the follow ended while the task runs";

  std::ofstream(stop) << "stop\n";
  std::optional<int> code = follow->Wait(absl::Seconds(60));
  ASSERT_TRUE(code.has_value()) << "the follow did not end with the task";
  EXPECT_EQ(*code, 0) << follow->Stderr();
  const std::string out = follow->Stdout();
  EXPECT_TRUE(absl::EndsWith(out, "finished\n"))
      << out.substr(out.size() > 200 ? out.size() - 200 : 0);
  // Nothing repeated, nothing lost (unless reported as rotated away):
  // tick0, tick1, ... in order.
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u);
  const bool skipped = absl::StrContains(follow->Stderr(), "rotated away");
  int last = -1;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    std::vector<std::string> f = absl::StrSplit(lines[i], ' ');
    int n = -1;
    ASSERT_TRUE(absl::StartsWith(f[0], "tick") &&
                absl::SimpleAtoi(f[0].substr(4), &n))
        << "line " << i << ": " << lines[i];
    if (skipped) {
      ASSERT_GT(n, last) << "line " << i << " repeats or goes back";
    } else {
      ASSERT_EQ(n, last + 1) << "line " << i << ": " << lines[i];
    }
    last = n;
  }
  EXPECT_GE(last, at_kill + 60);
  EXPECT_TRUE(absl::StrContains(follow->Stderr(), "reconnect"))
      << follow->Stderr();
}

}  // namespace
}  // namespace berth::e2e
