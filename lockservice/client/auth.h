// AuthClient: lockd's users, roles and auth switch (docs/security.md,
// "Users and roles"), and the audit of every permission change.
//
// Identity is the client certificate the Client dials with
// (ClientOptions::credentials): CN = name, OU = kind. Only the user "root"
// may enable auth, and, while it is enabled, change or read users and
// roles.
//
// Changes are not retried once they may have reached the leader (a retried
// "user add" would fail with AlreadyExists); reads are retried across
// failover like the Client's other reads.
//
// Thread safety: thread-safe. Borrows the Client, which must outlive it.
#ifndef BERTH_LOCKSERVICE_CLIENT_AUTH_H_
#define BERTH_LOCKSERVICE_CLIENT_AUTH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lockservice/client/client.h"

namespace berth::lock {

struct AuthPermission {
  std::string prefix;
  bool read = false;
  bool write = false;
  bool lock = false;
};

// `perms` is a comma list of read, write and lock ("read,write"); errors
// name the bad word. An empty prefix is refused too.
absl::StatusOr<AuthPermission> ParsePermission(absl::string_view prefix,
                                               absl::string_view perms);
// "read,write,lock" (the words that are set), "none" for none.
std::string PermissionWords(const AuthPermission& p);

struct AuthRole {
  std::string name;
  std::vector<AuthPermission> permissions;
  bool built_in = false;
};

struct AuthUser {
  std::string name;
  std::vector<std::string> roles;
};

struct AuthAuditRecord {
  uint64_t index = 0;
  int64_t time_unix_ms = 0;
  std::string who;
  std::string what;
  std::string result;
};

struct AuthStatus {
  bool enabled = false;
  uint64_t auth_revision = 0;
};

class AuthClient {
 public:
  explicit AuthClient(Client* client) : client_(client) {}

  absl::Status Enable();
  absl::Status Disable();
  absl::StatusOr<AuthStatus> Status();

  absl::Status UserAdd(const std::string& name);
  absl::Status UserDelete(const std::string& name);
  absl::Status UserGrantRole(const std::string& user, const std::string& role);
  absl::Status UserRevokeRole(const std::string& user, const std::string& role);
  absl::StatusOr<AuthUser> UserGet(const std::string& name);
  absl::StatusOr<std::vector<AuthUser>> UserList();

  absl::Status RoleAdd(const std::string& name);
  absl::Status RoleDelete(const std::string& name);
  absl::Status RoleGrantPermission(const std::string& role,
                                   const AuthPermission& permission);
  // Removes the rights set in `permission` on its prefix (all of them
  // when none is set).
  absl::Status RoleRevokePermission(const std::string& role,
                                    const AuthPermission& permission);
  absl::StatusOr<AuthRole> RoleGet(const std::string& name);
  absl::StatusOr<std::vector<AuthRole>> RoleList();

  // Newest first; `limit` 0 = the server's default (100).
  absl::StatusOr<std::vector<AuthAuditRecord>> AuditList(int64_t limit = 0);

 private:
  Client* const client_;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_CLIENT_AUTH_H_
