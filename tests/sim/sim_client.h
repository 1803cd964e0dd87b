// Workload: simulated clients issuing put/get/cas on a small key set and
// recording every invocation and answer in a History (see history.h).
//
// Each client has at most one operation outstanding. Writes are proposed
// through a node and answered when that node applies them; reads go through
// ReadIndex. A write that gets no answer before its timeout, or whose node
// crashes, is recorded with an unknown outcome (it may still commit later);
// writes are never retried under the same op id, the client moves on to a new
// operation (and usually another node). A definite refusal (Propose fails
// because no leader is known) means the op never entered the log, so it is
// left out of the history.
//
// Thread safety: none. The RNG is borrowed and must outlive the workload.
#ifndef BERTH_TESTS_SIM_SIM_CLIENT_H_
#define BERTH_TESTS_SIM_SIM_CLIENT_H_

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tests/sim/history.h"

namespace berth::sim {

// How the workload reaches the cluster. `payload` is the encoded KvCommand
// for writes and the ReadIndex context for reads.
class ClusterPort {
 public:
  virtual ~ClusterPort() = default;
  virtual absl::Status SubmitWrite(uint64_t node, std::string payload) = 0;
  virtual absl::Status SubmitRead(uint64_t node, const std::string& ctx,
                                  const std::string& key) = 0;
};

struct WorkloadOptions {
  int clients = 4;
  int keys = 3;
  uint64_t timeout_ticks = 60;
  double start_probability = 0.3;  // per idle client per tick
  double leader_affinity = 0.8;    // chance to pick the believed leader
};

class Workload {
 public:
  Workload(const WorkloadOptions& options, std::mt19937_64* rng);

  // Expires timed-out operations; if `start_new`, idle clients may start
  // operations against nodes in `up`, preferring `leader_hint` (0 if none).
  void Tick(uint64_t now, const std::vector<uint64_t>& up, uint64_t leader_hint,
            ClusterPort& port, bool start_new);
  // Node `node` applied client op `op_id` with result `ok`.
  void OnApplied(uint64_t node, uint64_t op_id, bool ok);
  void OnReadServed(uint64_t node, const std::string& ctx,
                    const std::string& value);
  // A crash loses the node's connections: outstanding ops become unknown.
  void OnNodeDown(uint64_t node);
  // Everything still outstanding becomes unknown (end of run).
  void Finish();

  bool idle() const;
  const History& history() const { return history_; }
  History& mutable_history() { return history_; }

 private:
  struct Client {
    int id = 0;
    size_t pending = kNone;  // index into history_, or kNone
    uint64_t node = 0;
    uint64_t deadline = 0;
    std::vector<std::string> seen;  // values this client has observed
  };
  static constexpr size_t kNone = static_cast<size_t>(-1);

  void Start(Client& c, uint64_t now, const std::vector<uint64_t>& up,
             uint64_t leader_hint, ClusterPort& port);
  void Complete(Client& c, Outcome outcome, const std::string* read_value);
  void GiveUp(Client& c);

  WorkloadOptions options_;
  std::mt19937_64* rng_;
  std::vector<Client> clients_;
  History history_;
  uint64_t next_op_id_ = 1;
  uint64_t logical_time_ = 0;
};

std::string ReadContext(uint64_t op_id);

}  // namespace berth::sim

#endif  // BERTH_TESTS_SIM_SIM_CLIENT_H_
