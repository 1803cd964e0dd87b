// LockdStore: the Store seam over a real berth-lockd cluster.
//
// Load pages through large prefixes (so no reply exceeds gRPC's message
// limit); pages after the first may be newer than the returned revision,
// which is harmless because the caller replays the watch from that
// revision and every key converges to its latest value.
//
// Thread safety: thread-safe. Ownership: borrows the Client.
#ifndef BERTH_SCHEDULER_STATE_LOCKD_STORE_H_
#define BERTH_SCHEDULER_STATE_LOCKD_STORE_H_

#include <memory>
#include <string>

#include "lockservice/client/client.h"
#include "scheduler/state/store.h"

namespace berth::sched {

class LockdStore : public Store {
 public:
  explicit LockdStore(lock::Client* client) : client_(client) {}

  absl::StatusOr<StoreSnapshot> Load(const std::string& prefix) override;
  absl::StatusOr<CommitResult> Commit(const StoreTxn& txn,
                                      const Fence& fence) override;
  absl::StatusOr<std::unique_ptr<StoreWatch>> Watch(
      const std::string& prefix, int64_t start_revision) override;

  static constexpr int64_t kPageSize = 2000;

 private:
  lock::Client* client_;
};

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_STATE_LOCKD_STORE_H_
