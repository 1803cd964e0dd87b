// AuthState: the applied users, roles and auth switch, as an immutable
// value the RPC layer checks requests against (lockd/rbac.h). The state
// machine rebuilds it from its sm_auth_ tables after every applied auth
// command and after a restore.
#ifndef BERTH_LOCKSERVICE_SERVER_AUTH_STATE_H_
#define BERTH_LOCKSERVICE_SERVER_AUTH_STATE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace berth::lock {

// Permission bits, as stored in sm_auth_perms.perms.
inline constexpr uint32_t kPermRead = 1;
inline constexpr uint32_t kPermWrite = 2;
inline constexpr uint32_t kPermLock = 4;
inline constexpr uint32_t kPermAll = kPermRead | kPermWrite | kPermLock;

struct AuthPerm {
  std::string prefix;
  uint32_t perms = 0;
  bool operator==(const AuthPerm& o) const {
    return prefix == o.prefix && perms == o.perms;
  }
};

struct AuthState {
  bool enabled = false;
  // Raft index of the newest applied auth command (0: none yet).
  uint64_t revision = 0;
  // Role name -> its permissions, by prefix.
  std::map<std::string, std::vector<AuthPerm>> roles;
  // User name -> its role names, sorted.
  std::map<std::string, std::vector<std::string>> users;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_AUTH_STATE_H_
