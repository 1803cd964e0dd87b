// berth auth enable|disable|status, berth auth user ..., berth auth role
// ..., berth auth audit: lockd's users and roles (docs/security.md).
#include "lockservice/client/auth.h"

#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cli/command.h"
#include "cli/commands/lockd_audit.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "lockservice/client/client.h"

namespace berth::cli {
namespace {

// Connects and runs `fn(AuthClient&)`; a bad command line (InvalidArgument
// from the client library, before any RPC) exits 2.
template <typename Fn>
int WithAuth(Context& ctx, Fn fn) {
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  lock::AuthClient auth(client->get());
  return fn(auth);
}

// Prints `done` (table) or {"ok": true, ...} (json) after a change.
int Changed(Context& ctx, const absl::Status& st, const std::string& done) {
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) {
    absl::Status p = PrintJson(
        *ctx.out, JObj({{"ok", JBool(true)}, {"change", JStr(done)}}));
    return p.ok() ? kExitOk : ctx.Fail(p);
  }
  *ctx.out << "OK: " << done << "\n";
  return kExitOk;
}

Json PermissionJson(const lock::AuthPermission& p) {
  return JObj({{"prefix", JStr(p.prefix)},
               {"read", JBool(p.read)},
               {"write", JBool(p.write)},
               {"lock", JBool(p.lock)}});
}

Json RoleJson(const lock::AuthRole& r) {
  std::vector<Json> perms;
  for (const auto& p : r.permissions) perms.push_back(PermissionJson(p));
  return JObj({{"name", JStr(r.name)},
               {"built_in", JBool(r.built_in)},
               {"permissions", JList(perms)}});
}

Json UserJson(const lock::AuthUser& u) {
  std::vector<Json> roles;
  for (const auto& r : u.roles) roles.push_back(JStr(r));
  return JObj({{"name", JStr(u.name)}, {"roles", JList(roles)}});
}

int PrintJsonOr(Context& ctx, const Json& j) {
  absl::Status st = PrintJson(*ctx.out, j);
  return st.ok() ? kExitOk : ctx.Fail(st);
}

int Enable(Context& ctx) {
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    return Changed(ctx, a.Enable(), "auth enabled");
  });
}

int Disable(Context& ctx) {
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    return Changed(ctx, a.Disable(), "auth disabled");
  });
}

int StatusCmd(Context& ctx) {
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    auto s = a.Status();
    if (!s.ok()) return ctx.Fail(s.status());
    if (ctx.json()) {
      return PrintJsonOr(
          ctx, JObj({{"enabled", JBool(s->enabled)},
                     {"auth_revision",
                      JNum(static_cast<int64_t>(s->auth_revision))}}));
    }
    *ctx.out << "auth: " << (s->enabled ? "enabled" : "disabled")
             << " (last change at index " << s->auth_revision << ")\n";
    return kExitOk;
  });
}

int UserAdd(Context& ctx) {
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    return Changed(ctx, a.UserAdd(ctx.Arg("USER")),
                   absl::StrCat("user ", ctx.Arg("USER"), " added"));
  });
}

int UserDelete(Context& ctx) {
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    return Changed(ctx, a.UserDelete(ctx.Arg("USER")),
                   absl::StrCat("user ", ctx.Arg("USER"), " deleted"));
  });
}

int UserGrant(Context& ctx) {
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    return Changed(
        ctx, a.UserGrantRole(ctx.Arg("USER"), ctx.Arg("ROLE")),
        absl::StrCat("user ", ctx.Arg("USER"), " has role ", ctx.Arg("ROLE")));
  });
}

int UserRevoke(Context& ctx) {
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    return Changed(ctx, a.UserRevokeRole(ctx.Arg("USER"), ctx.Arg("ROLE")),
                   absl::StrCat("user ", ctx.Arg("USER"),
                                " no longer has role ", ctx.Arg("ROLE")));
  });
}

int UserGet(Context& ctx) {
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    auto u = a.UserGet(ctx.Arg("USER"));
    if (!u.ok()) return ctx.Fail(u.status());
    if (ctx.json()) return PrintJsonOr(ctx, UserJson(*u));
    *ctx.out << "user " << u->name << "\nroles: "
             << (u->roles.empty() ? std::string("none")
                                  : absl::StrJoin(u->roles, ", "))
             << "\n";
    return kExitOk;
  });
}

int UserList(Context& ctx) {
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    auto users = a.UserList();
    if (!users.ok()) return ctx.Fail(users.status());
    if (ctx.json()) {
      std::vector<Json> out;
      for (const auto& u : *users) out.push_back(UserJson(u));
      return PrintJsonOr(ctx, JObj({{"users", JList(out)}}));
    }
    std::vector<std::vector<std::string>> rows = {{"USER", "ROLES"}};
    for (const auto& u : *users) {
      rows.push_back({u.name, u.name == "root" ? "(everything)"
                                               : absl::StrJoin(u.roles, ",")});
    }
    PrintTable(*ctx.out, rows);
    return kExitOk;
  });
}

int RoleAdd(Context& ctx) {
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    return Changed(ctx, a.RoleAdd(ctx.Arg("ROLE")),
                   absl::StrCat("role ", ctx.Arg("ROLE"), " added"));
  });
}

int RoleDelete(Context& ctx) {
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    return Changed(ctx, a.RoleDelete(ctx.Arg("ROLE")),
                   absl::StrCat("role ", ctx.Arg("ROLE"), " deleted"));
  });
}

int RoleGrant(Context& ctx) {
  auto perm = lock::ParsePermission(ctx.Arg("PREFIX"), ctx.Arg("PERMS"));
  if (!perm.ok()) return ctx.UsageError(perm.status());
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    return Changed(
        ctx, a.RoleGrantPermission(ctx.Arg("ROLE"), *perm),
        absl::StrCat("role ", ctx.Arg("ROLE"), " may ",
                     lock::PermissionWords(*perm), " ", perm->prefix));
  });
}

int RoleRevoke(Context& ctx) {
  lock::AuthPermission perm;
  perm.prefix = ctx.Arg("PREFIX");
  if (ctx.Has("PERMS")) {
    auto p = lock::ParsePermission(ctx.Arg("PREFIX"), ctx.Arg("PERMS"));
    if (!p.ok()) return ctx.UsageError(p.status());
    perm = *p;
  }
  std::string words = ctx.Has("PERMS") ? lock::PermissionWords(perm) : "all";
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    return Changed(ctx, a.RoleRevokePermission(ctx.Arg("ROLE"), perm),
                   absl::StrCat("role ", ctx.Arg("ROLE"), " lost ", words,
                                " on ", perm.prefix));
  });
}

void AddRoleRows(const lock::AuthRole& r,
                 std::vector<std::vector<std::string>>* rows) {
  std::string name = r.built_in ? r.name + " (built in)" : r.name;
  if (r.permissions.empty()) rows->push_back({name, "-", "-"});
  for (const auto& p : r.permissions) {
    rows->push_back({name, p.prefix, lock::PermissionWords(p)});
  }
}

int RoleGet(Context& ctx) {
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    auto r = a.RoleGet(ctx.Arg("ROLE"));
    if (!r.ok()) return ctx.Fail(r.status());
    if (ctx.json()) return PrintJsonOr(ctx, RoleJson(*r));
    std::vector<std::vector<std::string>> rows = {
        {"ROLE", "PREFIX", "PERMISSIONS"}};
    AddRoleRows(*r, &rows);
    PrintTable(*ctx.out, rows);
    return kExitOk;
  });
}

int RoleList(Context& ctx) {
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    auto roles = a.RoleList();
    if (!roles.ok()) return ctx.Fail(roles.status());
    if (ctx.json()) {
      std::vector<Json> out;
      for (const auto& r : *roles) out.push_back(RoleJson(r));
      return PrintJsonOr(ctx, JObj({{"roles", JList(out)}}));
    }
    std::vector<std::vector<std::string>> rows = {
        {"ROLE", "PREFIX", "PERMISSIONS"}};
    for (const auto& r : *roles) AddRoleRows(r, &rows);
    PrintTable(*ctx.out, rows);
    return kExitOk;
  });
}

int Audit(Context& ctx) {
  int64_t limit = 0;
  if (ctx.Has("limit")) {
    auto n = ParseCount("--limit", ctx.Arg("limit"));
    if (!n.ok()) return ctx.UsageError(n.status());
    limit = *n;
  }
  return PrintLockdAudit(ctx, limit);
}

Command Simple(std::string path, std::string summary,
               std::vector<Positional> args, std::function<int(Context&)> run) {
  return {std::move(path), std::move(summary), std::move(args), false,
          nullptr,         std::move(run)};
}

}  // namespace

int PrintLockdAudit(Context& ctx, int64_t limit) {
  return WithAuth(ctx, [&](lock::AuthClient& a) {
    auto records = a.AuditList(limit);
    if (!records.ok()) return ctx.Fail(records.status());
    if (ctx.json()) {
      std::vector<Json> out;
      for (const auto& r : *records) {
        out.push_back(JObj({{"index", JId(r.index)},
                            {"time_unix_ms", JNum(r.time_unix_ms)},
                            {"who", JStr(r.who)},
                            {"what", JStr(r.what)},
                            {"result", JStr(r.result)}}));
      }
      return PrintJsonOr(ctx, JObj({{"records", JList(out)}}));
    }
    std::vector<std::vector<std::string>> rows = {
        {"INDEX", "TIME", "WHO", "WHAT", "RESULT"}};
    for (const auto& r : *records) {
      rows.push_back({absl::StrCat(r.index),
                      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                                       absl::FromUnixMillis(r.time_unix_ms),
                                       absl::UTCTimeZone()),
                      r.who, r.what, r.result});
    }
    PrintTable(*ctx.out, rows);
    return kExitOk;
  });
}

void AddAuthCommands(std::vector<Command>* table) {
  table->push_back(Simple("auth enable",
                          "turn users and roles on (needs the root user's "
                          "certificate)",
                          {}, Enable));
  table->push_back(
      Simple("auth disable", "turn users and roles off", {}, Disable));
  table->push_back(
      Simple("auth status", "show whether auth is enabled", {}, StatusCmd));
  table->push_back(
      Simple("auth user add", "add a certificate user", {{"USER"}}, UserAdd));
  table->push_back(
      Simple("auth user delete", "delete a user", {{"USER"}}, UserDelete));
  table->push_back(
      Simple("auth user list", "list the users and their roles", {}, UserList));
  table->push_back(
      Simple("auth user get", "show a user's roles", {{"USER"}}, UserGet));
  table->push_back(Simple("auth user grant-role", "give a user a role",
                          {{"USER"}, {"ROLE"}}, UserGrant));
  table->push_back(Simple("auth user revoke-role", "take a role from a user",
                          {{"USER"}, {"ROLE"}}, UserRevoke));
  table->push_back(Simple("auth role add", "add a role", {{"ROLE"}}, RoleAdd));
  table->push_back(Simple("auth role delete",
                          "delete a role (users lose it too)", {{"ROLE"}},
                          RoleDelete));
  table->push_back(Simple(
      "auth role list", "list the roles and their permissions", {}, RoleList));
  table->push_back(Simple("auth role get", "show a role's permissions",
                          {{"ROLE"}}, RoleGet));
  table->push_back(Simple("auth role grant",
                          "let a role read, write or lock under a key prefix "
                          "(PERMS: comma list of read,write,lock)",
                          {{"ROLE"}, {"PREFIX"}, {"PERMS"}}, RoleGrant));
  table->push_back(Simple("auth role revoke",
                          "take permissions on a prefix from a role (all of "
                          "them without PERMS)",
                          {{"ROLE"}, {"PREFIX"}, {"PERMS", false}},
                          RoleRevoke));
  table->push_back({"auth audit",
                    "list permission changes, newest first",
                    {},
                    false,
                    [](po::options_description& d) {
                      d.add_options()("limit", po::value<std::string>(),
                                      "at most N records (default 100)");
                    },
                    Audit});
}

}  // namespace berth::cli
