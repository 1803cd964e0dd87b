#include "lockservice/lockd/rbac.h"

#include <algorithm>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lockservice/server/auth_table.h"

namespace berth::lockd {
namespace {

using lock::AuthPerm;
using lock::kPermLock;
using lock::kPermRead;
using lock::kPermWrite;

std::string RbacQuote(absl::string_view s) {
  return absl::StrCat("\"", absl::CHexEscape(s), "\"");
}

// The first key after every key that starts with `prefix`; nullopt when
// there is none (a prefix of only 0xff bytes reaches the end of the space).
std::optional<std::string> PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) {
    end.pop_back();
  }
  if (end.empty()) return std::nullopt;
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

std::string RangeText(absl::string_view key, absl::string_view range_end) {
  if (range_end.empty()) return RbacQuote(key);
  if (range_end == absl::string_view("\0", 1)) {
    return absl::StrCat("every key from ", RbacQuote(key));
  }
  return absl::StrCat("the range [", RbacQuote(key), ", ", RbacQuote(range_end),
                      ")");
}

std::string PermName(uint32_t need) { return lock::PermsString(need); }

// Why `caller`'s permissions fall short, for the refusal.
std::string Shortfall(const lock::AuthState& state, const Caller& caller,
                      uint32_t need) {
  if (caller.kind == "scheduler") {
    return absl::StrCat("the built-in role scheduler does not grant ",
                        PermName(need), " on it");
  }
  if (caller.kind != "user") {
    return absl::StrCat("a ",
                        caller.kind.empty() ? "certificate without a kind (OU)"
                                            : caller.kind + " certificate",
                        " has no key permissions while auth is enabled");
  }
  auto it = state.users.find(caller.name);
  if (it == state.users.end()) {
    return absl::StrCat("there is no user ", RbacQuote(caller.name),
                        " (berth auth user add ", caller.name, ")");
  }
  return absl::StrCat(
      "no role grants ", PermName(need), " on it (roles: ",
      it->second.empty() ? "none" : absl::StrJoin(it->second, ","), ")");
}

std::string Subject(const Caller& caller) {
  if (!caller.has_certificate) return caller.Who();
  return absl::StrCat(caller.kind.empty() ? "certificate" : caller.kind, " ",
                      RbacQuote(caller.name));
}

absl::Status RbacDenied(const lock::AuthState& state, const Caller& caller,
                        uint32_t need, absl::string_view what,
                        absl::string_view key, absl::string_view range_end) {
  return absl::PermissionDeniedError(absl::StrCat(
      Subject(caller), " may not ", what, " ", RangeText(key, range_end), ": ",
      Shortfall(state, caller, need)));
}

absl::Status CheckOp(const lock::AuthState& state, const Caller& caller,
                     const lockpb::RequestOp& op) {
  switch (op.request_case()) {
    case lockpb::RequestOp::kRequestRange:
      return CheckKeys(state, caller, kPermRead, "read",
                       op.request_range().key(),
                       op.request_range().range_end());
    case lockpb::RequestOp::kRequestPut:
      return CheckKeys(state, caller, kPermWrite, "write",
                       op.request_put().key(), "");
    case lockpb::RequestOp::kRequestDeleteRange:
      return CheckKeys(state, caller, kPermWrite, "delete",
                       op.request_delete_range().key(),
                       op.request_delete_range().range_end());
    case lockpb::RequestOp::REQUEST_NOT_SET:
      break;
  }
  return absl::OkStatus();  // the state machine rejects an empty op
}

absl::Status CheckTxn(const lock::AuthState& state, const Caller& caller,
                      const lockpb::TxnRequest& txn) {
  for (const lockpb::Compare& c : txn.compare()) {
    if (absl::Status s =
            CheckKeys(state, caller, kPermRead, "compare", c.key(), "");
        !s.ok()) {
      return s;
    }
  }
  if (txn.has_guard() && !txn.guard().lock_name().empty()) {
    if (absl::Status s = CheckKeys(state, caller, kPermLock, "check the lock",
                                   txn.guard().lock_name(), "");
        !s.ok()) {
      return s;
    }
  }
  for (const auto* ops : {&txn.success(), &txn.failure()}) {
    for (const lockpb::RequestOp& op : *ops) {
      if (absl::Status s = CheckOp(state, caller, op); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string Caller::Who() const {
  if (!has_certificate) return absl::StrCat("anonymous@", peer);
  return absl::StrCat(kind.empty() ? "unknown" : kind, ":", name);
}

const std::vector<AuthPerm>& SchedulerPermissions() {
  static const auto* perms = new std::vector<AuthPerm>{
      // It loads and watches its whole key space.
      {"/berth/", kPermRead},
      // Namespace ACLs: the grants and the enable switch.
      {"/berth/acl/", kPermRead | kPermWrite},
      {"/berth/acl-config", kPermRead | kPermWrite},
      {"/berth/allocs/", kPermRead | kPermWrite},
      {"/berth/cron/", kPermRead | kPermWrite},
      {"/berth/drain/", kPermRead | kPermWrite},
      {"/berth/events/", kPermRead | kPermWrite},
      {"/berth/jobs/", kPermRead | kPermWrite},
      {"/berth/namespaces/", kPermRead | kPermWrite},
      {"/berth/nodes/", kPermRead | kPermWrite},
      {"/berth/sched/allocs/", kPermRead | kPermWrite},
      // The leader election; its token fences every scheduler write.
      {"/berth/scheduler/leader", kPermRead | kPermLock},
      {"/berth/status/", kPermRead | kPermWrite},
      {"/berth-audit/", kPermRead | kPermWrite},
  };
  return *perms;
}

std::vector<AuthPerm> PermissionsOf(const lock::AuthState& state,
                                    const Caller& caller) {
  if (!caller.has_certificate) return {};
  if (caller.kind == "scheduler") return SchedulerPermissions();
  if (caller.kind != "user") return {};
  std::vector<AuthPerm> out;
  auto it = state.users.find(caller.name);
  if (it == state.users.end()) return out;
  for (const std::string& role : it->second) {
    if (role == lock::kSchedulerRole) {
      const auto& s = SchedulerPermissions();
      out.insert(out.end(), s.begin(), s.end());
      continue;
    }
    auto r = state.roles.find(role);
    if (r != state.roles.end()) {
      out.insert(out.end(), r->second.begin(), r->second.end());
    }
  }
  return out;
}

bool Covers(const std::vector<AuthPerm>& perms, uint32_t need,
            absl::string_view key, absl::string_view range_end) {
  if (range_end.empty()) {
    for (const AuthPerm& p : perms) {
      if ((p.perms & need) == need && absl::StartsWith(key, p.prefix)) {
        return true;
      }
    }
    return false;
  }
  const bool to_end = range_end == absl::string_view("\0", 1);
  if (!to_end && range_end <= key) {
    // An empty range reads nothing; ask for the start key all the same.
    return Covers(perms, need, key, "");
  }
  // Sweep from `key` over the granted intervals [prefix, PrefixEnd) until
  // the range's end is passed; a gap leaves part of it uncovered.
  std::string pos(key);
  while (true) {
    bool advanced = false;
    for (const AuthPerm& p : perms) {
      if ((p.perms & need) != need || p.prefix.empty()) continue;
      std::optional<std::string> end = PrefixEnd(p.prefix);
      if (p.prefix > pos || (end.has_value() && *end <= pos)) continue;
      if (!end.has_value()) return true;  // covers everything from pos on
      pos = *end;
      advanced = true;
      if (!to_end && pos >= range_end) return true;
    }
    if (!advanced) return false;
  }
}

absl::Status CheckAuthenticated(const lock::AuthState& state,
                                const Caller& caller) {
  if (!state.enabled || caller.has_certificate) return absl::OkStatus();
  return absl::UnauthenticatedError(absl::StrCat(
      "auth is enabled: every call needs a client certificate (berth cert "
      "issue --kind user --name NAME, then --tls-cert/--tls-key); ",
      caller.Who(), " presented none"));
}

absl::Status CheckKeys(const lock::AuthState& state, const Caller& caller,
                       uint32_t need, absl::string_view what,
                       absl::string_view key, absl::string_view range_end) {
  if (!state.enabled) return absl::OkStatus();
  if (absl::Status s = CheckAuthenticated(state, caller); !s.ok()) return s;
  // Agents: the node authorizer judges their writes; they read everything.
  if (caller.IsRoot() || caller.kind == "agent") return absl::OkStatus();
  if (Covers(PermissionsOf(state, caller), need, key, range_end)) {
    return absl::OkStatus();
  }
  return RbacDenied(state, caller, need, what, key, range_end);
}

absl::Status CheckCommand(const lock::AuthState& state, const Caller& caller,
                          const lockpb::Command& cmd) {
  if (!state.enabled) return absl::OkStatus();
  if (absl::Status s = CheckAuthenticated(state, caller); !s.ok()) return s;
  if (caller.IsRoot() || caller.kind == "agent") return absl::OkStatus();
  switch (cmd.op_case()) {
    case lockpb::Command::kPut:
      return CheckKeys(state, caller, kPermWrite, "write", cmd.put().key(), "");
    case lockpb::Command::kDeleteRange:
      return CheckKeys(state, caller, kPermWrite, "delete",
                       cmd.delete_range().key(),
                       cmd.delete_range().range_end());
    case lockpb::Command::kTxn:
      return CheckTxn(state, caller, cmd.txn());
    case lockpb::Command::kLeaseGrant:
    case lockpb::Command::kLeaseRevoke:
    case lockpb::Command::kLeaseKeepalive:
      return absl::OkStatus();
    case lockpb::Command::kLockAcquire:
      return CheckKeys(state, caller, kPermLock, "lock",
                       cmd.lock_acquire().name(), "");
    case lockpb::Command::kLockRelease:
      return CheckKeys(state, caller, kPermLock, "unlock",
                       cmd.lock_release().name(), "");
    case lockpb::Command::kLockCancel:
      return CheckKeys(state, caller, kPermLock, "stop waiting for",
                       cmd.lock_cancel().name(), "");
    case lockpb::Command::kProclaim:
      return CheckKeys(state, caller, kPermLock, "proclaim in",
                       cmd.proclaim().name(), "");
    case lockpb::Command::kCompact:
      return CheckClusterAdmin(state, caller, "compact the history");
    case lockpb::Command::kAuth:
      return CheckAuthAdmin(state, caller, "change users and roles");
    default:
      // Lease expiry, checkpoints, ticks and alarms come from the leader
      // itself, never from a client.
      return absl::PermissionDeniedError(absl::StrCat(
          Subject(caller), " may not propose a leader-internal command"));
  }
}

absl::Status CheckLeaseRevoke(const lock::AuthState& state,
                              const Caller& caller, int64_t lease,
                              const std::vector<std::string>& keys,
                              const std::vector<std::string>& lock_names) {
  if (!state.enabled) return absl::OkStatus();
  if (absl::Status s = CheckAuthenticated(state, caller); !s.ok()) return s;
  if (caller.IsRoot() ||
      (caller.kind != "user" && caller.kind != "scheduler")) {
    return absl::OkStatus();
  }
  const std::vector<AuthPerm> perms = PermissionsOf(state, caller);
  auto refuse = [&](absl::string_view holds, const std::string& name,
                    uint32_t need) {
    return absl::PermissionDeniedError(absl::StrCat(
        Subject(caller), " may not revoke lease ", lease, ": it ", holds, " ",
        RbacQuote(name), ", and ", Shortfall(state, caller, need)));
  };
  for (const std::string& key : keys) {
    if (!Covers(perms, kPermWrite, key, "") &&
        !Covers(perms, kPermLock, key, "")) {
      return refuse("holds the key", key, kPermWrite);
    }
  }
  for (const std::string& name : lock_names) {
    if (!Covers(perms, kPermLock, name, "")) {
      return refuse("holds or waits for the lock", name, kPermLock);
    }
  }
  return absl::OkStatus();
}

absl::Status CheckClusterAdmin(const lock::AuthState& state,
                               const Caller& caller, absl::string_view what) {
  if (!state.enabled) return absl::OkStatus();
  if (absl::Status s = CheckAuthenticated(state, caller); !s.ok()) return s;
  if (caller.IsRoot() || caller.kind == "server") return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(Subject(caller), " may not ", what,
                   ": while auth is enabled only the root user (or a lockd "
                   "server certificate) may"));
}

absl::Status CheckAuthAdmin(const lock::AuthState& state, const Caller& caller,
                            absl::string_view what) {
  if (!state.enabled) return absl::OkStatus();
  if (absl::Status s = CheckAuthenticated(state, caller); !s.ok()) return s;
  if (caller.IsRoot()) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(Subject(caller), " may not ", what,
                   ": while auth is enabled only the root user may"));
}

absl::Status CheckAuthEnable(const Caller& caller) {
  if (caller.IsRoot()) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "only the root user may enable auth, so that someone can always "
      "administer it (a certificate with OU=user, CN=root: berth cert issue "
      "--kind user --name root); the caller is ",
      caller.Who()));
}

}  // namespace berth::lockd
