// Lock history: parses the per-contender history files written by
// berth-e2e-contender and judges them against what the store holds.
//
// The checks, in the terms of issue #3:
//  (a) grants, ordered by when their holder learned of them, carry strictly
//      increasing fencing tokens;
//  (b) the server never accepted a write from a stale holder: stored
//      guarded writes ordered by mod_revision have non-decreasing tokens
//      (so tokens' write intervals never interleave), and every write landed
//      after its own grant and before the next known grant;
//  (c) every write acknowledged ok is in the store.
//
// Thread safety: plain values and pure functions.
#ifndef BERTH_TESTS_E2E_LOCK_HISTORY_H_
#define BERTH_TESTS_E2E_LOCK_HISTORY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::e2e {

struct HistoryEvent {
  enum class Kind { kAcquire, kWrite, kRelease, kLost };
  Kind kind = Kind::kAcquire;
  int64_t token = 0;
  int64_t t_ns = 0;      // CLOCK_MONOTONIC
  std::string key;       // writes
  std::string outcome;   // writes: ok|stale|unknown|error; releases: ok|error
  int64_t revision = 0;  // writes acknowledged ok
  int contender = 0;
};

// Parses one contender's file. A line that does not parse is an error
// naming the line.
absl::StatusOr<std::vector<HistoryEvent>> ParseHistory(absl::string_view text,
                                                       int contender);

// A stored guarded write, read back after the run.
struct StoredWrite {
  int64_t mod_revision = 0;
  int64_t version = 0;
};

struct HistoryStats {
  int grants = 0;
  int writes_ok = 0;
  int writes_stale = 0;
  int writes_unknown = 0;
  int writes_error = 0;
  int sessions_lost = 0;
  int stored_writes = 0;
  int unknown_applied = 0;  // outcome-unknown writes found in the store
};

// Returns every violation found (empty: the history is safe). `stored` maps
// each key under the history prefix to its stored revision; keys must be
// "<prefix><token>-<n>".
std::vector<std::string> CheckHistory(
    const std::vector<HistoryEvent>& events,
    const std::map<std::string, StoredWrite>& stored, HistoryStats* stats);

// The token encoded in a history key ("/e2e/hist/<token>-<n>"); 0 if none.
int64_t TokenOfKey(absl::string_view key);

}  // namespace berth::e2e

#endif  // BERTH_TESTS_E2E_LOCK_HISTORY_H_
