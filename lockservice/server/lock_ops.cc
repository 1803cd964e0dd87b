#include "lockservice/server/lock_ops.h"

#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace berth::lock {
namespace {

std::string Quote(absl::string_view name) {
  return absl::StrCat("\"", absl::CEscape(name), "\"");
}

}  // namespace

absl::Status LockOps::LeaseAlive(const ApplyContext& ctx, int64_t lease) {
  if (lease == 0) {
    return absl::InvalidArgumentError("a lock needs a lease (lease is 0)");
  }
  absl::StatusOr<std::optional<LeaseRecord>> rec = leases_->Get(lease);
  if (!rec.ok()) return rec.status();
  if (!rec->has_value()) {
    return absl::NotFoundError(absl::StrCat("lease ", lease, " not found"));
  }
  if ((*rec)->deadline_ms <= ctx.now_ms) {
    return absl::FailedPreconditionError(
        absl::StrCat("lease ", lease, " expired at leader time ",
                     (*rec)->deadline_ms, " (now ", ctx.now_ms, ")"));
  }
  return absl::OkStatus();
}

absl::Status LockOps::WaiterIneligible(const ApplyContext& ctx,
                                       const WaiterRecord& w,
                                       absl::Status* why) {
  if (w.wait_deadline_ms != 0 && w.wait_deadline_ms <= ctx.now_ms) {
    *why = absl::DeadlineExceededError(
        absl::StrCat("timed out waiting for lock ", Quote(w.name)));
    return absl::OkStatus();
  }
  absl::Status alive = LeaseAlive(ctx, w.lease);
  if (!alive.ok() && !IsRejection(alive)) return alive;  // storage failure
  *why = alive;
  return absl::OkStatus();
}

absl::StatusOr<LockGrant> LockOps::Grant(ApplyContext& ctx,
                                         absl::string_view name, int64_t lease,
                                         absl::string_view value,
                                         int64_t lock_delay_ms) {
  LockRecord rec;
  rec.name = std::string(name);
  rec.holder_lease = lease;
  rec.key = HolderKey(name, lease);
  rec.value = std::string(value);
  rec.lock_delay_ms = lock_delay_ms;
  rec.token = ctx.WriteRevision();
  if (absl::Status s = kv_->Put(ctx, rec.key, value, lease, nullptr); !s.ok()) {
    return s;
  }
  if (absl::Status s = locks_->Upsert(rec); !s.ok()) return s;
  return LockGrant{rec.name, lease, rec.token, rec.key, 0};
}

absl::StatusOr<lockpb::LockAcquireResult> LockOps::Acquire(
    ApplyContext& ctx, const lockpb::LockAcquireCmd& cmd, uint64_t request_id) {
  const std::string& name = cmd.name();
  if (name.empty()) return absl::InvalidArgumentError("lock name is empty");
  // The holder key appends "/" and 16 hex digits to the name.
  constexpr size_t kSuffix = 17;
  size_t max_name =
      limits_->max_key_bytes > kSuffix ? limits_->max_key_bytes - kSuffix : 0;
  if (name.size() > max_name) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lock name is ", name.size(), " bytes; the limit is ", max_name));
  }
  if (cmd.value().size() > limits_->max_value_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("lock value is ", cmd.value().size(),
                     " bytes; the limit is ", limits_->max_value_bytes));
  }
  int64_t delay = cmd.has_lock_delay_ms() ? cmd.lock_delay_ms()
                                          : limits_->default_lock_delay_ms;
  if (delay < 0 || delay > limits_->max_lock_delay_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat("lock_delay_ms must be in [0, ",
                     limits_->max_lock_delay_ms, "], got ", delay));
  }
  if (absl::Status s = LeaseAlive(ctx, cmd.lease()); !s.ok()) return s;

  absl::StatusOr<std::optional<LockRecord>> lock = locks_->Get(name);
  if (!lock.ok()) return lock.status();
  lockpb::LockAcquireResult out;
  if (lock->has_value() && (*lock)->holder_lease == cmd.lease()) {
    out.set_granted(true);
    out.set_key((*lock)->key);
    out.set_token((*lock)->token);
    return out;
  }
  absl::StatusOr<std::vector<WaiterRecord>> queue = locks_->Waiters(name);
  if (!queue.ok()) return queue.status();
  for (size_t i = 0; i < queue->size(); ++i) {
    if ((*queue)[i].lease == cmd.lease()) {
      out.set_queue_position(static_cast<int64_t>(i));
      return out;
    }
  }
  bool held = lock->has_value() && (*lock)->holder_lease != 0;
  bool delayed = lock->has_value() && (*lock)->delay_until_ms > ctx.now_ms;
  if (!held && !delayed && queue->empty()) {
    absl::StatusOr<LockGrant> g =
        Grant(ctx, name, cmd.lease(), cmd.value(), delay);
    if (!g.ok()) return g.status();
    out.set_granted(true);
    out.set_key(g->key);
    out.set_token(g->token);
    return out;
  }
  if (cmd.try_only()) {
    out.set_queue_position(-1);
    return out;
  }
  WaiterRecord w;
  w.name = name;
  w.lease = cmd.lease();
  w.value = cmd.value();
  w.wait_deadline_ms = cmd.wait_deadline_ms();
  w.lock_delay_ms = delay;
  w.request_id = request_id;
  if (absl::StatusOr<int64_t> seq = locks_->AddWaiter(w); !seq.ok()) {
    return seq.status();
  }
  out.set_queue_position(static_cast<int64_t>(queue->size()));
  return out;
}

absl::Status LockOps::CheckToken(absl::string_view name, int64_t token) {
  absl::StatusOr<std::optional<LockRecord>> lock = locks_->Get(name);
  if (!lock.ok()) return lock.status();
  if (!lock->has_value() || (*lock)->holder_lease == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("fencing token ", token, " is stale: lock ", Quote(name),
                     " is not held"));
  }
  if ((*lock)->token != token) {
    return absl::FailedPreconditionError(
        absl::StrCat("fencing token ", token, " is stale: lock ", Quote(name),
                     " is held with token ", (*lock)->token));
  }
  return absl::OkStatus();
}

absl::Status LockOps::CheckNoHolderKeys(absl::string_view key,
                                        absl::string_view range_end) {
  absl::StatusOr<std::optional<LockRecord>> held =
      locks_->HolderKeyIn(key, range_end);
  if (!held.ok()) return held.status();
  if (!held->has_value()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "key ", Quote((*held)->key), " is the holder key of lock ",
      Quote((*held)->name), "; change it with Unlock or Proclaim"));
}

absl::Status LockOps::Release(ApplyContext& ctx, absl::string_view name,
                              int64_t token) {
  if (absl::Status s = CheckToken(name, token); !s.ok()) return s;
  absl::StatusOr<std::optional<LockRecord>> lock = locks_->Get(name);
  if (!lock.ok()) return lock.status();
  absl::StatusOr<int64_t> n = kv_->DeleteRange(ctx, (*lock)->key, "", nullptr);
  if (!n.ok()) return n.status();
  return locks_->Delete(name);
}

absl::Status LockOps::Cancel(ApplyContext& ctx, absl::string_view name,
                             int64_t lease, LockNotices* notices) {
  absl::StatusOr<std::vector<WaiterRecord>> queue = locks_->Waiters(name);
  if (!queue.ok()) return queue.status();
  for (const WaiterRecord& w : *queue) {
    if (w.lease != lease) continue;
    if (absl::Status s = locks_->DeleteWaiter(w.seq); !s.ok()) return s;
    notices->dropped.push_back(
        {w.name, w.lease, w.request_id,
         absl::CancelledError(
             absl::StrCat("wait for lock ", Quote(name), " was canceled"))});
    return absl::OkStatus();
  }
  return absl::NotFoundError(
      absl::StrCat("lease ", lease, " is not waiting for lock ", Quote(name)));
}

absl::Status LockOps::Proclaim(ApplyContext& ctx,
                               const lockpb::ProclaimCmd& cmd) {
  if (cmd.value().size() > limits_->max_value_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("value is ", cmd.value().size(), " bytes; the limit is ",
                     limits_->max_value_bytes));
  }
  if (absl::Status s = CheckToken(cmd.name(), cmd.token()); !s.ok()) return s;
  absl::StatusOr<std::optional<LockRecord>> lock = locks_->Get(cmd.name());
  if (!lock.ok()) return lock.status();
  LockRecord rec = **lock;
  rec.value = cmd.value();
  if (absl::Status s =
          kv_->Put(ctx, rec.key, rec.value, rec.holder_lease, nullptr);
      !s.ok()) {
    return s;
  }
  return locks_->Upsert(rec);
}

absl::Status LockOps::ForgetLease(ApplyContext& ctx, int64_t lease,
                                  bool expired, LockNotices* notices) {
  absl::StatusOr<std::vector<LockRecord>> held = locks_->HeldBy(lease);
  if (!held.ok()) return held.status();
  for (LockRecord rec : *held) {
    absl::StatusOr<int64_t> n = kv_->DeleteRange(ctx, rec.key, "", nullptr);
    if (!n.ok()) return n.status();
    rec.holder_lease = 0;
    rec.delay_until_ms = expired ? ctx.now_ms + rec.lock_delay_ms : 0;
    absl::Status s = rec.delay_until_ms > ctx.now_ms ? locks_->Upsert(rec)
                                                     : locks_->Delete(rec.name);
    if (!s.ok()) return s;
  }
  absl::StatusOr<std::vector<WaiterRecord>> waiting =
      locks_->WaitersOfLease(lease);
  if (!waiting.ok()) return waiting.status();
  for (const WaiterRecord& w : *waiting) {
    if (absl::Status s = locks_->DeleteWaiter(w.seq); !s.ok()) return s;
    notices->dropped.push_back(
        {w.name, w.lease, w.request_id,
         absl::FailedPreconditionError(absl::StrCat(
             "lease ", lease, expired ? " expired" : " was revoked",
             " while waiting for lock ", Quote(w.name)))});
  }
  return absl::OkStatus();
}

absl::Status LockOps::GrantReady(ApplyContext& ctx, LockNotices* notices) {
  absl::StatusOr<std::vector<std::string>> names =
      locks_->GrantableNames(ctx.now_ms);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    absl::StatusOr<std::vector<WaiterRecord>> queue = locks_->Waiters(name);
    if (!queue.ok()) return queue.status();
    bool granted = false;
    for (const WaiterRecord& w : *queue) {
      absl::Status why;
      if (absl::Status s = WaiterIneligible(ctx, w, &why); !s.ok()) return s;
      if (absl::Status s = locks_->DeleteWaiter(w.seq); !s.ok()) return s;
      if (!why.ok()) {
        notices->dropped.push_back({w.name, w.lease, w.request_id, why});
        continue;
      }
      ctx.EndStep();
      absl::StatusOr<LockGrant> g =
          Grant(ctx, name, w.lease, w.value, w.lock_delay_ms);
      if (!g.ok()) return g.status();
      ctx.EndStep();
      g->request_id = w.request_id;
      notices->grants.push_back(*std::move(g));
      granted = true;
      break;
    }
    if (!granted) {
      // Nobody left to take it: drop a leftover delay row.
      if (absl::Status s = locks_->Delete(name); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::lock
