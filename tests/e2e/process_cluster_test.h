// A gtest fixture for scheduler end-to-end tests on the process runtime:
// real berth-lockd replicas, two real schedulers and agents named by the
// test, all on 127.0.0.1. Jobs submitted through SubmitUntilAccepted are
// purged in TearDown so their tasks do not outlive the test.
#ifndef BERTH_TESTS_E2E_PROCESS_CLUSTER_TEST_H_
#define BERTH_TESTS_E2E_PROCESS_CLUSTER_TEST_H_

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "proto/scheduler.pb.h"
#include "tests/e2e/agent_harness.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/scheduler_harness.h"

namespace berth::e2e {

class ProcessClusterTest : public ::testing::Test {
 protected:
  // Starts `lockd_replicas` lockd and two schedulers (with `sched_flags`)
  // and waits for a scheduler leader. Call from SetUp under
  // ASSERT_NO_FATAL_FAILURE.
  void StartCluster(int lockd_replicas,
                    std::vector<std::string> sched_flags = {});
  // Starts a process-runtime agent (4 cores, 4 GiB) named `node` and waits
  // until the scheduler lists it.
  void StartAgent(const std::string& node);
  // The node as `berth node list` shows it, if listed.
  std::optional<schedpb::NodeView> Node(const std::string& name);
  // Submits until a scheduler accepts (the CLI fails while nobody leads).
  bool SubmitUntilAccepted(const std::string& job, const std::string& yaml,
                           absl::Duration timeout = absl::Seconds(60));

  void TearDown() override;

  std::unique_ptr<LockdCluster> lockd_;
  std::unique_ptr<SchedulerSet> scheds_;
  std::vector<std::unique_ptr<AgentProcess>> agents_;
  std::set<std::string> jobs_;
};

}  // namespace berth::e2e

#endif  // BERTH_TESTS_E2E_PROCESS_CLUSTER_TEST_H_
