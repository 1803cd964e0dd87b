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
    clients_.push_back(std::move(c));
  }
}

bool Workload::idle() const {
  for (const Client& c : clients_) {
    if (c.pending != kNone) return false;
  }
  return true;
}

void Workload::Tick(uint64_t now, const std::vector<uint64_t>& up,
                    uint64_t leader_hint, ClusterPort& port, bool start_new) {
  for (Client& c : clients_) {
    if (c.pending != kNone && now >= c.deadline) GiveUp(c);
    if (c.pending != kNone || up.empty() || !start_new) continue;
    if (std::bernoulli_distribution(options_.start_probability)(*rng_)) {
      Start(c, now, up, leader_hint, port);
    }
  }
}

void Workload::Start(Client& c, uint64_t now, const std::vector<uint64_t>& up,
                     uint64_t leader_hint, ClusterPort& port) {
  const bool hint_up = leader_hint != 0 &&
                       std::find(up.begin(), up.end(), leader_hint) != up.end();
  uint64_t node =
      up[std::uniform_int_distribution<size_t>(0, up.size() - 1)(*rng_)];
  if (hint_up && std::bernoulli_distribution(options_.leader_affinity)(*rng_)) {
    node = leader_hint;
  }
  Op op;
  op.id = next_op_id_++;
  op.client = c.id;
  op.key = absl::StrCat(
      "k", std::uniform_int_distribution<int>(1, options_.keys)(*rng_));
  const int dice = std::uniform_int_distribution<int>(0, 9)(*rng_);
  op.kind = dice < 4 ? OpKind::kGet : dice < 7 ? OpKind::kPut : OpKind::kCas;
  absl::Status s;
  if (op.kind == OpKind::kGet) {
    s = port.SubmitRead(node, ReadContext(op.id), op.key);
  } else {
    op.value = absl::StrCat("v", op.id);
    std::string payload;
    if (op.kind == OpKind::kPut) {
      payload = KvStateMachine::EncodePut(op.id, op.key, op.value);
    } else {
      // Mostly compare against something this client has seen, so that
      // some swaps succeed; sometimes against absent or a stale value.
      if (!c.seen.empty() && std::bernoulli_distribution(0.8)(*rng_)) {
        op.expected = c.seen[std::uniform_int_distribution<size_t>(
            0, c.seen.size() - 1)(*rng_)];
      }
      payload = KvStateMachine::EncodeCas(op.id, op.key, op.expected, op.value);
    }
    s = port.SubmitWrite(node, std::move(payload));
  }
  if (!s.ok()) return;  // refused up front: never entered any log
  op.call = ++logical_time_;
  history_.push_back(op);
  c.pending = history_.size() - 1;
  c.node = node;
  c.deadline = now + options_.timeout_ticks;
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

void Workload::OnApplied(uint64_t node, uint64_t op_id, bool ok) {
  for (Client& c : clients_) {
    if (c.pending == kNone || c.node != node) continue;
    if (history_[c.pending].id != op_id) continue;
    Complete(c, ok ? Outcome::kOk : Outcome::kFailed, nullptr);
  }
}

void Workload::OnReadServed(uint64_t node, const std::string& ctx,
                            const std::string& value) {
  for (Client& c : clients_) {
    if (c.pending == kNone || c.node != node) continue;
    if (ReadContext(history_[c.pending].id) != ctx) continue;
    Complete(c, Outcome::kOk, &value);
  }
}

void Workload::OnNodeDown(uint64_t node) {
  for (Client& c : clients_) {
    if (c.pending != kNone && c.node == node) GiveUp(c);
  }
}

void Workload::Finish() {
  for (Client& c : clients_) {
    if (c.pending != kNone) GiveUp(c);
  }
}

}  // namespace berth::sim
