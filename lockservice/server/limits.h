// Limits enforced while applying commands. Every replica must run with the
// same Limits, because they decide whether a command is rejected.
#ifndef BERTH_LOCKSERVICE_SERVER_LIMITS_H_
#define BERTH_LOCKSERVICE_SERVER_LIMITS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace berth::lock {

// Rejections are deterministic answers to a bad command; they use these
// codes only. Anything else from Apply is a local storage failure.
inline bool IsRejection(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

struct Limits {
  size_t max_key_bytes = 4096;
  // etcd's default request limit.
  size_t max_value_bytes = 1536 * 1024;
  // Per branch (compare, success, failure) of a transaction.
  int max_txn_ops = 128;
  int64_t min_lease_ttl_ms = 1000;
  int64_t max_lease_ttl_ms = int64_t{30} * 24 * 3600 * 1000;
  // Chubby-style lock-delay when a request does not choose one.
  int64_t default_lock_delay_ms = 5000;
  int64_t max_lock_delay_ms = int64_t{10} * 60 * 1000;
  // Exactly-once writes (client_sessions.h): writes one client may have in
  // flight (answers kept above its acknowledged floor), and the log time
  // after which an idle client's dedupe state is forgotten. The expiry must
  // stay far above any client's retry horizon (15 s by default).
  uint64_t max_client_window = 1 << 16;
  int64_t client_idle_expiry_ms = int64_t{30} * 60 * 1000;
  // Events a Compact command deletes in one apply; the rest goes in later
  // purge steps, so compacting a long history never stalls the apply path
  // (about 2-5 ms of SQLite work per step).
  int64_t history_purge_step_rows = 2000;
  // Permission-change records kept in the auth audit (auth_table.h); the
  // oldest beyond this are dropped as new ones are applied.
  int64_t max_auth_audit_rows = 10000;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_LIMITS_H_
