// The fault schedule: rounds of (pick a fault from a seeded RNG, apply it,
// hold it, heal it, let the cluster settle), until a deadline; then every
// fault is healed and every replica restarted and resumed.
//
// The seed fixes the sequence of fault kinds, targets' roles (leader or
// not) and durations; which replica is leader at a given moment depends on
// timing, so a replay repeats the schedule, not the exact interleaving.
//
// Thread safety: Run blocks its (the nemesis) thread; the counters are read
// after it returns.
#ifndef BERTH_TESTS_NEMESIS_NEMESIS_H_
#define BERTH_TESTS_NEMESIS_NEMESIS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tests/nemesis/network.h"
#include "tests/nemesis/replicas.h"
#include "tests/nemesis/schedulers.h"

namespace berth::nemesis {

enum class Fault {
  kIsolateLeader,      // leader's link down: cut from peers and clients
  kPartitionLeader,    // leader cut from its peers only; clients reach it
  kPartitionFollower,  // one follower cut from its peers
  kBridge,             // leader and one follower cut; the third sees both
  kSlowLink,           // tbf shaper on one replica's link (no netem here)
  kPauseLeader,        // SIGSTOP the leader
  kPauseReplica,       // SIGSTOP a random replica
  kKillLeader,         // kill -9 the leader, restart at heal
  kKillReplica,        // kill -9 a random replica, restart at heal
  kFullDisk,           // fill a replica's tmpfs data dir, free at heal
  kPauseClient,        // SIGSTOP a lock contender past its session TTL
  kClockSkew,          // step one replica's wall clock by +-10..60 s
  // Only with the scheduler workloads (a Schedulers to act on):
  kPartitionScheduler,  // scheduler leader cut from every lockd replica
  kPauseScheduler,      // SIGSTOP the scheduler leader past its session TTL
  kKillScheduler,       // kill -9 the scheduler leader, restart at heal
};

const char* FaultName(Fault f);
std::vector<Fault> AllFaults();
bool IsSchedulerFault(Fault f);

struct NemesisOptions {
  uint64_t seed = 1;
  absl::Duration duration = absl::Minutes(2);
  std::vector<Fault> faults = AllFaults();
  // Pauses one client (pause=true, `pick` chooses which) or resumes all.
  std::function<void(bool pause, uint64_t pick)> pause_client;
};

// When a fault was applied, healed, and a scheduler leader seen again
// (`recovered` is `healed` without schedulers, and heal + 15 s when no
// leader came back).
struct FaultWindow {
  Fault fault;
  absl::Time applied;
  absl::Time healed;
  absl::Time recovered;
};

struct NemesisReport {
  std::map<Fault, int> injected;
  std::vector<FaultWindow> windows;
  int rounds = 0;
  // Replica exits the nemesis did not cause, outside full-disk rounds: a
  // crash under network or process faults is a bug.
  std::vector<std::string> unexpected_exits;
  // Exits while its disk was full (fail-stop on ENOSPC).
  int full_disk_exits = 0;
  // Rounds that ended with no leader within 10 s of the heal.
  int slow_recoveries = 0;
  absl::Duration max_recovery;
  // With schedulers: rounds with no scheduler leader 15 s after the heal,
  // and the slowest time to one.
  int sched_slow_recoveries = 0;
  absl::Duration sched_max_recovery;
  std::vector<std::string> errors;  // a fault that could not be applied
};

class Nemesis {
 public:
  // Borrows all three, which must outlive it; `schedulers` may be null
  // (no scheduler faults then).
  Nemesis(Network* net, Replicas* replicas, Schedulers* schedulers,
          NemesisOptions options)
      : net_(net),
        replicas_(replicas),
        schedulers_(schedulers),
        options_(std::move(options)),
        rng_(options_.seed) {}

  NemesisReport Run();
  // Heals everything: links, routes, shapers, pauses, disks, dead replicas.
  void HealAll(NemesisReport* report);

 private:
  struct Applied {
    Fault fault;
    int target = 0;  // replica (or client pick) the fault hit
  };
  absl::Status Apply(Fault f, Applied* a);
  void Heal(const Applied& a, NemesisReport* report);
  int PickReplica(bool prefer_leader);
  int PickSchedulerLeader();
  // Returns when a scheduler leader was seen (now, without schedulers).
  absl::Time AwaitSchedulerLeader(NemesisReport* report);
  void Note(const std::string& line);
  void ReapInto(NemesisReport* report, bool disk_full, int disk_target);

  Network* net_;
  Replicas* replicas_;
  Schedulers* schedulers_;
  NemesisOptions options_;
  std::mt19937_64 rng_;
  absl::Time start_ = absl::Now();
};

}  // namespace berth::nemesis

#endif  // BERTH_TESTS_NEMESIS_NEMESIS_H_
