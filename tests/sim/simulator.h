// Simulator: one seed's run of a whole Raft cluster in one thread.
//
// Everything nondeterministic (message order, loss, duplication, delay,
// partitions, crashes and where in the Ready loop they strike, membership
// changes, leader transfers, compaction, client operations, and each core's
// own Config.seed) is drawn from one std::mt19937_64 seeded with the run's
// seed, so a seed replays exactly.
//
// A run has two phases:
//  1. safety: `steps` ticks of random faults under a client workload
//     (sim_client.h) whose clients stick to the leader they last heard of;
//  2. liveness: faults healed and every member restarted; within
//     `liveness_ticks` a leader must commit a fresh entry and every member
//     must converge to the same applied state.
// Checkers (checkers.h, linearizability.h) judge it from outside; the first
// violation ends the run.
//
// Thread safety: none; a Simulator is used by one thread.
#ifndef BERTH_TESTS_SIM_SIMULATOR_H_
#define BERTH_TESTS_SIM_SIMULATOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/sim/checkers.h"
#include "tests/sim/sim_client.h"
#include "tests/sim/sim_network.h"
#include "tests/sim/sim_node.h"

namespace berth::sim {

struct SimOptions {
  uint64_t seed = 1;
  int nodes = 3;
  uint64_t steps = 1500;
  uint64_t liveness_ticks = 600;
  bool verbose = false;
  // Work around sim finding #1 (a joiner that is sent the log from index 1
  // never learns the bootstrap voters): before adding a learner, make every
  // member compact past index 1 so that joiners always get a snapshot.
  bool joiner_workaround = true;
  // Plants a known bug in every replica, to measure how many seeds the
  // checkers need to catch it: ReadIndex answered without confirming
  // leadership (raft::Config::test_only_unsafe_read_index_without_quorum).
  bool plant_stale_read = false;
  // Process pauses in the fault mix. Off, the pause slot isolates the leader
  // instead, so that the partition nemesis alone must produce the deposed
  // leader a client still talks to (berth-raft-sim --no-pauses).
  bool pauses = true;
  // Slow clocks in the fault mix (a node ticks at 1/2..1/5 of the rate for
  // a while): its election and check-quorum timers fire late, as they do
  // under clock skew. berth-raft-sim --no-slow-clocks leaves them out.
  bool slow_clocks = true;
};

struct SimResult {
  bool ok = true;
  std::string violation;  // set when !ok
  // Figures for the summary line.
  uint64_t ticks = 0;
  uint64_t committed = 0;
  uint64_t ops = 0;
  uint64_t unknown_ops = 0;
  uint64_t crashes = 0;
  uint64_t conf_changes = 0;
  uint64_t leaders = 0;
  uint64_t snapshots_installed = 0;
  uint64_t lin_states = 0;
  bool lin_gave_up = false;
  uint64_t pauses = 0;
  // Reads a client sent to a node that still believed it led, in a term
  // older than the newest leader's: what a ReadIndex bug would turn stale.
  uint64_t deposed_leader_reads = 0;
  // Of those, reads to a deposed leader that was cut off from a quorum by a
  // partition at the time: the old leader isolated in a minority with a
  // client still attached.
  uint64_t minority_leader_reads = 0;
};

class Simulator : public NodeObserver, public ClusterPort {
 public:
  explicit Simulator(const SimOptions& options);
  ~Simulator() override;

  SimResult Run();

  // NodeObserver.
  void Send(const raftpb::Message& m) override;
  bool ShouldCrash(uint64_t id, CrashPoint p) override;
  void Persisted(SimNode& node, const raft::Ready& rd) override;
  void Applied(uint64_t id, const raftpb::Entry& e,
               const ApplyResult& r) override;
  void ReadServed(uint64_t id, const std::string& ctx,
                  const std::string& value) override;
  void Trace(const std::string& line) override;

  // ClusterPort.
  absl::Status SubmitWrite(uint64_t node, uint64_t op_id, std::string payload,
                           LeaderHint* hint) override;
  absl::Status SubmitRead(uint64_t node, uint64_t op_id, const std::string& key,
                          LeaderHint* hint) override;

 private:
  // Fault mix of this seed, drawn once so seeds differ in character.
  struct Profile {
    double fault_rate;        // chance per tick of a fault action
    double ready_crash_rate;  // chance per Ready step of a power loss
    double restart_rate;      // chance per tick that a down node restarts
    double leader_kill;       // chance a new leader crashes within 3 ticks
    NetworkFaults net;
  };

  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  uint64_t Pick(uint64_t n) {
    return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_);
  }
  uint64_t NodeSeed(uint64_t id);
  void Fail(const std::string& what);
  void Check(const absl::Status& s);

  absl::Status AddNode(uint64_t id, const raft::MemoryStorage& initial);
  void RunTick(bool faults);
  void InjectFault();
  void CrashNode(uint64_t id);
  void RestartNode(uint64_t id);
  // SIGSTOP/SIGCONT: a paused node neither ticks nor receives; messages and
  // client requests to it wait, and are handled in its first tick back.
  void PauseNode(uint64_t id, uint64_t ticks);
  // Cuts `group` off from the other `all` nodes, and splits the clients
  // between the two sides (Workload::SplitClients).
  void Partition(const std::vector<uint64_t>& group,
                 const std::vector<uint64_t>& all);
  // False on the ticks a slow-clocked node's timer does not advance.
  bool ClockTicks(uint64_t id);
  bool Paused(uint64_t id) const { return paused_until_.contains(id); }
  // Up, not retired and not paused.
  bool Active(uint64_t id) const;
  // Client requests on a running node: a write is refused unless it leads
  // (lockd's RequireLeader); a read goes through ReadIndex.
  absl::Status HandleWrite(uint64_t node, std::string payload,
                           LeaderHint* hint);
  absl::Status HandleRead(uint64_t node, uint64_t op_id, const std::string& key,
                          LeaderHint* hint);
  // True if `id` reaches (both ways) fewer than a majority of the members.
  bool InMinority(uint64_t id) const;
  // What node `id`'s response header would say.
  LeaderHint HeaderOf(uint64_t id);
  void ChangeMembership();
  void HandleMembershipEvents();
  // Joiner workaround: true once every member's log starts after index 1.
  bool EveryoneCompacted();
  // Live members (not retired) in id order; up ones only if `up_only`.
  std::vector<uint64_t> Members(bool up_only) const;
  // The active node that reports itself leader with the highest term, or 0.
  uint64_t Leader();
  void CheckLogs();
  bool LivenessPhase();
  void CheckHistory();

  SimOptions options_;
  std::mt19937_64 rng_;
  Profile profile_;
  NodeOptions node_options_;
  SimNetwork network_;
  Workload workload_;
  SafetyChecker checker_;
  std::map<uint64_t, std::unique_ptr<SimNode>> nodes_;
  std::set<uint64_t> retired_;
  std::set<uint64_t> learners_;  // added, not yet promoted
  std::set<uint64_t> applied_ops_;
  // Role and term each up node last reported (after persisting).
  struct SoftView {
    raft::Role role = raft::Role::kFollower;
    uint64_t term = 0;
  };
  std::map<uint64_t, SoftView> soft_;
  // Conf changes applied during the current event, acted on after it.
  std::vector<raftpb::ConfChange> membership_events_;
  // Crashes scheduled for a tick (new leaders killed young).
  std::multimap<uint64_t, uint64_t> scheduled_crashes_;
  // Paused node -> tick it resumes at, and the client requests waiting in
  // its sockets.
  struct DeferredRequest {
    bool read = false;
    uint64_t op_id = 0;
    std::string data;  // payload (write) or key (read)
  };
  std::map<uint64_t, uint64_t> paused_until_;
  struct SlowClock {
    uint64_t factor = 1;  // the node ticks once every `factor` ticks
    uint64_t until = 0;
  };
  std::map<uint64_t, SlowClock> slow_clocks_;
  std::map<uint64_t, std::vector<DeferredRequest>> deferred_;
  uint64_t next_id_ = 0;
  uint64_t incarnations_ = 0;
  uint64_t now_ = 0;
  bool in_liveness_ = false;
  SimResult result_;
};

}  // namespace berth::sim

#endif  // BERTH_TESTS_SIM_SIMULATOR_H_
