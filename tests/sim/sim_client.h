// Workload: simulated clients issuing put/get/cas on a small key set and
// recording every invocation and answer in a History (see history.h).
//
// Clients route the way the real client library does (lockservice/client,
// internal/router.h): each sticks to the replica it last learned leads, from
// response headers and from the leader hint of a "not leader" refusal, and
// moves on only when told so or when a call times out or its replica is
// unreachable; then it forgets the leader and tries the members in turn. It
// never consults the simulator's omniscient view. So a client keeps sending
// to a leader that has been cut off (partitioned, paused) until that leader
// says otherwise, which is when a deposed leader could serve a stale read.
//
// Writes must go to the leader (lockd's RequireLeader: a follower refuses
// with a hint) and are answered when that node applies them. Reads go
// through ReadIndex on whichever node the client picked (a follower forwards
// the request to its leader), as lockd's linearizable reads do.
//
// Each client has at most one operation outstanding. A write that gets no
// answer before its timeout, or whose node crashes, is recorded with an
// unknown outcome (it may still commit later); writes are never retried under
// the same op id, the client moves on to a new operation. A definite refusal
// means the op never entered any log, so it is left out of the history.
// Clients differ in pace: some are busy, some lazy (rarely active, so their
// idea of the leader can be old by the time they next call).
//
// Thread safety: none. The RNG is borrowed and must outlive the workload.
#ifndef BERTH_TESTS_SIM_SIM_CLIENT_H_
#define BERTH_TESTS_SIM_SIM_CLIENT_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tests/sim/history.h"

namespace berth::sim {

// What an answer tells a client about who leads: lockd's response header, or
// the "leader=<id>" hint of a refusal. leader 0 = the replica knows none.
struct LeaderHint {
  uint64_t term = 0;
  uint64_t leader = 0;
};

// How the workload reaches the cluster. A non-OK status is a refusal (the op
// had no effect): Unavailable when the node cannot be reached, otherwise the
// node's refusal with `hint` filled in. Writes carry the encoded KvCommand;
// reads use ReadContext(op_id) as the ReadIndex context.
class ClusterPort {
 public:
  virtual ~ClusterPort() = default;
  virtual absl::Status SubmitWrite(uint64_t node, uint64_t op_id,
                                   std::string payload, LeaderHint* hint) = 0;
  virtual absl::Status SubmitRead(uint64_t node, uint64_t op_id,
                                  const std::string& key, LeaderHint* hint) = 0;
};

struct WorkloadOptions {
  int clients = 5;
  int lazy_clients = 2;  // of `clients`
  int keys = 3;
  // Each call's deadline is drawn from [min, max] ticks: callers pick their
  // own (election timeouts are 10..20 ticks), and one that gives up early
  // goes looking for the new leader while others still wait on the old.
  uint64_t min_timeout_ticks = 15;
  uint64_t max_timeout_ticks = 90;
  double busy_start_probability = 0.3;  // per idle client per tick
  double lazy_start_probability = 0.03;
  // Attempts per operation within one tick (redirects and unreachable nodes).
  int max_attempts = 3;
};

class Workload {
 public:
  Workload(const WorkloadOptions& options, std::mt19937_64* rng);

  // Expires timed-out operations; if `start_new`, idle clients may start
  // operations. `members` are the cluster's members (up or not), the
  // endpoints a client tries when it knows no leader.
  void Tick(uint64_t now, const std::vector<uint64_t>& members,
            ClusterPort& port, bool start_new);
  // Node `node` applied client op `op_id` with result `ok`.
  void OnApplied(uint64_t node, uint64_t op_id, bool ok,
                 const LeaderHint& header);
  void OnReadServed(uint64_t node, const std::string& ctx,
                    const std::string& value, const LeaderHint& header);
  // A request accepted earlier was refused when the node got to it (it sat
  // in a paused node's socket): the op had no effect.
  void OnRefused(uint64_t node, uint64_t op_id, const LeaderHint& hint);
  // A crash loses the node's connections: outstanding ops become unknown.
  void OnNodeDown(uint64_t node);
  // Everything still outstanding becomes unknown (end of run).
  void Finish();
  // A partition splits the clients too (they live on the same network):
  // each client independently ends up with `group`, with the other `all`
  // nodes, or (a third of them) still reaching both sides. A client cannot
  // reach the nodes on the far side (its attempt fails at once, as a refused
  // connection does) and their answers to it are lost (it times out). So the
  // clients on the majority side go looking for the new leader while those
  // left with an isolated leader keep talking to it.
  void SplitClients(const std::vector<uint64_t>& group,
                    const std::vector<uint64_t>& all);
  void HealClients();

  bool idle() const;
  const History& history() const { return history_; }
  History& mutable_history() { return history_; }

 private:
  struct Client {
    int id = 0;
    double start_probability = 0;
    size_t pending = kNone;  // index into history_, or kNone
    uint64_t node = 0;
    uint64_t deadline = 0;
    uint64_t leader = 0;            // sticky target; 0 = unknown
    uint64_t max_term = 0;          // highest term any answer carried
    size_t next = 0;                // round-robin position among members
    std::vector<std::string> seen;  // values this client has observed
    std::vector<uint64_t> cut;      // nodes it cannot reach (partition)
  };
  static constexpr size_t kNone = static_cast<size_t>(-1);

  void Start(Client& c, uint64_t now, const std::vector<uint64_t>& members,
             ClusterPort& port);
  // The node the next attempt goes to (Router::Pick).
  uint64_t Pick(Client& c, const std::vector<uint64_t>& members) const;
  void NoteHeader(Client& c, const LeaderHint& h);
  // `node` failed to answer: forget it as leader, move on (NoteFailure).
  void NoteFailure(Client& c, uint64_t node,
                   const std::vector<uint64_t>& members);
  static bool Reaches(const Client& c, uint64_t node);
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
