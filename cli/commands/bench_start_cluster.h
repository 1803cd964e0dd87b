// LocalCluster: the cluster `berth bench start --cluster own` measures:
// three berth-lockd replicas, one or two berth-scheduler processes and one
// berth-agent, all the real binaries, all on 127.0.0.1, with their state
// in a fresh temporary directory. It is started, awaited (lockd leader,
// scheduler leader, agent registered) and torn down by its owner.
//
// Binaries are looked up in --bin-dir, then next to this berth binary (an
// install puts them side by side), then in the build tree layout around it
// (build/cli/berth -> build/lockservice/lockd/berth-lockd, ...), then PATH.
//
// Children get PR_SET_PDEATHSIG(SIGTERM), so a killed bench does not leave
// servers behind; the agent runs with --stop-tasks-on-exit.
//
// Thread safety: none; one owner thread. Stop() may also be called from a
// signal-handling thread while the owner is blocked elsewhere, as it only
// touches process ids and files.
#ifndef BERTH_CLI_COMMANDS_BENCH_START_CLUSTER_H_
#define BERTH_CLI_COMMANDS_BENCH_START_CLUSTER_H_

#include <sys/types.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::cli {

struct LocalClusterOptions {
  std::string bin_dir;            // "" = look next to this binary, then PATH
  std::string runtime = "linux";  // linux | process
  int schedulers = 1;             // 1..2
  int port_base = 0;              // 0 = derived from the pid
  std::string work_dir;           // "" = a new directory under $TMPDIR
  bool keep_work_dir = false;
  // What the agent advertises: enough for the whole batch at once, so the
  // bench measures the pipeline rather than capacity queueing.
  std::string agent_cpu = "64";
  std::string agent_memory = "64GiB";
  absl::Duration ready_timeout = absl::Seconds(60);
};

class LocalCluster {
 public:
  // Starts everything and waits until a job can be placed and run.
  // `log` gets one line per step.
  static absl::StatusOr<std::unique_ptr<LocalCluster>> Start(
      LocalClusterOptions options, std::ostream& log);
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // SIGTERM to the agent, schedulers and replicas (in that order), SIGKILL
  // to any that has not exited within 10 s, then cgroups and the work
  // directory are removed. Idempotent.
  void Stop();

  const std::vector<std::string>& lock_endpoints() const { return lockd_; }
  const std::vector<std::string>& scheduler_endpoints() const {
    return scheds_;
  }
  const std::string& node() const { return node_; }
  const std::string& work_dir() const { return dir_; }
  // pids by role, for CPU accounting: "lockd", "scheduler", "agent".
  std::vector<pid_t> Pids(const std::string& role) const;

 private:
  struct Proc {
    std::string role;
    std::string name;
    pid_t pid = 0;
  };
  explicit LocalCluster(LocalClusterOptions options)
      : opts_(std::move(options)) {}
  absl::Status Spawn(const std::string& role, const std::string& name,
                     const std::vector<std::string>& argv);
  absl::Status AwaitReady(std::ostream& log);
  std::string ExitedEarly() const;

  LocalClusterOptions opts_;
  std::string dir_;
  std::string cgroup_parent_;
  std::string node_ = "bench";
  std::vector<std::string> lockd_;
  std::vector<std::string> scheds_;
  std::vector<Proc> procs_;
  bool stopped_ = false;
};

// Where `name` (e.g. "berth-lockd") is, following the order above.
absl::StatusOr<std::string> FindBerthBinary(const std::string& name,
                                            const std::string& bin_dir);

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMANDS_BENCH_START_CLUSTER_H_
