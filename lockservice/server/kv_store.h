// KvStore: the key space (sm_kv) and its change history (sm_events).
//
// Only the latest version of each key is kept; history exists as the event
// log that watches replay. Compact(R) drops events below R, after which a
// replay from below R fails with a "compacted" error.
//
// Key ranges follow lock.proto: empty range_end = one key, "\0" = open-ended,
// otherwise [key, range_end).
//
// Thread safety: none. Borrows the SmDb, which must outlive it. Writes must
// run inside the caller's transaction.
#ifndef BERTH_LOCKSERVICE_SERVER_KV_STORE_H_
#define BERTH_LOCKSERVICE_SERVER_KV_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lockservice/server/apply_context.h"
#include "lockservice/server/sm_db.h"
#include "proto/lock.pb.h"

namespace berth::lock {

// InvalidArgument naming the problem if (key, range_end) is malformed.
absl::Status ValidateRange(absl::string_view key, absl::string_view range_end);

// SQL predicate on column `column` for a validated range, with the values
// to bind in order.
struct RangeSql {
  std::string where;
  std::vector<absl::string_view> params;
};
RangeSql RangeWhere(absl::string_view key, absl::string_view range_end,
                    absl::string_view column = "key");

// OutOfRange "compacted: ..." for a history read below the compaction point.
absl::Status HistoryCompactedError(int64_t requested, int64_t compact_revision);
bool IsHistoryCompacted(const absl::Status& s);

class KvStore {
 public:
  explicit KvStore(SmDb* db) : db_(db) {}

  absl::StatusOr<std::optional<lockpb::KeyValue>> Get(absl::string_view key);

  // Keys in the range in key order; fills kvs, more and count.
  absl::StatusOr<lockpb::RangeResponse> Range(const lockpb::RangeRequest& req);

  // Creates or updates `key` at ctx.WriteRevision() and logs a PUT event.
  // `prev` (optional) receives the previous value if the key existed.
  absl::Status Put(ApplyContext& ctx, absl::string_view key,
                   absl::string_view value, int64_t lease,
                   lockpb::KeyValue* prev);

  // Deletes every key in the range, logging a DELETE event for each. Only
  // allocates a revision if something was deleted.
  absl::StatusOr<int64_t> DeleteRange(ApplyContext& ctx, absl::string_view key,
                                      absl::string_view range_end,
                                      std::vector<lockpb::KeyValue>* prev);

  // Keys bound to `lease`, in key order.
  absl::StatusOr<std::vector<std::string>> KeysOfLease(int64_t lease);

  // Events with revision >= `from_revision` on keys in the range, in
  // revision order. Returns at most about `limit` events (0 = no limit) but
  // never splits a revision, so a reader can resume at last revision + 1.
  // Fails with HistoryCompactedError if from_revision is below the
  // compaction point.
  absl::StatusOr<std::vector<lockpb::Event>> EventsSince(
      int64_t from_revision, absl::string_view key, absl::string_view range_end,
      int64_t limit);

  // Deletes the oldest events with revision < `revision`, at most
  // `max_rows` of them (a bounded step: one revision may hold many events,
  // so the step can stop inside a revision). Returns true if events below
  // `revision` remain. Caller validates bounds.
  absl::StatusOr<bool> PurgeEventsBelow(int64_t revision, int64_t max_rows);
  // Whether any event with revision < `revision` is stored (cheap: one
  // index probe).
  absl::StatusOr<bool> HasEventsBelow(int64_t revision);
  // Number of stored events (tests and status).
  absl::StatusOr<int64_t> EventCount();

 private:
  absl::Status LogEvent(ApplyContext& ctx, const lockpb::Event& ev);
  SmDb* db_;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_KV_STORE_H_
