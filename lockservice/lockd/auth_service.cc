#include <cstdio>

#include "absl/strings/str_cat.h"
#include "lockservice/lockd/services.h"
#include "lockservice/server/auth_table.h"

namespace berth::lockd {
namespace {

constexpr int64_t kDefaultAuditLimit = 100;

lockpb::AuthRole RoleOf(const std::string& name,
                        const std::vector<lock::AuthPerm>& perms,
                        bool built_in) {
  lockpb::AuthRole r;
  r.set_name(name);
  r.set_built_in(built_in);
  for (const lock::AuthPerm& p : perms) {
    lockpb::AuthPermission* out = r.add_permissions();
    out->set_prefix(p.prefix);
    out->set_read(p.perms & lock::kPermRead);
    out->set_write(p.perms & lock::kPermWrite);
    out->set_lock(p.perms & lock::kPermLock);
  }
  return r;
}

}  // namespace

grpc::Status AuthService::Change(grpc::ServerContext* ctx, lockpb::AuthCmd cmd,
                                 lockpb::ResponseHeader* header) {
  const Caller caller = core_->CallerOf(*ctx);
  const std::string what = lock::AuthTable::Describe(cmd);
  absl::Status allowed = cmd.has_enable()
                             ? CheckAuthEnable(caller)
                             : core_->AuthorizeAuthAdmin(*ctx, what);
  if (!allowed.ok()) {
    if (cmd.has_enable()) {
      fprintf(stderr, "berth-lockd %llu: auth: refused %s: %s\n",
              static_cast<unsigned long long>(core_->id()),
              caller.Who().c_str(), std::string(allowed.message()).c_str());
    }
    return ToGrpc(allowed);
  }
  cmd.set_who(caller.Who());
  lockpb::Command c;
  *c.mutable_auth() = std::move(cmd);
  absl::StatusOr<lockpb::CommandResult> r =
      core_->Propose(std::move(c), core_->Deadline(ctx));
  if (!r.ok()) return ToGrpc(r.status());
  core_->FillHeader(header);
  return grpc::Status::OK;
}

absl::StatusOr<std::shared_ptr<const lock::AuthState>> AuthService::ReadState(
    grpc::ServerContext* ctx, absl::string_view what) {
  if (absl::Status a = core_->AuthorizeAuthAdmin(*ctx, what); !a.ok()) {
    return a;
  }
  if (absl::Status st = core_->ReadBarrier(false, core_->Deadline(ctx));
      !st.ok()) {
    return st;
  }
  return core_->auth();
}

grpc::Status AuthService::AuthEnable(grpc::ServerContext* ctx,
                                     const lockpb::AuthEnableRequest* req,
                                     lockpb::AuthEnableResponse* resp) {
  lockpb::AuthCmd cmd;
  *cmd.mutable_enable() = *req;
  return Change(ctx, std::move(cmd), resp->mutable_header());
}

grpc::Status AuthService::AuthDisable(grpc::ServerContext* ctx,
                                      const lockpb::AuthDisableRequest* req,
                                      lockpb::AuthDisableResponse* resp) {
  lockpb::AuthCmd cmd;
  *cmd.mutable_disable() = *req;
  return Change(ctx, std::move(cmd), resp->mutable_header());
}

grpc::Status AuthService::UserAdd(grpc::ServerContext* ctx,
                                  const lockpb::AuthUserAddRequest* req,
                                  lockpb::AuthUserAddResponse* resp) {
  lockpb::AuthCmd cmd;
  *cmd.mutable_user_add() = *req;
  return Change(ctx, std::move(cmd), resp->mutable_header());
}

grpc::Status AuthService::UserDelete(grpc::ServerContext* ctx,
                                     const lockpb::AuthUserDeleteRequest* req,
                                     lockpb::AuthUserDeleteResponse* resp) {
  lockpb::AuthCmd cmd;
  *cmd.mutable_user_delete() = *req;
  return Change(ctx, std::move(cmd), resp->mutable_header());
}

grpc::Status AuthService::UserGrantRole(
    grpc::ServerContext* ctx, const lockpb::AuthUserGrantRoleRequest* req,
    lockpb::AuthUserGrantRoleResponse* resp) {
  lockpb::AuthCmd cmd;
  *cmd.mutable_user_grant_role() = *req;
  return Change(ctx, std::move(cmd), resp->mutable_header());
}

grpc::Status AuthService::UserRevokeRole(
    grpc::ServerContext* ctx, const lockpb::AuthUserRevokeRoleRequest* req,
    lockpb::AuthUserRevokeRoleResponse* resp) {
  lockpb::AuthCmd cmd;
  *cmd.mutable_user_revoke_role() = *req;
  return Change(ctx, std::move(cmd), resp->mutable_header());
}

grpc::Status AuthService::RoleAdd(grpc::ServerContext* ctx,
                                  const lockpb::AuthRoleAddRequest* req,
                                  lockpb::AuthRoleAddResponse* resp) {
  lockpb::AuthCmd cmd;
  *cmd.mutable_role_add() = *req;
  return Change(ctx, std::move(cmd), resp->mutable_header());
}

grpc::Status AuthService::RoleDelete(grpc::ServerContext* ctx,
                                     const lockpb::AuthRoleDeleteRequest* req,
                                     lockpb::AuthRoleDeleteResponse* resp) {
  lockpb::AuthCmd cmd;
  *cmd.mutable_role_delete() = *req;
  return Change(ctx, std::move(cmd), resp->mutable_header());
}

grpc::Status AuthService::RoleGrantPermission(
    grpc::ServerContext* ctx, const lockpb::AuthRoleGrantPermissionRequest* req,
    lockpb::AuthRoleGrantPermissionResponse* resp) {
  lockpb::AuthCmd cmd;
  *cmd.mutable_role_grant_permission() = *req;
  return Change(ctx, std::move(cmd), resp->mutable_header());
}

grpc::Status AuthService::RoleRevokePermission(
    grpc::ServerContext* ctx,
    const lockpb::AuthRoleRevokePermissionRequest* req,
    lockpb::AuthRoleRevokePermissionResponse* resp) {
  lockpb::AuthCmd cmd;
  *cmd.mutable_role_revoke_permission() = *req;
  return Change(ctx, std::move(cmd), resp->mutable_header());
}

grpc::Status AuthService::AuthStatus(grpc::ServerContext* ctx,
                                     const lockpb::AuthStatusRequest* req,
                                     lockpb::AuthStatusResponse* resp) {
  // Open to everyone, as in etcd: a client told "Unauthenticated" can
  // learn why.
  if (absl::Status st = core_->ReadBarrier(false, core_->Deadline(ctx));
      !st.ok()) {
    return ToGrpc(st);
  }
  std::shared_ptr<const lock::AuthState> auth = core_->auth();
  resp->set_enabled(auth->enabled);
  resp->set_auth_revision(auth->revision);
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status AuthService::UserGet(grpc::ServerContext* ctx,
                                  const lockpb::AuthUserGetRequest* req,
                                  lockpb::AuthUserGetResponse* resp) {
  auto auth = ReadState(ctx, "read users");
  if (!auth.ok()) return ToGrpc(auth.status());
  resp->mutable_user()->set_name(req->name());
  if (req->name() != lock::kRootUser) {
    auto it = (*auth)->users.find(req->name());
    if (it == (*auth)->users.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("no user \"", req->name(), "\""));
    }
    for (const std::string& r : it->second) resp->mutable_user()->add_roles(r);
  }
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status AuthService::UserList(grpc::ServerContext* ctx,
                                   const lockpb::AuthUserListRequest* req,
                                   lockpb::AuthUserListResponse* resp) {
  auto auth = ReadState(ctx, "read users");
  if (!auth.ok()) return ToGrpc(auth.status());
  resp->add_users()->set_name(lock::kRootUser);
  for (const auto& [name, roles] : (*auth)->users) {
    lockpb::AuthUser* u = resp->add_users();
    u->set_name(name);
    for (const std::string& r : roles) u->add_roles(r);
  }
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status AuthService::RoleGet(grpc::ServerContext* ctx,
                                  const lockpb::AuthRoleGetRequest* req,
                                  lockpb::AuthRoleGetResponse* resp) {
  auto auth = ReadState(ctx, "read roles");
  if (!auth.ok()) return ToGrpc(auth.status());
  if (req->name() == lock::kSchedulerRole) {
    *resp->mutable_role() = RoleOf(req->name(), SchedulerPermissions(), true);
  } else if (req->name() == lock::kAgentRole) {
    *resp->mutable_role() = RoleOf(req->name(), {}, true);
  } else {
    auto it = (*auth)->roles.find(req->name());
    if (it == (*auth)->roles.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("no role \"", req->name(), "\""));
    }
    *resp->mutable_role() = RoleOf(it->first, it->second, false);
  }
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status AuthService::RoleList(grpc::ServerContext* ctx,
                                   const lockpb::AuthRoleListRequest* req,
                                   lockpb::AuthRoleListResponse* resp) {
  auto auth = ReadState(ctx, "read roles");
  if (!auth.ok()) return ToGrpc(auth.status());
  *resp->add_roles() = RoleOf(lock::kAgentRole, {}, true);
  *resp->add_roles() =
      RoleOf(lock::kSchedulerRole, SchedulerPermissions(), true);
  for (const auto& [name, perms] : (*auth)->roles) {
    *resp->add_roles() = RoleOf(name, perms, false);
  }
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status AuthService::AuditList(grpc::ServerContext* ctx,
                                    const lockpb::AuthAuditListRequest* req,
                                    lockpb::AuthAuditListResponse* resp) {
  if (req->limit() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("limit must be >= 0, got ", req->limit()));
  }
  auto auth = ReadState(ctx, "read the auth audit");
  if (!auth.ok()) return ToGrpc(auth.status());
  const int64_t limit = req->limit() == 0 ? kDefaultAuditLimit : req->limit();
  auto records = core_->store()->Read(
      [&](lock::StateMachine& sm) { return sm.AuthAudit(limit); });
  if (!records.ok()) return ToGrpc(records.status());
  for (lockpb::AuthAuditRecord& r : *records) {
    *resp->add_records() = std::move(r);
  }
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

}  // namespace berth::lockd
