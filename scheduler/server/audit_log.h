// AuditLog: every write to the scheduler API (submit, stop, trigger,
// namespace, drain, suspend/resume, exec), who made it, when, and what the
// answer was, kept in lockd so it is replicated, survives a scheduler
// failover and is the same whichever scheduler is asked (`berth audit`).
//
// Keys: /berth-audit/<inverted ms>-<scheduler>-<seq>, where the inverted
// time (9999999999999 - unix ms, zero-padded) sorts the newest first, so
// "the newest N" is one limited Range. Outside /berth/ on purpose: the
// scheduler's mirror loads and watches /berth/, and a month of audit
// records must not slow a failover's reload. Records older than the retention
// are deleted by whichever scheduler records next, at most once a minute.
//
// Who: the verified identity of the caller's TLS client certificate when
// there is one; otherwise "anonymous", with the peer address and the login
// name the CLI claims (metadata "berth-user"), which only say who the
// caller says it is.
//
// A record that cannot be written (lockd unreachable) is printed to the
// scheduler's log instead, so it is not silently lost; the call itself has
// already been answered and is not failed for it.
//
// Thread safety: thread-safe. Ownership: borrows the lock::Client.
#ifndef BERTH_SCHEDULER_SERVER_AUDIT_LOG_H_
#define BERTH_SCHEDULER_SERVER_AUDIT_LOG_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/scheduler.pb.h"

namespace grpc {
class ServerContext;
}  // namespace grpc

namespace berth::lock {
class Client;
}  // namespace berth::lock

namespace berth::sched {

inline constexpr char kAuditPrefix[] = "/berth-audit/";

// The key of a record made at `time` by `scheduler` (its `seq`th).
std::string AuditKey(absl::Time time, const std::string& scheduler,
                     int64_t seq);
// Records made at or before `time` sort at or after this key.
std::string AuditKeyBound(absl::Time time);

// Who made the call, from its context (see the file comment).
struct Caller {
  std::string principal;
  bool authenticated = false;
  std::string peer;
  std::string claimed_user;
};
Caller CallerOf(const grpc::ServerContext& ctx);

class AuditLog {
 public:
  AuditLog(lock::Client* client, std::string scheduler_id,
           absl::Duration retention)
      : client_(client),
        scheduler_id_(std::move(scheduler_id)),
        retention_(retention) {}

  // Fills in time, scheduler and the caller, then stores the record.
  void Record(const grpc::ServerContext& ctx, schedpb::AuditRecord record);
  // The same with the caller already known (tests, non-gRPC paths).
  void Record(const Caller& caller, schedpb::AuditRecord record);

  // Oldest first: the newest `limit` records made at or after `since`.
  absl::StatusOr<std::vector<schedpb::AuditRecord>> List(absl::Time since,
                                                         int limit) const;

 private:
  void TrimIfDue(absl::Time now);

  lock::Client* const client_;
  const std::string scheduler_id_;
  const absl::Duration retention_;
  std::atomic<int64_t> seq_{0};
  absl::Mutex mu_;
  absl::Time last_trim_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_SERVER_AUDIT_LOG_H_
