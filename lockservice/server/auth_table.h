// AuthTable: users, roles, permissions and the permission-change audit, in
// the state machine's sm_auth_ tables (sm_schema.cc), changed only by
// applied AuthCmds so that every replica agrees.
//
// Names: the user "root" is implicit (it always exists and cannot be added
// or deleted); the roles "scheduler" and "agent" are built in (lockd/rbac.h
// defines them) and cannot be added, changed or deleted. A refused change
// is a rejection (InvalidArgument, NotFound, AlreadyExists,
// FailedPrecondition) that names the problem.
//
// The audit keeps the newest Limits::max_auth_audit_rows records.
//
// Thread safety: none; owned by the StateMachine, used on its thread.
#ifndef BERTH_LOCKSERVICE_SERVER_AUTH_TABLE_H_
#define BERTH_LOCKSERVICE_SERVER_AUTH_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lockservice/server/auth_state.h"
#include "lockservice/server/limits.h"
#include "lockservice/server/sm_db.h"
#include "proto/lock.pb.h"
#include "proto/lockd_internal.pb.h"

namespace berth::lock {

inline constexpr char kRootUser[] = "root";
inline constexpr char kSchedulerRole[] = "scheduler";
inline constexpr char kAgentRole[] = "agent";
// The caller an AuthEnable must come from (AuthCmd.who).
inline constexpr char kRootWho[] = "user:root";

// "read,write" for kPermRead|kPermWrite; "none" for 0.
std::string PermsString(uint32_t perms);
uint32_t PermsOf(const lockpb::AuthPermission& p);

class AuthTable {
 public:
  AuthTable(SmDb* db, const Limits* limits) : db_(db), limits_(limits) {}

  // Applies one change. Rejections leave the tables as they were (the
  // caller rolls back to its savepoint).
  // `index` is the command's Raft index (recorded as when a user or role
  // was added).
  absl::Status Apply(uint64_t index, const lockpb::AuthCmd& cmd);
  // Appends the audit record of `cmd` (applied at `index`, stamped `now_ms`,
  // with outcome `result`) and trims the oldest beyond the bound.
  absl::Status Audit(uint64_t index, int64_t now_ms, const lockpb::AuthCmd& cmd,
                     const absl::Status& result);
  // The whole applied state.
  absl::StatusOr<AuthState> Load();
  // Newest first, at most `limit`.
  absl::StatusOr<std::vector<lockpb::AuthAuditRecord>> AuditList(int64_t limit);

  // The audit's "what": "role grant reader read /app/".
  static std::string Describe(const lockpb::AuthCmd& cmd);

 private:
  absl::StatusOr<bool> Exists(const char* sql, const std::string& a,
                              const std::string* b = nullptr);
  absl::Status Run(const char* sql, const std::string& a,
                   const std::string* b = nullptr);
  // Adds `name` as a new `what` ("user", "role"): AlreadyExists if
  // `exists_sql` finds it, else `insert_sql` with (name, index).
  absl::Status InsertNew(const char* what, const char* exists_sql,
                         const char* insert_sql, const std::string& name,
                         uint64_t index);
  absl::Status ValidateName(const char* what, const std::string& name) const;
  absl::Status RequireUser(const std::string& user);
  absl::Status RequireMutableRole(const std::string& role);
  absl::Status GrantPermission(const lockpb::AuthRoleGrantPermissionRequest& r);
  absl::Status RevokePermission(
      const lockpb::AuthRoleRevokePermissionRequest& r);
  absl::Status GrantRole(const lockpb::AuthUserGrantRoleRequest& r);

  SmDb* db_;
  const Limits* limits_;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_AUTH_TABLE_H_
