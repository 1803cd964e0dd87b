// Test harness for berth-scheduler end-to-end tests: real berth-scheduler
// processes against a LockdCluster on 127.0.0.1, driven through the real
// `berth` CLI (whose --output json is parsed back into the API's protos).
//
// Thread safety: none; use from the test thread.
#ifndef BERTH_TESTS_E2E_SCHEDULER_HARNESS_H_
#define BERTH_TESTS_E2E_SCHEDULER_HARNESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "proto/scheduler.pb.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/subprocess.h"

namespace berth::e2e {

std::string SchedulerBinary();
std::string BerthCliBinary();

class SchedulerSet {
 public:
  // `count` schedulers named s1.., each on its own address from `lockd`.
  SchedulerSet(LockdCluster* lockd, int count,
               std::vector<std::string> extra_flags = {});
  ~SchedulerSet();

  absl::Status Start(int i);  // 0-based
  absl::Status StartAll();
  void Kill9(int i);
  // SIGTERM (graceful shutdown); waits for the exit and keeps the log.
  void Term(int i);
  // What process i (or its last run, once stopped) wrote to stderr.
  std::string Stderr(int i) const;
  bool Running(int i) const { return procs_[i] != nullptr; }
  // Leader() dials with these (the schedulers' TLS); plaintext by default.
  void set_credentials(std::shared_ptr<grpc::ChannelCredentials> c) {
    credentials_ = std::move(c);
  }
  // "addr1,addr2" for the CLI's --scheduler.
  std::string Flag() const;
  const std::string& address(int i) const { return addrs_[i]; }
  // Index of the process that says it leads, -1 if none does.
  int Leader();
  int AwaitLeader(absl::Duration timeout, int not_this = -1);

  // Runs `berth --scheduler ... --lock-endpoints ... ARGS`.
  RunResult Cli(const std::vector<std::string>& args,
                absl::Duration timeout = absl::Seconds(30));
  // `berth job run` of YAML text (written to a file first).
  RunResult Submit(const std::string& yaml);
  absl::StatusOr<schedpb::JobStatusResponse> Status(const std::string& job);
  absl::StatusOr<schedpb::JobHistoryResponse> History(const std::string& job);

 private:
  LockdCluster* lockd_;
  std::vector<std::string> extra_flags_;
  std::vector<std::string> addrs_;
  std::vector<std::unique_ptr<Subprocess>> procs_;
  std::vector<std::string> last_stderr_;
  int files_ = 0;
  int starts_ = 0;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
};

// Live allocations (desired RUN, no outcome) of a status response.
std::vector<jobpb::Allocation> LiveAllocs(const schedpb::JobStatusResponse& r);
// Live allocations the agent reports RUNNING.
std::vector<schedpb::AllocationView> RunningAllocs(
    const schedpb::JobStatusResponse& r);

}  // namespace berth::e2e

#endif  // BERTH_TESTS_E2E_SCHEDULER_HARNESS_H_
