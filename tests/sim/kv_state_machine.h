// KvStateMachine: the replicated KV map the simulator runs on top of Raft.
// Entries carry a sim.KvCommand (put or compare-and-swap). Each op id takes
// effect at most once, so a proposal that the network duplicated is applied
// once; its recorded result answers any later copy.
//
// The object is a plain value (copyable): the node keeps a "durable" copy to
// model a state machine whose on-disk image lags its in-memory one.
//
// Thread safety: none.
#ifndef BERTH_TESTS_SIM_KV_STATE_MACHINE_H_
#define BERTH_TESTS_SIM_KV_STATE_MACHINE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "proto/raft.pb.h"
#include "tests/sim/sim.pb.h"

namespace berth::sim {

struct ApplyResult {
  uint64_t op_id = 0;  // 0 for entries that carry no client op
  bool ok = false;     // put: true; cas: whether it swapped
};

class KvStateMachine {
 public:
  static std::string EncodePut(uint64_t op_id, const std::string& key,
                               const std::string& value);
  static std::string EncodeCas(uint64_t op_id, const std::string& key,
                               const std::string& expected,
                               const std::string& value);

  // Applies entry `e`, which must be the entry right after applied().
  // Conf-change entries and empty entries only advance applied().
  absl::StatusOr<ApplyResult> Apply(const raftpb::Entry& e);

  // "" when the key is absent.
  std::string Get(const std::string& key) const;
  uint64_t applied() const { return applied_; }

  std::string Serialize() const;
  // Replaces the whole state with a snapshot image taken at `index`.
  absl::Status Restore(const std::string& data, uint64_t index);

 private:
  uint64_t applied_ = 0;
  std::map<std::string, std::string> data_;
  std::map<uint64_t, bool> results_;
};

}  // namespace berth::sim

#endif  // BERTH_TESTS_SIM_KV_STATE_MACHINE_H_
