// StateMachine: opening and the apply path. Reads live in sm_reads.cc,
// snapshots in sm_snapshot.cc.
#include "lockservice/server/state_machine.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lockservice/server/sm_schema.h"

namespace berth::lock {

StateMachine::StateMachine(Options options, std::unique_ptr<SmDb> db)
    : options_(std::move(options)),
      db_(std::move(db)),
      kv_(db_.get()),
      leases_(db_.get()),
      locks_(db_.get()),
      lock_ops_(&kv_, &leases_, &locks_, &options_.limits),
      kv_ops_(&kv_, &leases_, &lock_ops_, &options_.limits),
      sessions_(db_.get(), &options_.limits),
      auth_table_(db_.get(), &options_.limits) {}

absl::StatusOr<std::unique_ptr<StateMachine>> StateMachine::Open(
    const Options& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("state machine path is empty");
  }
  absl::StatusOr<std::unique_ptr<SmDb>> db = SmDb::Open(options.path);
  if (!db.ok()) return db.status();
  if (absl::Status s = CreateSmSchema(**db); !s.ok()) return s;
  std::unique_ptr<StateMachine> sm(new StateMachine(options, *std::move(db)));
  if (absl::Status s = sm->LoadMeta(); !s.ok()) return s;
  return sm;
}

absl::Status StateMachine::LoadMeta() {
  absl::StatusOr<int64_t> applied = GetMeta(*db_, meta::kAppliedIndex);
  absl::StatusOr<int64_t> rev = GetMeta(*db_, meta::kRevision);
  absl::StatusOr<int64_t> now = GetMeta(*db_, meta::kNowMs);
  for (const auto* s : {&applied, &rev, &now}) {
    if (!s->ok()) return s->status();
  }
  applied_index_ = static_cast<uint64_t>(*applied);
  revision_ = *rev;
  now_ms_ = *now;
  if (absl::Status s = LoadAuth(); !s.ok()) return s;
  return LoadHistoryAndAlarm();
}

absl::Status StateMachine::LoadAuth() {
  absl::StatusOr<AuthState> state = auth_table_.Load();
  if (!state.ok()) return state.status();
  auth_ = *std::move(state);
  ++auth_version_;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> StateMachine::compact_revision() {
  return GetMeta(*db_, meta::kCompactRevision);
}

absl::StatusOr<ApplyResult> StateMachine::Apply(uint64_t index,
                                                const lockpb::Command& cmd) {
  return ApplyInTxn(index, cmd, nullptr);
}

absl::StatusOr<ApplyResult> StateMachine::ApplyEntryData(
    uint64_t index, absl::string_view data) {
  lockpb::Command cmd;
  if (!cmd.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    absl::Status bad = absl::InvalidArgumentError(absl::StrCat(
        "entry ", index, " does not hold a decodable lockd Command (",
        data.size(), " bytes)"));
    return ApplyInTxn(index, lockpb::Command(), &bad);
  }
  return ApplyInTxn(index, cmd, nullptr);
}

absl::Status StateMachine::ApplyEmpty(uint64_t index) {
  lockpb::Command noop;
  noop.mutable_noop();
  // Keeps the clock where it is: an empty entry carries no leader time.
  noop.set_leader_time_unix_ms(now_ms_);
  absl::StatusOr<ApplyResult> r = ApplyInTxn(index, noop, nullptr);
  return r.status();
}

absl::StatusOr<ApplyResult> StateMachine::ApplyInTxn(
    uint64_t index, const lockpb::Command& cmd,
    const absl::Status* decode_error) {
  ApplyResult res;
  if (index <= applied_index_) {
    res.duplicate = true;
    res.result.set_revision(revision_);
    return res;
  }
  if (index != applied_index_ + 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("apply out of order: got index ", index,
                     " but the applied index is ", applied_index_));
  }
  if (absl::Status s = db_->Begin(); !s.ok()) return s;
  auto fail = [&](absl::Status s) {
    db_->Rollback();
    locks_.ForgetCachedState();
    return s;
  };

  ApplyContext ctx;
  ctx.now_ms = std::max(now_ms_, cmd.leader_time_unix_ms());
  ctx.revision = revision_;
  // Time moved: lock-delays that ended may let queued waiters in before
  // this command competes for the same locks.
  if (absl::Status s = lock_ops_.GrantReady(ctx, &res.locks); !s.ok()) {
    return fail(s);
  }
  ctx.EndStep();

  const lockpb::WriteId* write_id =
      decode_error == nullptr ? WriteIdOf(cmd) : nullptr;
  ClientSessions::Seen seen;
  std::optional<StoredReply>& replay = seen.reply;
  if (write_id != nullptr) {
    absl::StatusOr<ClientSessions::Seen> checked = sessions_.Check(*write_id);
    if (!checked.ok()) {
      if (!IsRejection(checked.status())) return fail(checked.status());
      res.status = checked.status();
      write_id = nullptr;  // rejected before it counts as an attempt
    } else {
      seen = *std::move(checked);
    }
  }

  if (decode_error != nullptr) {
    res.status = *decode_error;
  } else if (!res.status.ok() || replay.has_value()) {
    // Rejected by the dedupe check, or a repeat: nothing to apply.
  } else if (absl::Status q = CheckQuota(cmd); !q.ok()) {
    // RESOURCE_EXHAUSTED is not an IsRejection code (a full disk is a local
    // failure), so the quota refusal is decided here, before dispatch.
    res.status = q;
  } else {
    db_->ResetAll();
    if (absl::Status s = db_->ExecCached("SAVEPOINT sm_cmd"); !s.ok())
      return fail(s);
    int64_t rev_before = ctx.revision;
    size_t events_before = ctx.events.size();
    LockNotices notices;
    absl::Status s = Dispatch(ctx, cmd, &res.result, &notices);
    db_->ResetAll();
    if (!s.ok()) {
      if (!IsRejection(s)) return fail(s);
      // Undo the partial writes of a rejected command (e.g. a transaction
      // whose third put names an unknown lease).
      if (absl::Status r = db_->Exec("ROLLBACK TO sm_cmd"); !r.ok()) {
        return fail(r);
      }
      locks_.ForgetCachedState();
      ctx.revision = rev_before;
      ctx.events.resize(events_before);
      res.status = s;
      res.result.Clear();
    } else {
      for (LockGrant& g : notices.grants) {
        res.locks.grants.push_back(std::move(g));
      }
      for (WaiterDropped& d : notices.dropped) {
        res.locks.dropped.push_back(std::move(d));
      }
    }
    if (absl::Status r = db_->ExecCached("RELEASE sm_cmd"); !r.ok())
      return fail(r);
    ctx.EndStep();
  }
  // Every permission change is audited, refused ones too, in the same
  // transaction as the change itself.
  std::optional<AuthState> new_auth;
  if (decode_error == nullptr && cmd.has_auth() && !replay.has_value()) {
    if (absl::Status s =
            auth_table_.Audit(index, ctx.now_ms, cmd.auth(), res.status);
        !s.ok()) {
      return fail(s);
    }
    absl::StatusOr<AuthState> loaded = auth_table_.Load();
    if (!loaded.ok()) return fail(loaded.status());
    new_auth = *std::move(loaded);
  }
  // The command may have freed locks (unlock, revoke, cancel).
  if (absl::Status s = lock_ops_.GrantReady(ctx, &res.locks); !s.ok()) {
    return fail(s);
  }
  if (write_id != nullptr) {
    StoredReply answer;
    if (!replay.has_value()) {
      answer.status = res.status;
      answer.result = res.result;
      answer.result.set_revision(ctx.revision);
    }
    absl::Status s = sessions_.Record(ctx.now_ms, *write_id, seen,
                                      replay.has_value() ? nullptr : &answer);
    if (!s.ok()) return fail(s);
  }
  // Inside a batch the three meta rows are written once, by CommitBatch:
  // nothing of the batch is durable before that anyway.
  if (!db_->in_batch()) {
    if (absl::Status s = WriteMeta(index, ctx.revision, ctx.now_ms); !s.ok()) {
      return fail(s);
    }
  }
  if (absl::Status s = db_->Commit(); !s.ok()) return fail(s);
  applied_index_ = index;
  revision_ = ctx.revision;
  now_ms_ = ctx.now_ms;
  if (new_auth.has_value()) {
    auth_ = *std::move(new_auth);
    ++auth_version_;
  }
  res.result.set_revision(revision_);
  res.events = std::move(ctx.events);
  if (replay.has_value()) {
    // The original answer, revision included: the caller must see exactly
    // what the first attempt would have returned.
    res.replayed = true;
    res.status = std::move(replay->status);
    res.result = std::move(replay->result);
  }
  return res;
}

absl::Status StateMachine::WriteMeta(uint64_t applied, int64_t revision,
                                     int64_t now_ms) {
  for (auto [name, value] :
       {std::pair{meta::kAppliedIndex, static_cast<int64_t>(applied)},
        std::pair{meta::kRevision, revision},
        std::pair{meta::kNowMs, now_ms}}) {
    if (absl::Status s = SetMeta(*db_, name, value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status StateMachine::CommitBatch() {
  if (db_->in_batch()) {
    absl::Status s = WriteMeta(applied_index_, revision_, now_ms_);
    if (!s.ok()) {
      db_->AbortBatch();
      locks_.ForgetCachedState();
      return s;
    }
  }
  absl::Status s = db_->CommitBatch();
  if (!s.ok()) locks_.ForgetCachedState();
  return s;
}

absl::Status StateMachine::Dispatch(ApplyContext& ctx,
                                    const lockpb::Command& cmd,
                                    lockpb::CommandResult* out,
                                    LockNotices* notices) {
  switch (cmd.op_case()) {
    case lockpb::Command::kPut: {
      absl::StatusOr<lockpb::PutResponse> r = kv_ops_.Put(ctx, cmd.put());
      if (!r.ok()) return r.status();
      *out->mutable_put() = *std::move(r);
      return absl::OkStatus();
    }
    case lockpb::Command::kDeleteRange: {
      absl::StatusOr<lockpb::DeleteRangeResponse> r =
          kv_ops_.DeleteRange(ctx, cmd.delete_range());
      if (!r.ok()) return r.status();
      *out->mutable_delete_range() = *std::move(r);
      return absl::OkStatus();
    }
    case lockpb::Command::kTxn: {
      absl::StatusOr<lockpb::TxnResponse> r = kv_ops_.Txn(ctx, cmd.txn());
      if (!r.ok()) return r.status();
      *out->mutable_txn() = *std::move(r);
      return absl::OkStatus();
    }
    case lockpb::Command::kLeaseGrant:
    case lockpb::Command::kLeaseRevoke:
    case lockpb::Command::kLeaseKeepalive:
    case lockpb::Command::kLeaseExpire:
      return ApplyLease(ctx, cmd, out, notices);
    case lockpb::Command::kLeaseCheckpoint:
      return ApplyLeaseCheckpoint(ctx, cmd.lease_checkpoint());
    case lockpb::Command::kLockAcquire: {
      absl::StatusOr<lockpb::LockAcquireResult> r =
          lock_ops_.Acquire(ctx, cmd.lock_acquire(), cmd.request_id());
      if (!r.ok()) return r.status();
      *out->mutable_lock() = *std::move(r);
      return absl::OkStatus();
    }
    case lockpb::Command::kLockRelease:
      return lock_ops_.Release(ctx, cmd.lock_release().name(),
                               cmd.lock_release().token());
    case lockpb::Command::kLockCancel:
      return lock_ops_.Cancel(ctx, cmd.lock_cancel().name(),
                              cmd.lock_cancel().lease(), notices);
    case lockpb::Command::kProclaim:
      return lock_ops_.Proclaim(ctx, cmd.proclaim());
    case lockpb::Command::kCompact:
      return Compact(cmd.compact());
    case lockpb::Command::kAlarm:
      return ApplyAlarm(cmd.alarm());
    case lockpb::Command::kAuth:
      return auth_table_.Apply(applied_index_ + 1, cmd.auth());
    case lockpb::Command::kLockDelayTick:
    case lockpb::Command::kNoop:
      return absl::OkStatus();
    case lockpb::Command::OP_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("command has no operation set");
}

absl::Status StateMachine::ApplyLease(ApplyContext& ctx,
                                      const lockpb::Command& cmd,
                                      lockpb::CommandResult* out,
                                      LockNotices* notices) {
  const Limits& lim = options_.limits;
  lockpb::LeaseResult* res = out->mutable_lease();
  if (cmd.has_lease_grant()) {
    const lockpb::LeaseGrantCmd& g = cmd.lease_grant();
    if (g.ttl_ms() < lim.min_lease_ttl_ms ||
        g.ttl_ms() > lim.max_lease_ttl_ms) {
      return absl::InvalidArgumentError(
          absl::StrCat("lease ttl_ms must be in [", lim.min_lease_ttl_ms, ", ",
                       lim.max_lease_ttl_ms, "], got ", g.ttl_ms()));
    }
    if (g.id() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("lease id must be >= 0, got ", g.id()));
    }
    int64_t id = g.id();
    if (id != 0) {
      absl::StatusOr<std::optional<LeaseRecord>> old = leases_.Get(id);
      if (!old.ok()) return old.status();
      if (old->has_value()) {
        return absl::AlreadyExistsError(
            absl::StrCat("lease ", id, " already exists"));
      }
    } else {
      absl::StatusOr<int64_t> next = GetMeta(*db_, meta::kNextLeaseId);
      if (!next.ok()) return next.status();
      id = std::max<int64_t>(*next, 1);
      while (true) {
        absl::StatusOr<std::optional<LeaseRecord>> old = leases_.Get(id);
        if (!old.ok()) return old.status();
        if (!old->has_value()) break;
        ++id;
      }
      if (absl::Status s = SetMeta(*db_, meta::kNextLeaseId, id + 1); !s.ok()) {
        return s;
      }
    }
    LeaseRecord rec{id, g.ttl_ms(), ctx.now_ms, ctx.now_ms + g.ttl_ms()};
    if (absl::Status s = leases_.Upsert(rec); !s.ok()) return s;
    res->set_id(id);
    res->set_ttl_ms(rec.ttl_ms);
    res->set_deadline_ms(rec.deadline_ms);
    return absl::OkStatus();
  }

  int64_t id = cmd.has_lease_revoke()      ? cmd.lease_revoke().id()
               : cmd.has_lease_keepalive() ? cmd.lease_keepalive().id()
                                           : cmd.lease_expire().id();
  absl::StatusOr<std::optional<LeaseRecord>> rec = leases_.Get(id);
  if (!rec.ok()) return rec.status();
  if (!rec->has_value()) {
    return absl::NotFoundError(absl::StrCat("lease ", id, " not found"));
  }
  LeaseRecord lease = **rec;
  res->set_id(id);
  res->set_ttl_ms(lease.ttl_ms);
  if (cmd.has_lease_keepalive()) {
    // max(): a keepalive stamped by a leader whose clock is behind must not
    // shorten a lease.
    lease.deadline_ms = std::max(lease.deadline_ms, ctx.now_ms + lease.ttl_ms);
    res->set_deadline_ms(lease.deadline_ms);
    return leases_.Upsert(lease);
  }
  bool expired = cmd.has_lease_expire();
  if (expired && lease.deadline_ms > ctx.now_ms) {
    // A keepalive was committed after the leader decided to expire it.
    res->set_deadline_ms(lease.deadline_ms);
    return absl::OkStatus();
  }
  if (absl::Status s = lock_ops_.ForgetLease(ctx, id, expired, notices);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<std::string>> keys = kv_.KeysOfLease(id);
  if (!keys.ok()) return keys.status();
  for (const std::string& key : *keys) {
    absl::StatusOr<int64_t> n = kv_.DeleteRange(ctx, key, "", nullptr);
    if (!n.ok()) return n.status();
  }
  res->set_expired(expired);
  return leases_.Delete(id);
}

absl::Status StateMachine::ApplyLeaseCheckpoint(
    const ApplyContext& ctx, const lockpb::LeaseCheckpointCmd& cp) {
  for (const lockpb::LeaseCheckpointCmd::Entry& e : cp.leases()) {
    if (e.remaining_ms() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("lease checkpoint: remaining_ms of lease ", e.id(),
                       " must be >= 0, got ", e.remaining_ms()));
    }
  }
  // Never more than the TTL from the command's time (the leader renews by
  // at most a TTL), and never earlier than the log already says: a
  // checkpoint from a leader whose clock is behind must not shorten a
  // lease, and applying the same checkpoint twice changes nothing. Leases
  // revoked or expired after the leader took the checkpoint are skipped.
  for (const lockpb::LeaseCheckpointCmd::Entry& e : cp.leases()) {
    absl::Status s = leases_.Checkpoint(e.id(), ctx.now_ms, e.remaining_ms());
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<LeaseRecord>> StateMachine::Lease(int64_t id) {
  return leases_.Get(id);
}

}  // namespace berth::lock
