#include "scheduler/state/lockd_store.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lockservice/client/kv.h"
#include "lockservice/client/watch.h"

namespace berth::sched {
namespace {

// The first key after every key that starts with `prefix`.
std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    unsigned char c = static_cast<unsigned char>(end.back());
    if (c < 0xff) {
      end.back() = static_cast<char>(c + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

class LockdStoreWatch : public StoreWatch {
 public:
  explicit LockdStoreWatch(std::unique_ptr<lock::Watch> watch)
      : watch_(std::move(watch)) {}

  absl::StatusOr<std::vector<StoreEvent>> Next(
      absl::Duration timeout) override {
    absl::StatusOr<std::optional<lock::WatchBatch>> batch =
        watch_->Next(timeout);
    if (!batch.ok()) return batch.status();
    std::vector<StoreEvent> out;
    if (!batch->has_value()) return out;
    for (lock::WatchEvent& e : (*batch)->events) {
      StoreEvent ev;
      ev.deleted = e.type == lock::WatchEvent::Type::kDelete;
      ev.key = std::move(e.kv.key);
      ev.value = std::move(e.kv.value);
      ev.revision = e.kv.mod_revision;
      out.push_back(std::move(ev));
    }
    return out;
  }

 private:
  std::unique_ptr<lock::Watch> watch_;
};

}  // namespace

absl::StatusOr<StoreSnapshot> LockdStore::Load(const std::string& prefix) {
  StoreSnapshot snap;
  const std::string end = PrefixEnd(prefix);
  std::string from = prefix;
  for (;;) {
    lock::RangeOptions opts;
    opts.range_end = end;
    opts.limit = kPageSize;
    absl::StatusOr<lock::RangeResult> page = client_->kv().Range(from, opts);
    if (!page.ok()) return page.status();
    if (snap.revision == 0) snap.revision = page->revision;
    for (lock::KeyValue& kv : page->kvs) {
      snap.kvs.push_back(
          {std::move(kv.key), std::move(kv.value), kv.mod_revision});
    }
    if (!page->more || page->kvs.empty()) break;
    from = snap.kvs.back().key + std::string(1, '\0');
  }
  return snap;
}

absl::StatusOr<CommitResult> LockdStore::Commit(const StoreTxn& txn,
                                                const Fence& fence) {
  lock::Txn t = client_->kv().Txn();
  for (const StoreCond& c : txn.conds) {
    if (c.kind == StoreCond::Kind::kAbsent) {
      t.If(lock::Compare::Version(c.key, lock::Compare::Op::kEqual, 0));
    } else {
      t.If(lock::Compare::ModRevision(c.key, lock::Compare::Op::kEqual,
                                      c.mod_revision));
    }
  }
  for (const StoreOp& op : txn.ops) {
    if (!op.del) {
      t.Then(lock::TxnOp::Put(op.key, op.value));
    } else {
      lock::DeleteOptions d;
      d.prefix = op.prefix;
      t.Then(lock::TxnOp::Delete(op.key, d));
    }
  }
  if (!fence.lock_name.empty()) t.Guard(fence.lock_name, fence.token);
  absl::StatusOr<lock::TxnResult> r = t.Commit();
  if (!r.ok()) return r.status();
  return CommitResult{r->succeeded, r->revision};
}

absl::StatusOr<std::unique_ptr<StoreWatch>> LockdStore::Watch(
    const std::string& prefix, int64_t start_revision) {
  lock::WatchOptions opts;
  opts.prefix = true;
  opts.start_revision = start_revision;
  absl::StatusOr<std::unique_ptr<lock::Watch>> w =
      lock::Watch::Start(client_, prefix, opts);
  if (!w.ok()) return w.status();
  return std::unique_ptr<StoreWatch>(
      std::make_unique<LockdStoreWatch>(std::move(*w)));
}

}  // namespace berth::sched
