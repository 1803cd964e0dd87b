// Linearizability checker for the simulated KV store (a map of registers with
// put, get and compare-and-swap).
//
// The history is split per key (registers compose: a history is linearizable
// iff each key's sub-history is), then each key is searched in the style of
// Wing & Gong with Lowe's memoization: depth-first over "which operation
// takes effect next", pruning states already seen as (set of linearized
// operations, register value).
//
// Unknown-outcome operations (Outcome::kUnknown) have no response: they may
// be linearized at any point after their invocation, or never. Gets with an
// unknown outcome observe nothing and are ignored.
//
// Thread safety: stateless functions.
#ifndef BERTH_TESTS_SIM_LINEARIZABILITY_H_
#define BERTH_TESTS_SIM_LINEARIZABILITY_H_

#include <cstdint>
#include <string>

#include "tests/sim/history.h"

namespace berth::sim {

struct LinearizabilityResult {
  enum class Verdict { kLinearizable, kViolation, kGaveUp };
  Verdict verdict = Verdict::kLinearizable;
  // On kViolation/kGaveUp: the key and a human-readable explanation.
  std::string key;
  std::string explanation;
  uint64_t states_explored = 0;
};

// `max_states` bounds the search per key; beyond it the verdict is kGaveUp
// (neither proof nor refutation).
LinearizabilityResult CheckLinearizable(const History& history,
                                        uint64_t max_states = 2'000'000);

}  // namespace berth::sim

#endif  // BERTH_TESTS_SIM_LINEARIZABILITY_H_
