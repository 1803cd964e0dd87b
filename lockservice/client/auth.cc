#include "lockservice/client/auth.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lockservice/client/internal/router.h"

namespace berth::lock {
namespace {

using internal::Idempotency;
using internal::Stubs;

lockpb::AuthPermission ToProto(const AuthPermission& p) {
  lockpb::AuthPermission out;
  out.set_prefix(p.prefix);
  out.set_read(p.read);
  out.set_write(p.write);
  out.set_lock(p.lock);
  return out;
}

AuthRole FromProto(const lockpb::AuthRole& r) {
  AuthRole out;
  out.name = r.name();
  out.built_in = r.built_in();
  for (const lockpb::AuthPermission& p : r.permissions()) {
    out.permissions.push_back({p.prefix(), p.read(), p.write(), p.lock()});
  }
  return out;
}

AuthUser FromProto(const lockpb::AuthUser& u) {
  return AuthUser{u.name(), {u.roles().begin(), u.roles().end()}};
}

// One Auth RPC: `method` is the stub's member, `req` its request.
template <typename Resp, typename Req, typename Method>
absl::StatusOr<Resp> Call(Client* client, absl::string_view what,
                          Idempotency idem, const Req& req, Method method) {
  return client->router().Call<Resp>(
      what, idem, [&](Stubs& s, grpc::ClientContext* ctx, Resp* out) {
        return ((*s.auth).*method)(ctx, req, out);
      });
}

}  // namespace

absl::StatusOr<AuthPermission> ParsePermission(absl::string_view prefix,
                                               absl::string_view perms) {
  if (prefix.empty()) {
    return absl::InvalidArgumentError(
        "the key prefix is empty (give one such as /app/)");
  }
  AuthPermission p;
  p.prefix = std::string(prefix);
  for (absl::string_view word : absl::StrSplit(perms, ',')) {
    std::string w = absl::AsciiStrToLower(absl::StripAsciiWhitespace(word));
    if (w == "read") {
      p.read = true;
    } else if (w == "write") {
      p.write = true;
    } else if (w == "lock") {
      p.lock = true;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("permission \"", w,
                       "\" is not one of read, write, lock (give a comma "
                       "list, e.g. read,write)"));
    }
  }
  return p;
}

std::string PermissionWords(const AuthPermission& p) {
  std::vector<const char*> w;
  if (p.read) w.push_back("read");
  if (p.write) w.push_back("write");
  if (p.lock) w.push_back("lock");
  return w.empty() ? "none" : absl::StrJoin(w, ",");
}

absl::Status AuthClient::Enable() {
  return Call<lockpb::AuthEnableResponse>(
             client_, "auth enable", Idempotency::kNonIdempotent,
             lockpb::AuthEnableRequest(), &lockpb::Auth::Stub::AuthEnable)
      .status();
}

absl::Status AuthClient::Disable() {
  return Call<lockpb::AuthDisableResponse>(
             client_, "auth disable", Idempotency::kNonIdempotent,
             lockpb::AuthDisableRequest(), &lockpb::Auth::Stub::AuthDisable)
      .status();
}

absl::StatusOr<AuthStatus> AuthClient::Status() {
  auto r = Call<lockpb::AuthStatusResponse>(
      client_, "auth status", Idempotency::kIdempotent,
      lockpb::AuthStatusRequest(), &lockpb::Auth::Stub::AuthStatus);
  if (!r.ok()) return r.status();
  return AuthStatus{r->enabled(), r->auth_revision()};
}

absl::Status AuthClient::UserAdd(const std::string& name) {
  lockpb::AuthUserAddRequest req;
  req.set_name(name);
  return Call<lockpb::AuthUserAddResponse>(client_, "auth user add",
                                           Idempotency::kNonIdempotent, req,
                                           &lockpb::Auth::Stub::UserAdd)
      .status();
}

absl::Status AuthClient::UserDelete(const std::string& name) {
  lockpb::AuthUserDeleteRequest req;
  req.set_name(name);
  return Call<lockpb::AuthUserDeleteResponse>(client_, "auth user delete",
                                              Idempotency::kNonIdempotent, req,
                                              &lockpb::Auth::Stub::UserDelete)
      .status();
}

absl::Status AuthClient::UserGrantRole(const std::string& user,
                                       const std::string& role) {
  lockpb::AuthUserGrantRoleRequest req;
  req.set_user(user);
  req.set_role(role);
  return Call<lockpb::AuthUserGrantRoleResponse>(
             client_, "auth user grant-role", Idempotency::kNonIdempotent, req,
             &lockpb::Auth::Stub::UserGrantRole)
      .status();
}

absl::Status AuthClient::UserRevokeRole(const std::string& user,
                                        const std::string& role) {
  lockpb::AuthUserRevokeRoleRequest req;
  req.set_user(user);
  req.set_role(role);
  return Call<lockpb::AuthUserRevokeRoleResponse>(
             client_, "auth user revoke-role", Idempotency::kNonIdempotent, req,
             &lockpb::Auth::Stub::UserRevokeRole)
      .status();
}

absl::StatusOr<AuthUser> AuthClient::UserGet(const std::string& name) {
  lockpb::AuthUserGetRequest req;
  req.set_name(name);
  auto r = Call<lockpb::AuthUserGetResponse>(client_, "auth user get",
                                             Idempotency::kIdempotent, req,
                                             &lockpb::Auth::Stub::UserGet);
  if (!r.ok()) return r.status();
  return FromProto(r->user());
}

absl::StatusOr<std::vector<AuthUser>> AuthClient::UserList() {
  auto r = Call<lockpb::AuthUserListResponse>(
      client_, "auth user list", Idempotency::kIdempotent,
      lockpb::AuthUserListRequest(), &lockpb::Auth::Stub::UserList);
  if (!r.ok()) return r.status();
  std::vector<AuthUser> out;
  for (const lockpb::AuthUser& u : r->users()) out.push_back(FromProto(u));
  return out;
}

absl::Status AuthClient::RoleAdd(const std::string& name) {
  lockpb::AuthRoleAddRequest req;
  req.set_name(name);
  return Call<lockpb::AuthRoleAddResponse>(client_, "auth role add",
                                           Idempotency::kNonIdempotent, req,
                                           &lockpb::Auth::Stub::RoleAdd)
      .status();
}

absl::Status AuthClient::RoleDelete(const std::string& name) {
  lockpb::AuthRoleDeleteRequest req;
  req.set_name(name);
  return Call<lockpb::AuthRoleDeleteResponse>(client_, "auth role delete",
                                              Idempotency::kNonIdempotent, req,
                                              &lockpb::Auth::Stub::RoleDelete)
      .status();
}

absl::Status AuthClient::RoleGrantPermission(const std::string& role,
                                             const AuthPermission& perm) {
  lockpb::AuthRoleGrantPermissionRequest req;
  req.set_role(role);
  *req.mutable_permission() = ToProto(perm);
  return Call<lockpb::AuthRoleGrantPermissionResponse>(
             client_, "auth role grant", Idempotency::kNonIdempotent, req,
             &lockpb::Auth::Stub::RoleGrantPermission)
      .status();
}

absl::Status AuthClient::RoleRevokePermission(const std::string& role,
                                              const AuthPermission& perm) {
  lockpb::AuthRoleRevokePermissionRequest req;
  req.set_role(role);
  *req.mutable_permission() = ToProto(perm);
  return Call<lockpb::AuthRoleRevokePermissionResponse>(
             client_, "auth role revoke", Idempotency::kNonIdempotent, req,
             &lockpb::Auth::Stub::RoleRevokePermission)
      .status();
}

absl::StatusOr<AuthRole> AuthClient::RoleGet(const std::string& name) {
  lockpb::AuthRoleGetRequest req;
  req.set_name(name);
  auto r = Call<lockpb::AuthRoleGetResponse>(client_, "auth role get",
                                             Idempotency::kIdempotent, req,
                                             &lockpb::Auth::Stub::RoleGet);
  if (!r.ok()) return r.status();
  return FromProto(r->role());
}

absl::StatusOr<std::vector<AuthRole>> AuthClient::RoleList() {
  auto r = Call<lockpb::AuthRoleListResponse>(
      client_, "auth role list", Idempotency::kIdempotent,
      lockpb::AuthRoleListRequest(), &lockpb::Auth::Stub::RoleList);
  if (!r.ok()) return r.status();
  std::vector<AuthRole> out;
  for (const lockpb::AuthRole& role : r->roles()) {
    out.push_back(FromProto(role));
  }
  return out;
}

absl::StatusOr<std::vector<AuthAuditRecord>> AuthClient::AuditList(
    int64_t limit) {
  lockpb::AuthAuditListRequest req;
  req.set_limit(limit);
  auto r = Call<lockpb::AuthAuditListResponse>(client_, "auth audit",
                                               Idempotency::kIdempotent, req,
                                               &lockpb::Auth::Stub::AuditList);
  if (!r.ok()) return r.status();
  std::vector<AuthAuditRecord> out;
  for (const lockpb::AuthAuditRecord& a : r->records()) {
    out.push_back({a.index(), a.time_unix_ms(), a.who(), a.what(), a.result()});
  }
  return out;
}

}  // namespace berth::lock
