#include "lockservice/lockd/replicated_store.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"

namespace berth::lockd {
namespace {

// The SQLite file failed under us. Continuing would fork this replica's
// state from the others (or answer reads a restart forgets), so stop hard;
// a restart replays from the last durable applied index.
[[noreturn]] void DieOnApplyFailure(const std::string& what,
                                    const absl::Status& st) {
  fprintf(stderr, "lockd: %s failed: %s\n", what.c_str(),
          std::string(st.message()).c_str());
  abort();
}

}  // namespace

std::string EncodeOutcome(const CommandOutcome& o) {
  std::string msg(o.status.message());
  std::string out;
  uint32_t code = static_cast<uint32_t>(o.status.code());
  uint32_t len = static_cast<uint32_t>(msg.size());
  out.append(reinterpret_cast<const char*>(&code), 4);
  out.append(reinterpret_cast<const char*>(&len), 4);
  out.append(msg);
  out.append(o.result.SerializeAsString());
  return out;
}

absl::StatusOr<CommandOutcome> DecodeOutcome(std::string_view b) {
  if (b.size() < 8) return absl::InternalError("truncated command outcome");
  uint32_t code, len;
  memcpy(&code, b.data(), 4);
  memcpy(&len, b.data() + 4, 4);
  if (b.size() < 8 + static_cast<size_t>(len)) {
    return absl::InternalError("truncated command outcome message");
  }
  CommandOutcome o;
  o.status = absl::Status(static_cast<absl::StatusCode>(code),
                          std::string(b.substr(8, len)));
  if (!o.result.ParseFromArray(b.data() + 8 + len,
                               static_cast<int>(b.size() - 8 - len))) {
    return absl::InternalError("undecodable command result");
  }
  return o;
}

ReplicatedStore::ReplicatedStore(std::unique_ptr<lock::StateMachine> sm,
                                 WatchHub* hub)
    : sm_(std::move(sm)), hub_(hub) {
  absl::MutexLock l(&mu_);
  PublishAuthLocked();
}

void ReplicatedStore::PublishAuthLocked() {
  // The state machine counts from 1 (its open loads the state), so 0
  // means nothing published yet.
  if (sm_->auth_version() == auth_version_) return;
  auth_version_ = sm_->auth_version();
  auto state = std::make_shared<const lock::AuthState>(sm_->auth());
  absl::MutexLock l(&auth_mu_);
  auth_ = std::move(state);
}

std::shared_ptr<const lock::AuthState> ReplicatedStore::auth() {
  absl::MutexLock l(&auth_mu_);
  return auth_;
}

std::string ReplicatedStore::Apply(uint64_t index, std::string_view payload) {
  CommandOutcome out;
  lock::LockNotices notices;
  {
    absl::MutexLock l(&mu_);
    if (payload.empty()) {
      absl::Status st = sm_->ApplyEmpty(index);
      if (!st.ok())
        DieOnApplyFailure(absl::StrCat("applying index ", index), st);
      return "";
    }
    absl::StatusOr<lock::ApplyResult> r = sm_->ApplyEntryData(
        index, absl::string_view(payload.data(), payload.size()));
    if (!r.ok()) {
      DieOnApplyFailure(absl::StrCat("applying index ", index), r.status());
    }
    out.status = r->status;
    out.result = std::move(r->result);
    PublishAuthLocked();
    if (!r->events.empty()) hub_->Publish(r->events, sm_->revision());
    notices = std::move(r->locks);
  }
  for (const lock::LockGrant& g : notices.grants) {
    DeliverLockNotice(
        g.name, g.lease,
        LockWaitResult{true, g.token, g.key, absl::OkStatus(), g.request_id});
  }
  for (const lock::WaiterDropped& d : notices.dropped) {
    DeliverLockNotice(d.name, d.lease,
                      LockWaitResult{false, 0, "", d.reason, d.request_id});
  }
  return EncodeOutcome(out);
}

void ReplicatedStore::DeliverLockNotice(const std::string& name, int64_t lease,
                                        const LockWaitResult& r) {
  std::vector<LockWaiterFn> fns;
  {
    absl::MutexLock l(&waiter_mu_);
    auto [b, e] = waiter_index_.equal_range({name, lease});
    for (auto it = b; it != e; ++it) {
      auto w = waiters_.find(it->second);
      fns.push_back(std::move(w->second.fn));
      waiters_.erase(w);
    }
    waiter_index_.erase(b, e);
  }
  // Outside waiter_mu_: a callback may remove other registrations.
  for (LockWaiterFn& fn : fns) std::move(fn)(r);
}

void ReplicatedStore::ApplyConfChange(uint64_t index,
                                      const raftpb::ConfChange& cc) {
  lockpb::Command cmd;
  std::string key = absl::StrCat(kMembersPrefix, cc.node_id());
  if (cc.type() == raftpb::CONF_REMOVE_NODE) {
    cmd.mutable_delete_range()->set_key(key);
  } else {
    auto* put = cmd.mutable_put();
    put->set_key(key);
    // Value: "<address>" or "<address> learner".
    put->set_value(cc.type() == raftpb::CONF_ADD_LEARNER
                       ? absl::StrCat(cc.context(), " learner")
                       : std::string(cc.context()));
  }
  {
    absl::MutexLock l(&mu_);
    absl::StatusOr<lock::ApplyResult> r = sm_->Apply(index, cmd);
    if (!r.ok()) {
      DieOnApplyFailure(absl::StrCat("applying membership change at ", index),
                        r.status());
    }
    if (!r->events.empty()) hub_->Publish(r->events, sm_->revision());
  }
  {
    absl::MutexLock l(&members_mu_);
    members_cache_.reset();
  }
  if (on_members_) on_members_();
}

void ReplicatedStore::BeginApplyBatch() {
  if (apply_batch_ != nullptr) batch_start_ = Clock::Real()->Monotonic();
  absl::MutexLock l(&mu_);
  if (absl::Status st = sm_->BeginBatch(); !st.ok()) {
    DieOnApplyFailure("starting an apply batch", st);
  }
}

void ReplicatedStore::EndApplyBatch() {
  absl::MutexLock l(&mu_);
  if (absl::Status st = sm_->CommitBatch(); !st.ok()) {
    // The indexes in memory are ahead of the file now.
    DieOnApplyFailure("committing an apply batch", st);
  }
  if (apply_batch_ != nullptr) {
    apply_batch_->ObserveDuration(Clock::Real()->Monotonic() - batch_start_);
  }
}

uint64_t ReplicatedStore::AppliedIndex() const {
  auto* self = const_cast<ReplicatedStore*>(this);
  absl::MutexLock l(&self->mu_);
  return sm_->applied_index();
}

namespace {

class SourceBuilder : public node::SnapshotBuilder {
 public:
  SourceBuilder(lock::SnapshotSource* source, uint64_t index)
      : source_(source), index_(index) {}
  ~SourceBuilder() override { source_->Unpin(); }
  uint64_t index() const override { return index_; }
  absl::StatusOr<std::string> Build() override { return source_->Build(); }

 private:
  lock::SnapshotSource* const source_;
  const uint64_t index_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<node::SnapshotBuilder>>
ReplicatedStore::PinSnapshot() {
  if (snapshot_source_ == nullptr) {
    absl::StatusOr<std::unique_ptr<lock::SnapshotSource>> src =
        lock::SnapshotSource::Open(snapshot_path_);
    if (!src.ok()) return src.status();
    snapshot_source_ = std::move(*src);
  }
  absl::StatusOr<uint64_t> index = snapshot_source_->Pin();
  if (!index.ok()) return index.status();
  return std::make_unique<SourceBuilder>(snapshot_source_.get(), *index);
}

absl::Status ReplicatedStore::Restore(const raftpb::Snapshot& snap) {
  absl::Status st;
  {
    absl::MutexLock l(&mu_);
    const int64_t before = sm_->revision();
    st = sm_->Restore(snap.data());
    PublishAuthLocked();
    if (st.ok() && sm_->revision() > before) CatchUpWatchesLocked(before + 1);
  }
  {
    absl::MutexLock l(&members_mu_);
    members_cache_.reset();
  }
  if (on_members_) on_members_();
  return st;
}

uint64_t ReplicatedStore::AddLockWaiter(const std::string& name, int64_t lease,
                                        LockWaiterFn fn) {
  absl::MutexLock l(&waiter_mu_);
  const uint64_t h = ++next_waiter_;
  waiters_[h] = WaiterReg{name, lease, std::move(fn)};
  waiter_index_.emplace(std::make_pair(name, lease), h);
  return h;
}

void ReplicatedStore::RemoveLockWaiter(uint64_t handle) {
  LockWaiterFn dropped;  // destroyed outside waiter_mu_
  absl::MutexLock l(&waiter_mu_);
  auto w = waiters_.find(handle);
  if (w == waiters_.end()) return;
  auto [b, e] = waiter_index_.equal_range({w->second.name, w->second.lease});
  for (auto it = b; it != e; ++it) {
    if (it->second == handle) {
      waiter_index_.erase(it);
      break;
    }
  }
  dropped = std::move(w->second.fn);
  waiters_.erase(w);
}

void ReplicatedStore::CatchUpWatchesLocked(int64_t from) {
  // Every watch here has been sent each event up to `from` - 1; the
  // restored history holds the rest unless it was compacted meanwhile.
  // Watches on one range share a history read.
  std::map<std::pair<std::string, std::string>,
           absl::StatusOr<std::vector<lockpb::Event>>>
      history;
  const int64_t revision = sm_->revision();
  for (const WatchHub::Registration& r : hub_->Registrations()) {
    auto key = std::make_pair(r.spec.key, r.spec.range_end);
    auto h = history.find(key);
    if (h == history.end()) {
      h = history
              .emplace(key,
                       sm_->EventsSince(from, r.spec.key, r.spec.range_end, 0))
              .first;
    }
    if (h->second.ok()) {
      if (!h->second->empty()) {
        hub_->Replay(r.sink, r.watch_id, *h->second, revision);
      }
      continue;
    }
    int64_t compact = 0;
    std::string reason;
    if (lock::IsHistoryCompacted(h->second.status())) {
      absl::StatusOr<int64_t> c = sm_->compact_revision();
      compact = c.ok() ? *c : revision;
      reason = absl::StrCat(
          "this replica installed a snapshot and the history from revision ",
          from, " is compacted up to ", compact, "; resume from there");
    } else {
      reason = absl::StrCat(
          "this replica installed a snapshot and cannot read the history "
          "from revision ",
          from, ": ", h->second.status().message(),
          "; resume from the last revision received");
    }
    hub_->Cancel(r.sink, r.watch_id, reason, compact, revision);
  }
}

absl::Status ReplicatedStore::StartWatch(WatchSink* sink, int64_t watch_id,
                                         const WatchHub::Spec& spec,
                                         int64_t* compact_revision) {
  absl::MutexLock l(&mu_);
  *compact_revision = 0;
  std::vector<lockpb::Event> history;
  if (spec.start_revision > 0 && spec.start_revision <= sm_->revision()) {
    absl::StatusOr<std::vector<lockpb::Event>> ev =
        sm_->EventsSince(spec.start_revision, spec.key, spec.range_end, 0);
    if (!ev.ok()) {
      if (lock::IsHistoryCompacted(ev.status())) {
        absl::StatusOr<int64_t> c = sm_->compact_revision();
        *compact_revision = c.ok() ? *c : 0;
      }
      return ev.status();
    }
    history = std::move(*ev);
  }
  // Registration and replay happen under mu_, which Apply also holds while
  // publishing, so the watch sees every event exactly once.
  hub_->Add(sink, watch_id, spec);
  if (!history.empty()) hub_->Replay(sink, watch_id, history, sm_->revision());
  return absl::OkStatus();
}

int64_t ReplicatedStore::revision() {
  absl::MutexLock l(&mu_);
  return sm_->revision();
}

std::map<uint64_t, std::string> ReplicatedStore::Members() {
  {
    absl::MutexLock l(&members_mu_);
    if (members_cache_.has_value()) return *members_cache_;
  }
  lockpb::RangeRequest req;
  req.set_key(kMembersPrefix);
  std::string end = kMembersPrefix;
  end.back() = static_cast<char>(end.back() + 1);
  req.set_range_end(end);
  std::map<uint64_t, std::string> out;
  absl::MutexLock l(&mu_);
  absl::StatusOr<lockpb::RangeResponse> r = sm_->Range(req);
  if (!r.ok()) return out;
  for (const lockpb::KeyValue& kv : r->kvs()) {
    uint64_t id;
    if (!absl::SimpleAtoi(kv.key().substr(strlen(kMembersPrefix)), &id)) {
      continue;
    }
    out[id] = kv.value();
  }
  // Under mu_ still, so no membership change can slip in between the read
  // and the caching (ApplyConfChange clears the cache after taking mu_).
  absl::MutexLock ml(&members_mu_);
  members_cache_ = out;
  return out;
}

}  // namespace berth::lockd
