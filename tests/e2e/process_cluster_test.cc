#include "tests/e2e/process_cluster_test.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "tests/e2e/subprocess.h"

namespace berth::e2e {

void ProcessClusterTest::StartCluster(int lockd_replicas,
                                      std::vector<std::string> sched_flags) {
  lockd_ = std::make_unique<LockdCluster>(lockd_replicas);
  ASSERT_TRUE(lockd_->StartAll().ok());
  ASSERT_NE(lockd_->AwaitLeader(), 0u);
  scheds_ =
      std::make_unique<SchedulerSet>(lockd_.get(), 2, std::move(sched_flags));
  ASSERT_TRUE(scheds_->StartAll().ok());
  ASSERT_GE(scheds_->AwaitLeader(absl::Seconds(30)), 0);
}

void ProcessClusterTest::StartAgent(const std::string& node) {
  std::string data = absl::StrCat(lockd_->dir(), "/agent-", node);
  std::filesystem::create_directories(data);
  agents_.push_back(std::make_unique<AgentProcess>(
      node, lockd_->EndpointsFlag(), lockd_->NextAddress(), data, "process",
      std::vector<std::string>{"--cpu", "4000m", "--memory", "4GiB",
                               "--stop-tasks-on-exit"}));
  ASSERT_TRUE(agents_.back()->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return Node(node).has_value(); }))
      << node << " never registered";
}

std::optional<schedpb::NodeView> ProcessClusterTest::Node(
    const std::string& name) {
  RunResult r = scheds_->Cli({"node", "list", "--output", "json"});
  if (r.exit_code != 0) return std::nullopt;
  schedpb::ListNodesResponse resp;
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(r.out, &resp, o).ok()) {
    return std::nullopt;
  }
  for (const schedpb::NodeView& v : resp.nodes()) {
    if (v.info().name() == name) return v;
  }
  return std::nullopt;
}

bool ProcessClusterTest::SubmitUntilAccepted(const std::string& job,
                                             const std::string& yaml,
                                             absl::Duration timeout) {
  jobs_.insert(job);
  RunResult last;
  bool ok = WaitFor(
      [&] {
        last = scheds_->Submit(yaml);
        return last.exit_code == 0;
      },
      timeout);
  // A spec the scheduler refuses is refused every time: say why.
  if (!ok) {
    ADD_FAILURE() << "job " << job
                  << " was never accepted; the last answer: " << last.out
                  << last.err;
  }
  return ok;
}

void ProcessClusterTest::TearDown() {
  if (!scheds_) return;
  for (const std::string& job : jobs_) {
    scheds_->Cli({"job", "stop", job, "--purge"});
  }
  for (auto& a : agents_) a->Term();
}

}  // namespace berth::e2e
