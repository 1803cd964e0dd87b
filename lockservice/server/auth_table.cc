#include "lockservice/server/auth_table.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lockservice/server/sm_schema.h"

namespace berth::lock {
namespace {

constexpr size_t kMaxNameBytes = 255;

std::string AuthQuote(absl::string_view s) {
  return absl::StrCat("\"", absl::CHexEscape(s), "\"");
}

bool Reserved(const std::string& role) {
  return role == kSchedulerRole || role == kAgentRole || role == kRootUser;
}

}  // namespace

std::string PermsString(uint32_t perms) {
  std::vector<const char*> out;
  if (perms & kPermRead) out.push_back("read");
  if (perms & kPermWrite) out.push_back("write");
  if (perms & kPermLock) out.push_back("lock");
  return out.empty() ? "none" : absl::StrJoin(out, ",");
}

uint32_t PermsOf(const lockpb::AuthPermission& p) {
  return (p.read() ? kPermRead : 0) | (p.write() ? kPermWrite : 0) |
         (p.lock() ? kPermLock : 0);
}

std::string AuthTable::Describe(const lockpb::AuthCmd& cmd) {
  switch (cmd.op_case()) {
    case lockpb::AuthCmd::kEnable:
      return "auth enable";
    case lockpb::AuthCmd::kDisable:
      return "auth disable";
    case lockpb::AuthCmd::kUserAdd:
      return absl::StrCat("user add ", cmd.user_add().name());
    case lockpb::AuthCmd::kUserDelete:
      return absl::StrCat("user delete ", cmd.user_delete().name());
    case lockpb::AuthCmd::kUserGrantRole:
      return absl::StrCat("user grant-role ", cmd.user_grant_role().user(), " ",
                          cmd.user_grant_role().role());
    case lockpb::AuthCmd::kUserRevokeRole:
      return absl::StrCat("user revoke-role ", cmd.user_revoke_role().user(),
                          " ", cmd.user_revoke_role().role());
    case lockpb::AuthCmd::kRoleAdd:
      return absl::StrCat("role add ", cmd.role_add().name());
    case lockpb::AuthCmd::kRoleDelete:
      return absl::StrCat("role delete ", cmd.role_delete().name());
    case lockpb::AuthCmd::kRoleGrantPermission: {
      const auto& g = cmd.role_grant_permission();
      return absl::StrCat("role grant ", g.role(), " ",
                          PermsString(PermsOf(g.permission())), " ",
                          absl::CHexEscape(g.permission().prefix()));
    }
    case lockpb::AuthCmd::kRoleRevokePermission: {
      const auto& r = cmd.role_revoke_permission();
      uint32_t perms = PermsOf(r.permission());
      return absl::StrCat("role revoke ", r.role(), " ",
                          perms == 0 ? "all" : PermsString(perms), " ",
                          absl::CHexEscape(r.permission().prefix()));
    }
    case lockpb::AuthCmd::OP_NOT_SET:
      break;
  }
  return "empty auth command";
}

absl::StatusOr<bool> AuthTable::Exists(const char* sql, const std::string& a,
                                       const std::string* b) {
  absl::StatusOr<SmStmt*> st = db_->Prepare(sql);
  if (!st.ok()) return st.status();
  (*st)->Bind(1, a);
  if (b != nullptr) (*st)->Bind(2, *b);
  absl::StatusOr<bool> row = (*st)->Step();
  (*st)->Reset();
  return row;
}

absl::Status AuthTable::Run(const char* sql, const std::string& a,
                            const std::string* b) {
  absl::StatusOr<SmStmt*> st = db_->Prepare(sql);
  if (!st.ok()) return st.status();
  (*st)->Bind(1, a);
  if (b != nullptr) (*st)->Bind(2, *b);
  return (*st)->Run();
}

absl::Status AuthTable::ValidateName(const char* what,
                                     const std::string& name) const {
  if (name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " name is empty"));
  }
  if (name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " name is ", name.size(), " bytes; the limit is ",
                     kMaxNameBytes));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " name ", AuthQuote(name), " contains a control character"));
    }
  }
  return absl::OkStatus();
}

absl::Status AuthTable::RequireUser(const std::string& user) {
  if (absl::Status s = ValidateName("user", user); !s.ok()) return s;
  if (user == kRootUser) {
    return absl::InvalidArgumentError(
        "user \"root\" is built in: it may do everything and has no roles");
  }
  absl::StatusOr<bool> found =
      Exists("SELECT 1 FROM sm_auth_users WHERE name = ?", user);
  if (!found.ok()) return found.status();
  if (!*found) {
    return absl::NotFoundError(absl::StrCat("no user ", AuthQuote(user)));
  }
  return absl::OkStatus();
}

absl::Status AuthTable::RequireMutableRole(const std::string& role) {
  if (absl::Status s = ValidateName("role", role); !s.ok()) return s;
  if (Reserved(role)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "role ", AuthQuote(role), " is built in and cannot be changed"));
  }
  absl::StatusOr<bool> found =
      Exists("SELECT 1 FROM sm_auth_roles WHERE name = ?", role);
  if (!found.ok()) return found.status();
  if (!*found) {
    return absl::NotFoundError(absl::StrCat("no role ", AuthQuote(role)));
  }
  return absl::OkStatus();
}

absl::Status AuthTable::GrantRole(const lockpb::AuthUserGrantRoleRequest& r) {
  if (absl::Status s = RequireUser(r.user()); !s.ok()) return s;
  if (r.role() == kAgentRole || r.role() == kRootUser) {
    return absl::InvalidArgumentError(absl::StrCat(
        "role ", AuthQuote(r.role()),
        " cannot be granted to a user: it belongs to ",
        r.role() == kAgentRole ? "agent certificates" : "the root user"));
  }
  if (r.role() != kSchedulerRole) {
    if (absl::Status s = RequireMutableRole(r.role()); !s.ok()) return s;
  }
  return Run(
      "INSERT OR IGNORE INTO sm_auth_user_roles(user, role) VALUES(?, ?)",
      r.user(), &r.role());
}

absl::Status AuthTable::GrantPermission(
    const lockpb::AuthRoleGrantPermissionRequest& r) {
  if (absl::Status s = RequireMutableRole(r.role()); !s.ok()) return s;
  const std::string& prefix = r.permission().prefix();
  if (prefix.empty()) {
    return absl::InvalidArgumentError(
        "permission prefix is empty (grant a prefix such as \"/app/\"; only "
        "root may use the whole key space)");
  }
  if (prefix.size() > limits_->max_key_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("permission prefix is ", prefix.size(),
                     " bytes; the limit is ", limits_->max_key_bytes));
  }
  uint32_t perms = PermsOf(r.permission());
  if (perms == 0) {
    return absl::InvalidArgumentError(
        "permission grants nothing: set read, write or lock");
  }
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "INSERT INTO sm_auth_perms(role, prefix, perms) VALUES(?, ?, ?) "
      "ON CONFLICT(role, prefix) DO UPDATE SET perms = perms | excluded.perms");
  if (!st.ok()) return st.status();
  return (*st)->Bind(1, r.role()).Bind(2, prefix).Bind(3, perms).Run();
}

absl::Status AuthTable::RevokePermission(
    const lockpb::AuthRoleRevokePermissionRequest& r) {
  if (absl::Status s = RequireMutableRole(r.role()); !s.ok()) return s;
  const std::string& prefix = r.permission().prefix();
  absl::StatusOr<SmStmt*> get = db_->Prepare(
      "SELECT perms FROM sm_auth_perms WHERE role = ? AND prefix = ?");
  if (!get.ok()) return get.status();
  (*get)->Bind(1, r.role()).Bind(2, prefix);
  absl::StatusOr<bool> row = (*get)->Step();
  if (!row.ok()) return row.status();
  int64_t have = *row ? (*get)->Int(0) : 0;
  (*get)->Reset();
  if (!*row) {
    return absl::NotFoundError(absl::StrCat("role ", AuthQuote(r.role()),
                                            " has no permission on prefix ",
                                            AuthQuote(prefix)));
  }
  uint32_t drop = PermsOf(r.permission());
  int64_t left = drop == 0 ? 0 : (have & ~static_cast<int64_t>(drop));
  if (left == 0) {
    return Run("DELETE FROM sm_auth_perms WHERE role = ? AND prefix = ?",
               r.role(), &prefix);
  }
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "UPDATE sm_auth_perms SET perms = ? WHERE role = ? AND prefix = ?");
  if (!st.ok()) return st.status();
  return (*st)->Bind(1, left).Bind(2, r.role()).Bind(3, prefix).Run();
}

absl::Status AuthTable::InsertNew(const char* what, const char* exists_sql,
                                  const char* insert_sql,
                                  const std::string& name, uint64_t index) {
  absl::StatusOr<bool> found = Exists(exists_sql, name);
  if (!found.ok()) return found.status();
  if (*found) {
    return absl::AlreadyExistsError(
        absl::StrCat(what, " ", AuthQuote(name), " already exists"));
  }
  absl::StatusOr<SmStmt*> st = db_->Prepare(insert_sql);
  if (!st.ok()) return st.status();
  return (*st)->Bind(1, name).Bind(2, static_cast<int64_t>(index)).Run();
}

absl::Status AuthTable::Apply(uint64_t index, const lockpb::AuthCmd& cmd) {
  switch (cmd.op_case()) {
    case lockpb::AuthCmd::kEnable:
      // The RPC layer checks this too; repeating it here keeps a replica
      // from ever applying an enable that would lock root out.
      if (cmd.who() != kRootWho) {
        return absl::FailedPreconditionError(absl::StrCat(
            "auth enable must come from the root user's certificate (",
            kRootWho, "), not ", cmd.who()));
      }
      return SetMeta(*db_, meta::kAuthEnabled, 1);
    case lockpb::AuthCmd::kDisable:
      return SetMeta(*db_, meta::kAuthEnabled, 0);
    case lockpb::AuthCmd::kUserAdd: {
      const std::string& name = cmd.user_add().name();
      if (absl::Status s = ValidateName("user", name); !s.ok()) return s;
      if (name == kRootUser) {
        return absl::InvalidArgumentError(
            "user \"root\" is built in and always exists");
      }
      return InsertNew(
          "user", "SELECT 1 FROM sm_auth_users WHERE name = ?",
          "INSERT INTO sm_auth_users(name, added_index) VALUES(?, ?)", name,
          index);
    }
    case lockpb::AuthCmd::kUserDelete: {
      const std::string& name = cmd.user_delete().name();
      if (absl::Status s = RequireUser(name); !s.ok()) return s;
      if (absl::Status s =
              Run("DELETE FROM sm_auth_user_roles WHERE user = ?", name);
          !s.ok()) {
        return s;
      }
      return Run("DELETE FROM sm_auth_users WHERE name = ?", name);
    }
    case lockpb::AuthCmd::kUserGrantRole:
      return GrantRole(cmd.user_grant_role());
    case lockpb::AuthCmd::kUserRevokeRole: {
      const auto& r = cmd.user_revoke_role();
      if (absl::Status s = RequireUser(r.user()); !s.ok()) return s;
      absl::StatusOr<bool> has =
          Exists("SELECT 1 FROM sm_auth_user_roles WHERE user = ? AND role = ?",
                 r.user(), &r.role());
      if (!has.ok()) return has.status();
      if (!*has) {
        return absl::NotFoundError(absl::StrCat("user ", AuthQuote(r.user()),
                                                " does not have role ",
                                                AuthQuote(r.role())));
      }
      return Run("DELETE FROM sm_auth_user_roles WHERE user = ? AND role = ?",
                 r.user(), &r.role());
    }
    case lockpb::AuthCmd::kRoleAdd: {
      const std::string& name = cmd.role_add().name();
      if (absl::Status s = ValidateName("role", name); !s.ok()) return s;
      if (Reserved(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("role ", AuthQuote(name), " is built in"));
      }
      return InsertNew(
          "role", "SELECT 1 FROM sm_auth_roles WHERE name = ?",
          "INSERT INTO sm_auth_roles(name, added_index) VALUES(?, ?)", name,
          index);
    }
    case lockpb::AuthCmd::kRoleDelete: {
      const std::string& name = cmd.role_delete().name();
      if (absl::Status s = RequireMutableRole(name); !s.ok()) return s;
      for (const char* sql : {"DELETE FROM sm_auth_perms WHERE role = ?",
                              "DELETE FROM sm_auth_user_roles WHERE role = ?",
                              "DELETE FROM sm_auth_roles WHERE name = ?"}) {
        if (absl::Status s = Run(sql, name); !s.ok()) return s;
      }
      return absl::OkStatus();
    }
    case lockpb::AuthCmd::kRoleGrantPermission:
      return GrantPermission(cmd.role_grant_permission());
    case lockpb::AuthCmd::kRoleRevokePermission:
      return RevokePermission(cmd.role_revoke_permission());
    case lockpb::AuthCmd::OP_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("auth command has no operation set");
}

absl::Status AuthTable::Audit(uint64_t index, int64_t now_ms,
                              const lockpb::AuthCmd& cmd,
                              const absl::Status& result) {
  std::string outcome =
      result.ok() ? "ok"
                  : absl::StrCat(absl::StatusCodeToString(result.code()), ": ",
                                 result.message());
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "INSERT INTO sm_auth_audit(idx, time_ms, who, what, result) "
      "VALUES(?, ?, ?, ?, ?)");
  if (!st.ok()) return st.status();
  absl::Status s = (*st)
                       ->Bind(1, static_cast<int64_t>(index))
                       .Bind(2, now_ms)
                       .Bind(3, cmd.who())
                       .Bind(4, Describe(cmd))
                       .Bind(5, outcome)
                       .Run();
  if (!s.ok()) return s;
  if (s = SetMeta(*db_, meta::kAuthRevision, static_cast<int64_t>(index));
      !s.ok()) {
    return s;
  }
  // Indexes only grow, so the oldest rows are the lowest: keep the newest
  // max_auth_audit_rows.
  absl::StatusOr<SmStmt*> trim = db_->Prepare(
      "DELETE FROM sm_auth_audit WHERE idx <= (SELECT idx FROM sm_auth_audit "
      "ORDER BY idx DESC LIMIT 1 OFFSET ?)");
  if (!trim.ok()) return trim.status();
  return (*trim)->Bind(1, limits_->max_auth_audit_rows).Run();
}

absl::StatusOr<AuthState> AuthTable::Load() {
  AuthState state;
  absl::StatusOr<int64_t> enabled = GetMeta(*db_, meta::kAuthEnabled);
  if (!enabled.ok()) return enabled.status();
  absl::StatusOr<int64_t> rev = GetMeta(*db_, meta::kAuthRevision);
  if (!rev.ok()) return rev.status();
  state.enabled = *enabled != 0;
  state.revision = static_cast<uint64_t>(*rev);
  auto each = [&](const char* sql, auto fn) -> absl::Status {
    absl::StatusOr<SmStmt*> st = db_->Prepare(sql);
    if (!st.ok()) return st.status();
    while (true) {
      absl::StatusOr<bool> row = (*st)->Step();
      if (!row.ok()) {
        (*st)->Reset();
        return row.status();
      }
      if (!*row) break;
      fn(**st);
    }
    (*st)->Reset();
    return absl::OkStatus();
  };
  absl::Status s = each("SELECT name FROM sm_auth_roles",
                        [&](SmStmt& r) { state.roles[r.Blob(0)]; });
  if (!s.ok()) return s;
  s = each("SELECT role, prefix, perms FROM sm_auth_perms ORDER BY 1, 2",
           [&](SmStmt& r) {
             state.roles[r.Blob(0)].push_back(
                 AuthPerm{r.Blob(1), static_cast<uint32_t>(r.Int(2))});
           });
  if (!s.ok()) return s;
  s = each("SELECT name FROM sm_auth_users",
           [&](SmStmt& r) { state.users[r.Blob(0)]; });
  if (!s.ok()) return s;
  s = each("SELECT user, role FROM sm_auth_user_roles ORDER BY 1, 2",
           [&](SmStmt& r) { state.users[r.Blob(0)].push_back(r.Blob(1)); });
  if (!s.ok()) return s;
  return state;
}

absl::StatusOr<std::vector<lockpb::AuthAuditRecord>> AuthTable::AuditList(
    int64_t limit) {
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "SELECT idx, time_ms, who, what, result FROM sm_auth_audit "
      "ORDER BY idx DESC LIMIT ?");
  if (!st.ok()) return st.status();
  (*st)->Bind(1, limit);
  std::vector<lockpb::AuthAuditRecord> out;
  while (true) {
    absl::StatusOr<bool> row = (*st)->Step();
    if (!row.ok()) {
      (*st)->Reset();
      return row.status();
    }
    if (!*row) break;
    lockpb::AuthAuditRecord& r = out.emplace_back();
    r.set_index(static_cast<uint64_t>((*st)->Int(0)));
    r.set_time_unix_ms((*st)->Int(1));
    r.set_who((*st)->Blob(2));
    r.set_what((*st)->Blob(3));
    r.set_result((*st)->Blob(4));
  }
  (*st)->Reset();
  return out;
}

}  // namespace berth::lock
