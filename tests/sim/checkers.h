// Safety checkers that judge a simulated run from outside the replicas. They
// see only what an omniscient observer could record: the role and term each
// node reported, the entries each node applied, and the nodes' durable logs.
//
//  * Election safety (§5.2): at most one leader per term, over the whole run.
//  * State machine safety (§5.4.3): no two nodes apply different entries at
//    the same index.
//  * Leader completeness (§5.4): when a node becomes leader of term T, its
//    log holds every entry known to be committed in a term before T. A
//    leader of an old term may win late (its votes were held up, e.g. while
//    it was paused) after later terms committed entries; those entries are
//    not owed to it, and it can commit nothing itself.
//  * Log matching (§5.3): if two logs hold an entry with the same index and
//    term, the logs are identical up to that index.
//
// Each check returns absl::InternalError describing the first violation.
// Thread safety: none.
#ifndef BERTH_TESTS_SIM_CHECKERS_H_
#define BERTH_TESTS_SIM_CHECKERS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "lockservice/raft/storage.h"
#include "proto/raft.pb.h"

namespace berth::sim {

class SafetyChecker {
 public:
  struct Committed {
    uint64_t term = 0;
    raftpb::EntryType type = raftpb::ENTRY_NORMAL;
    std::string data;
    uint64_t first_node = 0;  // who applied it first, for reports
    // The highest leader term seen when it was first applied: it was
    // committed in that term or earlier.
    uint64_t committed_by = 0;
  };

  absl::Status ObserveLeader(uint64_t id, uint64_t term);
  absl::Status ObserveApplied(uint64_t node, const raftpb::Entry& e);
  // `log` is the new leader's log as persisted at the moment it won.
  absl::Status CheckLeaderCompleteness(uint64_t id, uint64_t term,
                                       raft::Storage& log) const;

  const std::map<uint64_t, Committed>& committed() const { return committed_; }
  const std::map<uint64_t, uint64_t>& leaders() const { return leaders_; }

 private:
  std::map<uint64_t, uint64_t> leaders_;  // term -> leader id
  std::map<uint64_t, Committed> committed_;
};

// Log matching over every pair of `logs` (node id -> its durable log).
absl::Status CheckLogMatching(const std::map<uint64_t, raft::Storage*>& logs);

}  // namespace berth::sim

#endif  // BERTH_TESTS_SIM_CHECKERS_H_
