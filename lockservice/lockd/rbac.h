// RBAC: what a caller may do when auth is enabled (issue #16; etcd's RBAC
// with certificates instead of passwords). Pure functions of the applied
// AuthState (lock/auth_state.h), the caller and the request: no network,
// no state machine, so they are tested exhaustively (rbac_test.cc).
//
// Callers, from the verified client certificate (CN = name, OU = kind):
//  * user "root": everything, auth administration included.
//  * other users: the union of their roles' permissions. read covers
//    Range, Watch, Txn compares and reads, and the keys a lease TTL lists;
//    write covers Put, DeleteRange and Txn puts and deletes (a key attached
//    to a lease needs write on the key); lock covers Lock, TryLock, Unlock,
//    Holder, CheckToken, a Txn's fencing guard and every Election call, on
//    names under the prefix. A range [key, range_end) must be covered as a
//    whole (by one prefix or by adjacent ones).
//  * scheduler: the built-in role "scheduler" (SchedulerPermissions()).
//  * agent: reads, and whatever the node authorizer (node_authorizer.h)
//    lets its node change; it is applied to agents whether or not auth is
//    enabled.
//  * server (a lockd replica) and certificates of no kind: lease calls and
//    cluster administration only (MayAdminister). A replica relaying an
//    etcd call names the original caller instead (Core::CallerOf).
//  * no certificate: Unauthenticated.
// Lease grant and keepalive are allowed to every authenticated caller (as
// in etcd). Revoking a lease deletes its keys and gives up its locks, so a
// user or scheduler may revoke only a lease whose every key it may write or
// lock and whose every lock it may take (CheckLeaseRevoke; etcd lets anyone
// revoke anything). Compaction and cluster administration need root (or a
// server certificate).
//
// When auth is disabled every check here passes.
#ifndef BERTH_LOCKSERVICE_LOCKD_RBAC_H_
#define BERTH_LOCKSERVICE_LOCKD_RBAC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "lockservice/server/auth_state.h"
#include "proto/lockd_internal.pb.h"

namespace berth::lockd {

// Who is calling, as the RBAC rules see it.
struct Caller {
  bool has_certificate = false;
  std::string kind;  // the certificate's OU
  std::string name;  // its CN
  std::string peer;  // the transport address, for anonymous callers

  // "user:root", "scheduler:s1", or "anonymous@ipv4:1.2.3.4:5" (audit and
  // log lines).
  std::string Who() const;
  bool IsRoot() const {
    return has_certificate && kind == "user" && name == "root";
  }
};

// The scheduler's own keys, locks and election (scheduler/state/keys.h and
// scheduler/server/audit_log.h; lockd does not link the scheduler, so a
// test keeps them in step).
const std::vector<lock::AuthPerm>& SchedulerPermissions();

// The permissions `caller` holds through its roles (user) or kind
// (scheduler); empty for everyone else.
std::vector<lock::AuthPerm> PermissionsOf(const lock::AuthState& state,
                                          const Caller& caller);

// True when `perms` (bits from auth_state.h) cover every key of
// [key, range_end) (range_end as in lock.proto) with bit `need`.
bool Covers(const std::vector<lock::AuthPerm>& perms, uint32_t need,
            absl::string_view key, absl::string_view range_end);

// May `caller` revoke `lease`, which has `keys` attached and holds or
// waits for the locks `lock_names`? A key passes with write or lock (lock
// and election keys live under their names); a lock name needs lock.
// Agents are judged by the node authorizer instead.
absl::Status CheckLeaseRevoke(const lock::AuthState& state,
                              const Caller& caller, int64_t lease,
                              const std::vector<std::string>& keys,
                              const std::vector<std::string>& lock_names);

// Unauthenticated when auth is enabled and the caller has no certificate.
absl::Status CheckAuthenticated(const lock::AuthState& state,
                                const Caller& caller);

// May `caller` use [key, range_end) with `need`? `what` names the
// operation in the refusal ("read", "watch", "lock").
absl::Status CheckKeys(const lock::AuthState& state, const Caller& caller,
                       uint32_t need, absl::string_view what,
                       absl::string_view key, absl::string_view range_end);

// May `caller` propose `cmd` (a client's command: KV writes, Txn
// recursively, locks, elections, leases, compaction)?
absl::Status CheckCommand(const lock::AuthState& state, const Caller& caller,
                          const lockpb::Command& cmd);

// Cluster administration (membership, leadership transfer, defragment,
// compaction): root or a server certificate when auth is enabled.
absl::Status CheckClusterAdmin(const lock::AuthState& state,
                               const Caller& caller, absl::string_view what);

// Users and roles: root when auth is enabled, anyone when it is disabled
// (as in etcd); enabling needs root's certificate always.
absl::Status CheckAuthAdmin(const lock::AuthState& state, const Caller& caller,
                            absl::string_view what);
absl::Status CheckAuthEnable(const Caller& caller);

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_RBAC_H_
