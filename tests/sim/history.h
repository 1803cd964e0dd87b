// History of client operations on the simulated KV store, as the clients saw
// them: what was invoked, when, and what (if anything) came back.
//
// Timestamps are logical: one global counter that every invocation and every
// response advances, so `a.ret < b.call` means a finished before b started.
// An operation whose outcome the client never learned has kPending outcome
// and ret == kNever; it may have taken effect at any point after its call,
// or not at all.
//
// Plain value types; no thread-safety concerns.
#ifndef BERTH_TESTS_SIM_HISTORY_H_
#define BERTH_TESTS_SIM_HISTORY_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace berth::sim {

inline constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

enum class OpKind { kPut, kGet, kCas };
enum class Outcome {
  kOk,       // put done; get returned `value`; cas swapped
  kFailed,   // cas compared unequal (no effect)
  kUnknown,  // no answer: may or may not have taken effect
};

struct Op {
  uint64_t id = 0;
  int client = 0;
  OpKind kind = OpKind::kPut;
  std::string key;
  // put/cas: the value written. get: the value read ("" = absent).
  std::string value;
  // cas: the value compared against ("" = absent).
  std::string expected;
  uint64_t call = 0;
  uint64_t ret = kNever;
  Outcome outcome = Outcome::kUnknown;
};

using History = std::vector<Op>;

const char* OpKindName(OpKind k);
std::string DescribeOp(const Op& op);

}  // namespace berth::sim

#endif  // BERTH_TESTS_SIM_HISTORY_H_
