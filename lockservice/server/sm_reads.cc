// StateMachine: reads of the applied state and leader helpers.
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lockservice/server/past_range.h"
#include "lockservice/server/state_machine.h"

namespace berth::lock {
namespace {

int64_t CeilSeconds(int64_t ms) { return ms <= 0 ? 0 : (ms + 999) / 1000; }

}  // namespace

absl::StatusOr<lockpb::RangeResponse> StateMachine::Range(
    const lockpb::RangeRequest& req) {
  if (req.revision() != 0 && req.revision() != revision_) {
    absl::StatusOr<int64_t> compacted = compact_revision();
    if (!compacted.ok()) return compacted.status();
    if (req.revision() < *compacted) {
      return HistoryCompactedError(req.revision(), *compacted);
    }
    if (req.revision() > revision_) {
      return absl::OutOfRangeError(
          absl::StrCat("revision ", req.revision(),
                       " is in the future (current revision ", revision_, ")"));
    }
    // Rebuilt from the latest state and the history after it.
    lockpb::RangeRequest whole;
    whole.set_key(req.key());
    whole.set_range_end(req.range_end());
    absl::StatusOr<lockpb::RangeResponse> now = kv_.Range(whole);
    if (!now.ok()) return now.status();
    absl::StatusOr<std::vector<lockpb::Event>> later =
        kv_.EventsSince(req.revision() + 1, req.key(), req.range_end(), 0);
    if (!later.ok()) return later.status();
    lockpb::RangeResponse past = RangeAtPast(req, *now, *later);
    past.mutable_header()->set_revision(revision_);
    return past;
  }
  absl::StatusOr<lockpb::RangeResponse> out = kv_.Range(req);
  if (out.ok()) out->mutable_header()->set_revision(revision_);
  return out;
}

absl::StatusOr<std::vector<lockpb::Event>> StateMachine::EventsSince(
    int64_t from_revision, absl::string_view key, absl::string_view range_end,
    int64_t limit) {
  return kv_.EventsSince(from_revision, key, range_end, limit);
}

absl::StatusOr<lockpb::LeaseTimeToLiveResponse> StateMachine::TimeToLive(
    int64_t id, bool keys) {
  lockpb::LeaseTimeToLiveResponse out;
  out.mutable_header()->set_revision(revision_);
  out.set_id(id);
  absl::StatusOr<std::optional<LeaseRecord>> rec = leases_.Get(id);
  if (!rec.ok()) return rec.status();
  if (!rec->has_value()) {
    out.set_ttl(-1);
    return out;
  }
  out.set_ttl(CeilSeconds((*rec)->deadline_ms - now_ms_));
  out.set_granted_ttl(CeilSeconds((*rec)->ttl_ms));
  if (keys) {
    absl::StatusOr<std::vector<std::string>> ks = kv_.KeysOfLease(id);
    if (!ks.ok()) return ks.status();
    for (std::string& k : *ks) out.add_keys(std::move(k));
  }
  return out;
}

absl::StatusOr<bool> StateMachine::LeaseInLockQueue(int64_t lease) {
  absl::StatusOr<std::vector<LockRecord>> held = locks_.HeldBy(lease);
  if (!held.ok()) return held.status();
  if (!held->empty()) return true;
  absl::StatusOr<std::vector<WaiterRecord>> waits =
      locks_.WaitersOfLease(lease);
  if (!waits.ok()) return waits.status();
  return !waits->empty();
}

absl::StatusOr<std::vector<std::string>> StateMachine::LockNamesOfLease(
    int64_t lease) {
  absl::StatusOr<std::vector<LockRecord>> held = locks_.HeldBy(lease);
  if (!held.ok()) return held.status();
  absl::StatusOr<std::vector<WaiterRecord>> waits =
      locks_.WaitersOfLease(lease);
  if (!waits.ok()) return waits.status();
  std::set<std::string> names;
  for (const LockRecord& l : *held) names.insert(l.name);
  for (const WaiterRecord& w : *waits) names.insert(w.name);
  return std::vector<std::string>(names.begin(), names.end());
}

absl::StatusOr<std::vector<LeaseRecord>> StateMachine::Leases() {
  return leases_.List();
}

absl::StatusOr<lockpb::HolderResponse> StateMachine::Holder(
    absl::string_view name) {
  lockpb::HolderResponse out;
  out.mutable_header()->set_revision(revision_);
  absl::StatusOr<std::optional<LockRecord>> lock = locks_.Get(name);
  if (!lock.ok()) return lock.status();
  if (lock->has_value() && (*lock)->holder_lease != 0) {
    out.set_held(true);
    out.set_key((*lock)->key);
    out.set_token((*lock)->token);
    out.set_lease((*lock)->holder_lease);
    out.set_value((*lock)->value);
  }
  absl::StatusOr<std::vector<WaiterRecord>> waiters = locks_.Waiters(name);
  if (!waiters.ok()) return waiters.status();
  out.set_waiters(static_cast<int64_t>(waiters->size()));
  return out;
}

absl::StatusOr<lockpb::CheckTokenResponse> StateMachine::CheckToken(
    absl::string_view name, int64_t token) {
  absl::StatusOr<lockpb::HolderResponse> h = Holder(name);
  if (!h.ok()) return h.status();
  lockpb::CheckTokenResponse out;
  out.mutable_header()->set_revision(revision_);
  out.set_current_token(h->token());
  out.set_valid(h->held() && h->token() == token);
  return out;
}

absl::StatusOr<lockpb::LeaderResponse> StateMachine::Leader(
    absl::string_view name) {
  absl::StatusOr<lockpb::HolderResponse> h = Holder(name);
  if (!h.ok()) return h.status();
  lockpb::LeaderResponse out;
  out.mutable_header()->set_revision(revision_);
  if (!h->held()) return out;
  absl::StatusOr<std::optional<lockpb::KeyValue>> kv = kv_.Get(h->key());
  if (!kv.ok()) return kv.status();
  if (kv->has_value()) *out.mutable_kv() = **kv;
  lockpb::LeaderKey* lk = out.mutable_leader();
  lk->set_name(std::string(name));
  lk->set_key(h->key());
  lk->set_rev(h->token());
  lk->set_lease(h->lease());
  return out;
}

absl::StatusOr<std::vector<int64_t>> StateMachine::LeasesToExpire(
    int64_t leader_now_ms, int64_t leader_since_ms, int64_t grace_ms) {
  // The effective deadline is never before the stored one, so only leases
  // past their stored deadline are candidates.
  absl::StatusOr<std::vector<LeaseRecord>> due =
      leases_.DeadlineBefore(leader_now_ms);
  if (!due.ok()) return due.status();
  std::vector<int64_t> out;
  for (const LeaseRecord& l : *due) {
    if (EffectiveDeadline(l, leader_since_ms, grace_ms) <= leader_now_ms) {
      out.push_back(l.id);
    }
  }
  return out;
}

absl::StatusOr<int64_t> StateMachine::NextLockDelayEnd() {
  return locks_.NextDelayEnd();
}

}  // namespace berth::lock
