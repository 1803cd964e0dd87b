#include "tests/sim/checkers.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace berth::sim {

absl::Status SafetyChecker::ObserveLeader(uint64_t id, uint64_t term) {
  auto [it, inserted] = leaders_.emplace(term, id);
  if (!inserted && it->second != id) {
    return absl::InternalError(
        absl::StrCat("election safety: nodes ", it->second, " and ", id,
                     " were both leader in term ", term));
  }
  return absl::OkStatus();
}

absl::Status SafetyChecker::ObserveApplied(uint64_t node,
                                           const raftpb::Entry& e) {
  const uint64_t newest_leader =
      leaders_.empty() ? 0 : leaders_.rbegin()->first;
  auto [it, inserted] = committed_.emplace(
      e.index(), Committed{e.term(), e.type(), e.data(), node, newest_leader});
  if (inserted) return absl::OkStatus();
  const Committed& c = it->second;
  if (c.term != e.term() || c.type != e.type() || c.data != e.data()) {
    return absl::InternalError(absl::StrCat(
        "state machine safety: at index ", e.index(), " node ", c.first_node,
        " applied an entry of term ", c.term, " but node ", node,
        " applied an entry of term ", e.term(),
        c.data == e.data() ? " (same data)" : " (different data)"));
  }
  return absl::OkStatus();
}

absl::Status SafetyChecker::CheckLeaderCompleteness(uint64_t id, uint64_t term,
                                                    raft::Storage& log) const {
  const uint64_t first = log.FirstIndex();
  const uint64_t last = log.LastIndex();
  for (auto it = committed_.lower_bound(first); it != committed_.end(); ++it) {
    const uint64_t i = it->first;
    // Possibly committed in this term or a later one: not owed (above).
    if (it->second.committed_by >= term) continue;
    if (i > last) {
      return absl::InternalError(absl::StrCat(
          "leader completeness: node ", id, " became leader of term ", term,
          " with last index ", last, " but entry ", i, " (term ",
          it->second.term, ") was already committed"));
    }
    absl::StatusOr<uint64_t> t = log.Term(i);
    if (!t.ok() || *t != it->second.term) {
      return absl::InternalError(absl::StrCat(
          "leader completeness: node ", id, " became leader of term ", term,
          " holding term ", t.ok() ? absl::StrCat(*t) : t.status().ToString(),
          " at index ", i, " where term ", it->second.term,
          " was already committed"));
    }
  }
  return absl::OkStatus();
}

namespace {

absl::Status MatchPair(uint64_t a_id, raft::Storage& a, uint64_t b_id,
                       raft::Storage& b) {
  const uint64_t lo = std::max(a.FirstIndex(), b.FirstIndex());
  const uint64_t hi = std::min(a.LastIndex(), b.LastIndex());
  if (lo > hi) return absl::OkStatus();
  absl::StatusOr<std::vector<raftpb::Entry>> ea = a.Entries(lo, hi + 1, ~0ull);
  absl::StatusOr<std::vector<raftpb::Entry>> eb = b.Entries(lo, hi + 1, ~0ull);
  if (!ea.ok() || !eb.ok()) {
    return absl::InternalError(absl::StrCat(
        "log matching: cannot read logs of nodes ", a_id, " and ", b_id, ": ",
        ea.status().ToString(), " / ", eb.status().ToString()));
  }
  // The highest index where both hold the same term: everything from `lo`
  // up to it must be identical.
  size_t n = std::min(ea->size(), eb->size());
  size_t top = n;
  while (top > 0 && (*ea)[top - 1].term() != (*eb)[top - 1].term()) --top;
  for (size_t k = 0; k < top; ++k) {
    const raftpb::Entry& x = (*ea)[k];
    const raftpb::Entry& y = (*eb)[k];
    if (x.index() != y.index() || x.term() != y.term() ||
        x.type() != y.type() || x.data() != y.data()) {
      return absl::InternalError(
          absl::StrCat("log matching: nodes ", a_id, " and ", b_id,
                       " agree on entry ", (*ea)[top - 1].index(), " (term ",
                       (*ea)[top - 1].term(), ") but differ at index ",
                       x.index(), " (terms ", x.term(), " vs ", y.term(), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckLogMatching(const std::map<uint64_t, raft::Storage*>& logs) {
  for (auto a = logs.begin(); a != logs.end(); ++a) {
    for (auto b = std::next(a); b != logs.end(); ++b) {
      absl::Status s = MatchPair(a->first, *a->second, b->first, *b->second);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::sim
