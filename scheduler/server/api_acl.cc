// ApiService's namespace and ACL calls: berth namespace delete|list and
// berth acl. Writes are admin-only once ACLs are on and recorded in the
// audit log; switching enforcement needs an admin identity even while it is
// off (acl_policy.h).
#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/tls/peer.h"
#include "scheduler/server/api_service.h"

namespace berth::sched {
namespace {

std::string RightsDetail(
    const google::protobuf::RepeatedPtrField<std::string>& rights) {
  return rights.empty() ? std::string("all rights")
                        : absl::StrJoin(rights, ",");
}

}  // namespace

grpc::Status ApiService::DeleteNamespace(
    grpc::ServerContext* ctx, const schedpb::DeleteNamespaceRequest* req,
    schedpb::DeleteNamespaceResponse* resp) {
  absl::Status allowed =
      WriteAllowed(*ctx, "DeleteNamespace", NeedAdmin("DeleteNamespace"));
  return Audited(ctx, "DeleteNamespace", req->name(), req->name(), "",
                 allowed.ok()
                     ? Reply(ctx, s_->DeleteNamespace(req->name()), resp)
                     : Reply(ctx, allowed));
}

grpc::Status ApiService::ListNamespaces(grpc::ServerContext* ctx,
                                        const schedpb::ListNamespacesRequest*,
                                        schedpb::ListNamespacesResponse* resp) {
  grpc::Status ok = ReadAllowed(ctx, "ListNamespaces", "", "", NeedIdentity());
  if (!ok.ok()) return ok;
  absl::StatusOr<AclState> acl = s_->Acl();
  if (!acl.ok()) return Reply(ctx, acl.status());
  grpc::Status st = Reply(ctx, s_->ListNamespaces(), resp);
  if (!st.ok()) return st;
  // With ACLs on, only the namespaces the caller holds some right in.
  const Who who = tls::PeerIdentityOf(*ctx);
  auto* list = resp->mutable_namespaces();
  list->erase(std::remove_if(list->begin(), list->end(),
                             [&](const schedpb::NamespaceView& v) {
                               return RightsIn(*acl, who, v.name()) == 0;
                             }),
              list->end());
  return st;
}

grpc::Status ApiService::AclGrant(grpc::ServerContext* ctx,
                                  const schedpb::AclGrantRequest* req,
                                  schedpb::AclChangeResponse* resp) {
  absl::Status allowed = WriteAllowed(*ctx, "AclGrant", NeedAdmin("AclGrant"));
  return Audited(
      ctx, "AclGrant", req->namespace_(), req->principal(),
      RightsDetail(req->rights()),
      allowed.ok()
          ? Reply(ctx, s_->AclGrant(*req, CallerOf(*ctx).principal), resp)
          : Reply(ctx, allowed));
}

grpc::Status ApiService::AclRevoke(grpc::ServerContext* ctx,
                                   const schedpb::AclRevokeRequest* req,
                                   schedpb::AclChangeResponse* resp) {
  absl::Status allowed =
      WriteAllowed(*ctx, "AclRevoke", NeedAdmin("AclRevoke"));
  return Audited(
      ctx, "AclRevoke", req->namespace_(), req->principal(),
      RightsDetail(req->rights()),
      allowed.ok()
          ? Reply(ctx, s_->AclRevoke(*req, CallerOf(*ctx).principal), resp)
          : Reply(ctx, allowed));
}

grpc::Status ApiService::AclList(grpc::ServerContext* ctx,
                                 const schedpb::AclListRequest* req,
                                 schedpb::AclListResponse* resp) {
  grpc::Status ok =
      ReadAllowed(ctx, "AclList", req->namespace_(), "", NeedAdmin("AclList"));
  if (!ok.ok()) return ok;
  return Reply(ctx, s_->AclList(req->namespace_()), resp);
}

grpc::Status ApiService::AclSwitch(grpc::ServerContext* ctx,
                                   const schedpb::AclSwitchRequest* req,
                                   schedpb::AclStatusResponse* resp) {
  const std::string method = req->enable() ? "AclEnable" : "AclDisable";
  const Who who = tls::PeerIdentityOf(*ctx);
  absl::Status allowed = WriteAllowed(
      *ctx, method,
      [](const AclState&, const Who& w) { return AuthorizeAclSwitch(w); });
  grpc::Status reply =
      allowed.ok()
          ? Reply(ctx, s_->AclSwitch(req->enable(), CallerOf(*ctx).principal),
                  resp)
          : Reply(ctx, allowed);
  if (reply.ok()) {
    resp->set_caller(DescribeCaller(who));
    resp->set_caller_is_admin(IsAclAdmin(who));
  }
  return Audited(ctx, method, "", "", "", reply);
}

grpc::Status ApiService::AclStatus(grpc::ServerContext* ctx,
                                   const schedpb::AclStatusRequest*,
                                   schedpb::AclStatusResponse* resp) {
  grpc::Status ok = ReadAllowed(ctx, "AclStatus", "", "", NeedIdentity());
  if (!ok.ok()) return ok;
  absl::StatusOr<AclState> acl = s_->Acl();
  if (!acl.ok()) return Reply(ctx, acl.status());
  const Who who = tls::PeerIdentityOf(*ctx);
  resp->set_enabled(acl->enabled);
  resp->set_changed_by(acl->changed_by);
  resp->set_changed_unix_ms(acl->changed_unix_ms);
  resp->set_caller(DescribeCaller(who));
  resp->set_caller_is_admin(IsAclAdmin(who));
  return grpc::Status::OK;
}

}  // namespace berth::sched
