#include "tests/sim/linearizability.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::sim {

const char* OpKindName(OpKind k) {
  switch (k) {
    case OpKind::kPut:
      return "put";
    case OpKind::kGet:
      return "get";
    case OpKind::kCas:
      return "cas";
  }
  return "?";
}

std::string DescribeOp(const Op& op) {
  std::string s = absl::StrCat("op ", op.id, " c", op.client, " ",
                               OpKindName(op.kind), "(", op.key);
  if (op.kind == OpKind::kCas) absl::StrAppend(&s, ", '", op.expected, "'");
  if (op.kind != OpKind::kGet) absl::StrAppend(&s, ", '", op.value, "'");
  absl::StrAppend(&s, ")");
  if (op.kind == OpKind::kGet && op.outcome == Outcome::kOk) {
    absl::StrAppend(&s, " -> '", op.value, "'");
  }
  if (op.outcome == Outcome::kFailed) absl::StrAppend(&s, " -> failed");
  if (op.outcome == Outcome::kUnknown) absl::StrAppend(&s, " -> unknown");
  absl::StrAppend(&s, " [", op.call, ", ",
                  op.ret == kNever ? std::string("inf") : absl::StrCat(op.ret),
                  "]");
  return s;
}

namespace {

// One key's search. Values are interned to ints; 0 is "absent".
class KeySearch {
 public:
  KeySearch(std::vector<const Op*> ops, uint64_t max_states)
      : ops_(std::move(ops)), max_states_(max_states) {
    std::sort(ops_.begin(), ops_.end(),
              [](const Op* a, const Op* b) { return a->call < b->call; });
    Intern("");  // id 0: absent
    for (const Op* op : ops_) {
      value_.push_back(Intern(op->value));
      expected_.push_back(Intern(op->expected));
      if (op->outcome != Outcome::kUnknown) ++completed_total_;
    }
    linearized_.assign((ops_.size() + 63) / 64 + 1, 0);
  }

  LinearizabilityResult Run() {
    LinearizabilityResult r;
    const bool ok = Search(0, 0);
    r.states_explored = seen_.size();
    if (ok) return r;
    r.verdict = gave_up_ ? LinearizabilityResult::Verdict::kGaveUp
                         : LinearizabilityResult::Verdict::kViolation;
    std::vector<std::string> stuck;
    for (size_t i : best_candidates_) stuck.push_back(DescribeOp(*ops_[i]));
    r.explanation =
        absl::StrCat(gave_up_ ? "search budget exhausted; " : "",
                     "deepest consistent prefix linearizes ", best_depth_,
                     " of ", completed_total_,
                     " completed ops ending with value '", names_[best_value_],
                     "'; no next op fits among: ", absl::StrJoin(stuck, "; "));
    return r;
  }

 private:
  int Intern(const std::string& v) {
    auto it = values_.find(v);
    if (it != values_.end()) return it->second;
    const int id = static_cast<int>(names_.size());
    names_.push_back(v);
    values_.emplace(v, id);
    return id;
  }

  bool IsSet(size_t i) const { return (linearized_[i / 64] >> (i % 64)) & 1; }
  void Flip(size_t i) { linearized_[i / 64] ^= uint64_t{1} << (i % 64); }

  // Returns the register value after op i, or -1 if op i cannot take effect
  // on `value` with its recorded outcome. For unknown ops, -2 means "would
  // have no effect" (equivalent to never happening, so not worth a branch).
  int Apply(size_t i, int value) const {
    const Op& op = *ops_[i];
    switch (op.kind) {
      case OpKind::kPut:
        return value_[i];
      case OpKind::kGet:
        return value == value_[i] ? value : -1;
      case OpKind::kCas:
        if (op.outcome == Outcome::kFailed) {
          return value != expected_[i] ? value : -1;
        }
        if (value == expected_[i]) return value_[i];
        return op.outcome == Outcome::kUnknown ? -2 : -1;
    }
    return -1;
  }

  bool Search(uint64_t done_completed, int value) {
    if (done_completed == completed_total_) return true;
    if (seen_.size() >= max_states_) {
      gave_up_ = true;
      return false;
    }
    linearized_.back() = static_cast<uint64_t>(value);
    if (!seen_.insert(linearized_).second) return false;

    // Candidates: unlinearized ops invoked before every unlinearized
    // completed op returned. Ops are sorted by call, so the scan can stop at
    // the first call at or after the running minimum return.
    uint64_t min_ret = kNever;
    std::vector<size_t> scanned;
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (IsSet(i)) continue;
      if (ops_[i]->call >= min_ret) break;
      scanned.push_back(i);
      min_ret = std::min(min_ret, ops_[i]->ret);
    }
    std::vector<size_t> candidates;
    for (size_t i : scanned) {
      if (ops_[i]->call < min_ret) candidates.push_back(i);
    }
    // Completed ops first: they must go eventually, unknown ones need not.
    std::stable_partition(candidates.begin(), candidates.end(), [&](size_t i) {
      return ops_[i]->outcome != Outcome::kUnknown;
    });
    if (done_completed >= best_depth_) {
      best_depth_ = done_completed;
      best_value_ = value;
      best_candidates_ = candidates;
    }
    for (size_t i : candidates) {
      const int next = Apply(i, value);
      if (next < 0) continue;
      Flip(i);
      const bool completed = ops_[i]->outcome != Outcome::kUnknown;
      const bool ok = Search(done_completed + (completed ? 1 : 0), next);
      Flip(i);
      if (ok) return true;
      if (gave_up_) return false;
    }
    return false;
  }

  std::vector<const Op*> ops_;
  uint64_t max_states_;
  std::map<std::string, int> values_;
  std::vector<std::string> names_;
  std::vector<int> value_;
  std::vector<int> expected_;
  uint64_t completed_total_ = 0;
  // Bitset of linearized ops; the last word holds the register value while
  // hashing, so one vector is the whole memo key.
  std::vector<uint64_t> linearized_;
  absl::flat_hash_set<std::vector<uint64_t>> seen_;
  bool gave_up_ = false;
  uint64_t best_depth_ = 0;
  int best_value_ = 0;
  std::vector<size_t> best_candidates_;
};

}  // namespace

LinearizabilityResult CheckLinearizable(const History& history,
                                        uint64_t max_states) {
  std::map<std::string, std::vector<const Op*>> by_key;
  for (const Op& op : history) {
    if (op.kind == OpKind::kGet && op.outcome == Outcome::kUnknown) continue;
    by_key[op.key].push_back(&op);
  }
  LinearizabilityResult total;
  for (auto& [key, ops] : by_key) {
    KeySearch search(std::move(ops), max_states);
    LinearizabilityResult r = search.Run();
    total.states_explored += r.states_explored;
    if (r.verdict != LinearizabilityResult::Verdict::kLinearizable) {
      r.key = key;
      r.explanation = absl::StrCat("key '", key, "': ", r.explanation);
      r.states_explored = total.states_explored;
      return r;
    }
  }
  return total;
}

}  // namespace berth::sim
