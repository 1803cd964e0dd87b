#include "scheduler/state/mem_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace berth::sched {

class MemStoreWatch : public StoreWatch {
 public:
  MemStoreWatch(const MemStore* store, std::string prefix, int64_t next)
      : store_(store), prefix_(std::move(prefix)), next_(next) {}

  absl::StatusOr<std::vector<StoreEvent>> Next(absl::Duration) override {
    absl::StatusOr<std::vector<StoreEvent>> events =
        store_->EventsSince(prefix_, next_);
    if (events.ok() && !events->empty()) next_ = events->back().revision + 1;
    return events;
  }

 private:
  const MemStore* store_;
  std::string prefix_;
  int64_t next_;
};

absl::StatusOr<StoreSnapshot> MemStore::Load(const std::string& prefix) {
  absl::MutexLock lock(&mu_);
  StoreSnapshot snap;
  snap.revision = revision_;
  for (auto it = kv_.lower_bound(prefix);
       it != kv_.end() && absl::StartsWith(it->first, prefix); ++it) {
    snap.kvs.push_back({it->first, it->second.value, it->second.mod_revision});
  }
  return snap;
}

absl::StatusOr<CommitResult> MemStore::Commit(const StoreTxn& txn,
                                              const Fence& fence) {
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(txn.conds.size() + txn.ops.size()) > kMaxTxnOps) {
    return absl::InvalidArgumentError(
        absl::StrCat("transaction has ", txn.conds.size() + txn.ops.size(),
                     " operations; the limit is ", kMaxTxnOps));
  }
  if (fail_before_ > 0) {
    --fail_before_;
    return absl::UnavailableError("injected: commit not applied");
  }
  // An empty lock name is an unfenced write, as agents make.
  auto f = fences_.find(fence.lock_name);
  if (!fence.lock_name.empty() &&
      (f == fences_.end() || f->second != fence.token)) {
    return absl::FailedPreconditionError(
        absl::StrCat("fence lost: token ", fence.token, " of '",
                     fence.lock_name, "' is no longer current"));
  }
  CommitResult result;
  for (const StoreCond& c : txn.conds) {
    auto it = kv_.find(c.key);
    bool holds =
        c.kind == StoreCond::Kind::kAbsent
            ? it == kv_.end()
            : it != kv_.end() && it->second.mod_revision == c.mod_revision;
    if (!holds) {
      result.revision = revision_;
      return result;
    }
  }
  bool changed = false;
  const int64_t rev = revision_ + 1;
  for (const StoreOp& op : txn.ops) {
    if (!op.del) {
      kv_[op.key] = Entry{op.value, rev};
      log_.push_back({false, op.key, op.value, rev});
      changed = true;
      continue;
    }
    auto begin = kv_.lower_bound(op.key);
    auto end = op.prefix ? begin : kv_.upper_bound(op.key);
    if (op.prefix) {
      while (end != kv_.end() && absl::StartsWith(end->first, op.key)) ++end;
    }
    for (auto it = begin; it != end; ++it) {
      log_.push_back({true, it->first, "", rev});
      changed = true;
    }
    kv_.erase(begin, end);
  }
  if (changed) revision_ = rev;
  ++commits_;
  result.succeeded = true;
  result.revision = revision_;
  if (fail_after_ > 0) {
    --fail_after_;
    return absl::UnavailableError("injected: commit applied, reply lost");
  }
  return result;
}

absl::StatusOr<std::unique_ptr<StoreWatch>> MemStore::Watch(
    const std::string& prefix, int64_t start_revision) {
  {
    absl::MutexLock lock(&mu_);
    if (start_revision <= compacted_) {
      return absl::OutOfRangeError(absl::StrCat("revision ", start_revision,
                                                " is compacted (oldest ",
                                                compacted_ + 1, ")"));
    }
  }
  return std::make_unique<MemStoreWatch>(this, prefix, start_revision);
}

absl::StatusOr<std::vector<StoreEvent>> MemStore::EventsSince(
    const std::string& prefix, int64_t from) const {
  absl::MutexLock lock(&mu_);
  if (from <= compacted_) {
    return absl::OutOfRangeError(absl::StrCat(
        "revision ", from, " is compacted (oldest ", compacted_ + 1, ")"));
  }
  auto it = std::lower_bound(
      log_.begin(), log_.end(), from,
      [](const StoreEvent& e, int64_t r) { return e.revision < r; });
  std::vector<StoreEvent> out;
  for (; it != log_.end(); ++it) {
    if (absl::StartsWith(it->key, prefix)) out.push_back(*it);
  }
  return out;
}

void MemStore::SetFence(const std::string& lock_name, int64_t token) {
  absl::MutexLock lock(&mu_);
  fences_[lock_name] = token;
}

void MemStore::FailAfterApply(int n) {
  absl::MutexLock lock(&mu_);
  fail_after_ = n;
}

void MemStore::FailBeforeApply(int n) {
  absl::MutexLock lock(&mu_);
  fail_before_ = n;
}

void MemStore::Compact(int64_t revision) {
  absl::MutexLock lock(&mu_);
  compacted_ = std::max(compacted_, revision);
  auto it = std::upper_bound(
      log_.begin(), log_.end(), compacted_,
      [](int64_t r, const StoreEvent& e) { return r < e.revision; });
  log_.erase(log_.begin(), it);
}

int64_t MemStore::revision() const {
  absl::MutexLock lock(&mu_);
  return revision_;
}

int64_t MemStore::commits() const {
  absl::MutexLock lock(&mu_);
  return commits_;
}

size_t MemStore::size() const {
  absl::MutexLock lock(&mu_);
  return kv_.size();
}

}  // namespace berth::sched
