#include "tests/sim/sim_client.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tests/sim/kv_state_machine.h"

namespace berth::sim {

std::string ReadContext(uint64_t op_id) { return absl::StrCat("r", op_id); }

Workload::Workload(const WorkloadOptions& options, std::mt19937_64* rng)
    : options_(options), rng_(rng) {
  for (int i = 0; i < options.clients; ++i) {
    Client c;
    c.id = i + 1;
    c.start_probability = i < options.clients - options.lazy_clients
                              ? options.busy_start_probability
                              : options.lazy_start_probability;
    clients_.push_back(std::move(c));
  }
}

bool Workload::idle() const {
  for (const Client& c : clients_) {
    if (c.pending != kNone) return false;
  }
  return true;
}

void Workload::Tick(uint64_t now, const std::vector<uint64_t>& members,
                    ClusterPort& port, bool start_new) {
  for (Client& c : clients_) {
    if (c.pending != kNone && now >= c.deadline) {
      // The real client's attempt deadline: the replica may be cut off.
      const uint64_t node = c.node;
      GiveUp(c);
      NoteFailure(c, node, members);
    }
    if (c.pending != kNone || members.empty() || !start_new) continue;
    if (std::bernoulli_distribution(c.start_probability)(*rng_)) {
      Start(c, now, members, port);
    }
  }
}

uint64_t Workload::Pick(Client& c, const std::vector<uint64_t>& members) const {
  if (c.leader != 0 &&
      std::find(members.begin(), members.end(), c.leader) != members.end()) {
    return c.leader;
  }
  return members[c.next % members.size()];
}

void Workload::NoteHeader(Client& c, const LeaderHint& h) {
  // An answer from an older term comes from a deposed leader and must not
  // send us back there (Router::NoteHeader).
  if (h.term < c.max_term) return;
  c.max_term = h.term;
  if (h.leader != 0) c.leader = h.leader;
}

void Workload::NoteFailure(Client& c, uint64_t node,
                           const std::vector<uint64_t>& members) {
  if (c.leader == node) c.leader = 0;
  if (!members.empty() && members[c.next % members.size()] == node) ++c.next;
}

void Workload::Start(Client& c, uint64_t now,
                     const std::vector<uint64_t>& members, ClusterPort& port) {
  Op op;
  op.id = next_op_id_++;
  op.client = c.id;
  op.key = absl::StrCat(
      "k", std::uniform_int_distribution<int>(1, options_.keys)(*rng_));
  const int dice = std::uniform_int_distribution<int>(0, 9)(*rng_);
  op.kind = dice < 4 ? OpKind::kGet : dice < 7 ? OpKind::kPut : OpKind::kCas;
  std::string payload;
  if (op.kind == OpKind::kPut) {
    op.value = absl::StrCat("v", op.id);
    payload = KvStateMachine::EncodePut(op.id, op.key, op.value);
  } else if (op.kind == OpKind::kCas) {
    op.value = absl::StrCat("v", op.id);
    // Mostly compare against something this client has seen, so that
    // some swaps succeed; sometimes against absent or a stale value.
    if (!c.seen.empty() && std::bernoulli_distribution(0.8)(*rng_)) {
      op.expected = c.seen[std::uniform_int_distribution<size_t>(
          0, c.seen.size() - 1)(*rng_)];
    }
    payload = KvStateMachine::EncodeCas(op.id, op.key, op.expected, op.value);
  }
  const uint64_t timeout = std::uniform_int_distribution<uint64_t>(
      options_.min_timeout_ticks, options_.max_timeout_ticks)(*rng_);
  // Refused attempts had no effect, so the op's interval starts at the
  // attempt that was accepted. The op is recorded before the attempt: a
  // node may answer within the call (a read with a planted bug does).
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    const uint64_t node = Pick(c, members);
    if (!Reaches(c, node)) {
      NoteFailure(c, node, members);
      continue;
    }
    op.call = ++logical_time_;
    history_.push_back(op);
    c.pending = history_.size() - 1;
    c.node = node;
    c.deadline = now + timeout;
    LeaderHint hint;
    const absl::Status s = op.kind == OpKind::kGet
                               ? port.SubmitRead(node, op.id, op.key, &hint)
                               : port.SubmitWrite(node, op.id, payload, &hint);
    if (s.ok()) return;
    history_.pop_back();
    c.pending = kNone;
    if (!absl::IsUnavailable(s) && hint.leader != 0 && hint.leader != node) {
      NoteHeader(c, hint);  // redirect
    } else {
      NoteFailure(c, node, members);
    }
  }
}

void Workload::Complete(Client& c, Outcome outcome,
                        const std::string* read_value) {
  Op& op = history_[c.pending];
  op.ret = ++logical_time_;
  op.outcome = outcome;
  if (read_value != nullptr) op.value = *read_value;
  const std::string& seen = op.value;
  if (!seen.empty() && outcome == Outcome::kOk) {
    c.seen.push_back(seen);
    if (c.seen.size() > 8) c.seen.erase(c.seen.begin());
  }
  c.pending = kNone;
}

void Workload::GiveUp(Client& c) {
  // Outcome stays kUnknown and ret kNever.
  c.pending = kNone;
}

void Workload::OnApplied(uint64_t node, uint64_t op_id, bool ok,
                         const LeaderHint& header) {
  for (Client& c : clients_) {
    if (c.pending == kNone || c.node != node || !Reaches(c, node)) continue;
    if (history_[c.pending].id != op_id) continue;
    Complete(c, ok ? Outcome::kOk : Outcome::kFailed, nullptr);
    NoteHeader(c, header);
  }
}

void Workload::OnReadServed(uint64_t node, const std::string& ctx,
                            const std::string& value,
                            const LeaderHint& header) {
  for (Client& c : clients_) {
    if (c.pending == kNone || c.node != node || !Reaches(c, node)) continue;
    if (ReadContext(history_[c.pending].id) != ctx) continue;
    Complete(c, Outcome::kOk, &value);
    NoteHeader(c, header);
  }
}

void Workload::OnRefused(uint64_t node, uint64_t op_id,
                         const LeaderHint& hint) {
  for (Client& c : clients_) {
    if (c.pending == kNone || c.node != node || !Reaches(c, node)) continue;
    if (history_[c.pending].id != op_id) continue;
    // Recorded as unknown: a write never applied anywhere is then left out
    // of the checked history, and so is a read without an answer.
    GiveUp(c);
    if (hint.leader != 0 && hint.leader != node) {
      NoteHeader(c, hint);
    } else if (c.leader == node) {
      c.leader = 0;
      ++c.next;
    }
  }
}

void Workload::OnNodeDown(uint64_t node) {
  // Clients with a call on it see the connection drop; others find out on
  // their next call (Unavailable).
  for (Client& c : clients_) {
    if (c.pending == kNone || c.node != node) continue;
    GiveUp(c);
    if (c.leader == node) c.leader = 0;
  }
}

bool Workload::Reaches(const Client& c, uint64_t node) {
  return std::find(c.cut.begin(), c.cut.end(), node) == c.cut.end();
}

void Workload::SplitClients(const std::vector<uint64_t>& group,
                            const std::vector<uint64_t>& all) {
  for (Client& c : clients_) {
    const int side = std::uniform_int_distribution<int>(0, 2)(*rng_);
    if (side == 2) continue;  // reaches both sides
    for (uint64_t n : all) {
      const bool in_group =
          std::find(group.begin(), group.end(), n) != group.end();
      // side 0: with `group`, cut from the rest; side 1: the reverse.
      if (in_group == (side == 1) && Reaches(c, n)) c.cut.push_back(n);
    }
  }
}

void Workload::HealClients() {
  for (Client& c : clients_) c.cut.clear();
}

void Workload::Finish() {
  for (Client& c : clients_) {
    if (c.pending != kNone) GiveUp(c);
  }
}

}  // namespace berth::sim
