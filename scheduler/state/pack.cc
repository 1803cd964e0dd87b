#include "scheduler/state/pack.h"

namespace berth::sched {

std::vector<StoreTxn> PackTxns(const std::vector<StoreTxn>& changes,
                               size_t max_ops) {
  std::vector<StoreTxn> out;
  StoreTxn batch;
  auto size = [](const StoreTxn& t) { return t.ops.size() + t.conds.size(); };
  for (const StoreTxn& c : changes) {
    if (size(batch) > 0 && size(batch) + size(c) > max_ops) {
      out.push_back(std::move(batch));
      batch = StoreTxn();
    }
    batch.conds.insert(batch.conds.end(), c.conds.begin(), c.conds.end());
    batch.ops.insert(batch.ops.end(), c.ops.begin(), c.ops.end());
  }
  if (size(batch) > 0) out.push_back(std::move(batch));
  return out;
}

}  // namespace berth::sched
