#include "scheduler/server/api_service.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/tls/peer.h"

namespace berth::sched {

absl::Status NotAnAgent(const grpc::ServerContext& ctx,
                        absl::string_view method) {
  std::optional<tls::PeerIdentity> id = tls::PeerIdentityOf(ctx);
  if (!id.has_value() || id->kind != "agent") return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "agent certificate for node \"", id->name, "\" may not call ", method,
      ": agents reach lockd only; use a user certificate"));
}

namespace {

// `op()`, unless `allowed` refuses the call.
template <typename Op>
auto Guarded(const absl::Status& allowed, Op op) -> decltype(op()) {
  if (!allowed.ok()) return allowed;
  return op();
}

}  // namespace

ApiService::Rule ApiService::NeedRight(Rights right, std::string ns) {
  return [right, ns = std::move(ns)](const AclState& acl, const Who& who) {
    return AuthorizeRight(acl, who, right, ns);
  };
}

ApiService::Rule ApiService::NeedAdmin(std::string what) {
  return [what = std::move(what)](const AclState& acl, const Who& who) {
    return AuthorizeAdmin(acl, who, what);
  };
}

ApiService::Rule ApiService::NeedIdentity() {
  return [](const AclState& acl, const Who& who) {
    return AuthorizeAuthenticated(acl, who);
  };
}

absl::Status ApiService::Check(const grpc::ServerContext& ctx,
                               const Rule& rule) const {
  absl::StatusOr<AclState> acl = s_->Acl();
  if (!acl.ok()) return acl.status();
  return rule(*acl, tls::PeerIdentityOf(ctx));
}

absl::Status ApiService::WriteAllowed(const grpc::ServerContext& ctx,
                                      absl::string_view method,
                                      const Rule& rule) const {
  if (absl::Status s = NotAnAgent(ctx, method); !s.ok()) return s;
  absl::Status s = Check(ctx, rule);
  if ((s.code() == absl::StatusCode::kPermissionDenied ||
       s.code() == absl::StatusCode::kUnauthenticated) &&
      !s_->is_leader()) {
    schedpb::LeaderResponse l = s_->Leader();
    return absl::FailedPreconditionError(
        l.address().empty()
            ? std::string("not the leader, and no scheduler leads right now; "
                          "retry shortly")
            : absl::StrCat("not the leader; the leader is ", l.id(), " at ",
                           l.address()));
  }
  return s;
}

grpc::Status ApiService::ReadAllowed(grpc::ServerContext* ctx,
                                     const std::string& method,
                                     const std::string& ns,
                                     const std::string& target,
                                     const Rule& rule) {
  absl::Status s = Check(*ctx, rule);
  if (s.ok()) return grpc::Status::OK;
  grpc::Status reply = Reply(ctx, s);
  if (s.code() == absl::StatusCode::kUnavailable) return reply;
  return Audited(ctx, method, ns, target, "", reply);
}

absl::StatusOr<std::function<bool(const std::string&)>> ApiService::ReadableBy(
    const grpc::ServerContext& ctx) const {
  absl::StatusOr<AclState> acl = s_->Acl();
  if (!acl.ok()) return acl.status();
  return [acl = *std::move(acl),
          who = tls::PeerIdentityOf(ctx)](const std::string& ns) {
    return (RightsIn(acl, who, ns) & kRightRead) != 0;
  };
}

grpc::Status ApiService::Reply(grpc::ServerContext* ctx,
                               const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  if (s.code() == absl::StatusCode::kFailedPrecondition && !s_->is_leader()) {
    schedpb::LeaderResponse l = s_->Leader();
    if (!l.address().empty())
      ctx->AddTrailingMetadata("berth-leader", l.address());
  }
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

grpc::Status ApiService::SubmitJob(grpc::ServerContext* ctx,
                                   const schedpb::SubmitJobRequest* req,
                                   schedpb::SubmitJobResponse* resp) {
  return Audited(
      ctx, "SubmitJob", req->job().namespace_(), req->job().name(),
      req->expected_version()
          ? absl::StrCat("expected version ", req->expected_version())
          : "",
      Reply(ctx,
            Guarded(
                WriteAllowed(*ctx, "SubmitJob",
                             NeedRight(kRightSubmit, req->job().namespace_())),
                [&] { return s_->Submit(*req); }),
            resp));
}

grpc::Status ApiService::StopJob(grpc::ServerContext* ctx,
                                 const schedpb::StopJobRequest* req,
                                 schedpb::StopJobResponse* resp) {
  return Audited(
      ctx, "StopJob", req->namespace_(), req->job(),
      req->purge() ? "purge" : "",
      Reply(ctx,
            Guarded(WriteAllowed(*ctx, "StopJob",
                                 NeedRight(kRightStop, req->namespace_())),
                    [&] { return s_->Stop(*req); }),
            resp));
}

grpc::Status ApiService::TriggerJob(grpc::ServerContext* ctx,
                                    const schedpb::TriggerJobRequest* req,
                                    schedpb::TriggerJobResponse* resp) {
  return Audited(
      ctx, "TriggerJob", req->namespace_(), req->job(), "",
      Reply(ctx,
            Guarded(WriteAllowed(*ctx, "TriggerJob",
                                 NeedRight(kRightSubmit, req->namespace_())),
                    [&] { return s_->Trigger(*req); }),
            resp));
}

grpc::Status ApiService::CreateNamespace(
    grpc::ServerContext* ctx, const schedpb::CreateNamespaceRequest* req,
    schedpb::CreateNamespaceResponse*) {
  return Audited(
      ctx, "CreateNamespace", req->name(), req->name(), "",
      Reply(ctx, Guarded(WriteAllowed(*ctx, "CreateNamespace",
                                      NeedAdmin("CreateNamespace")),
                         [&] { return s_->CreateNamespace(req->name()); })));
}

grpc::Status ApiService::ListJobs(grpc::ServerContext* ctx,
                                  const schedpb::ListJobsRequest* req,
                                  schedpb::ListJobsResponse* resp) {
  const std::string& ns = req->namespace_();
  grpc::Status ok =
      ReadAllowed(ctx, "ListJobs", ns, "",
                  ns.empty() ? NeedIdentity() : NeedRight(kRightRead, ns));
  if (!ok.ok()) return ok;
  auto readable = ReadableBy(*ctx);
  if (!readable.ok()) return Reply(ctx, readable.status());
  grpc::Status st = Reply(ctx, s_->ListJobs(ns), resp);
  if (!st.ok()) return st;
  // Without a namespace: only the jobs of namespaces the caller may read.
  auto* jobs = resp->mutable_jobs();
  jobs->erase(std::remove_if(jobs->begin(), jobs->end(),
                             [&](const schedpb::JobSummary& j) {
                               return !(*readable)(j.namespace_());
                             }),
              jobs->end());
  return st;
}

grpc::Status ApiService::JobStatus(grpc::ServerContext* ctx,
                                   const schedpb::JobStatusRequest* req,
                                   schedpb::JobStatusResponse* resp) {
  grpc::Status ok = ReadAllowed(ctx, "JobStatus", req->namespace_(), req->job(),
                                NeedRight(kRightRead, req->namespace_()));
  if (!ok.ok()) return ok;
  return Reply(ctx, s_->JobStatus(req->namespace_(), req->job()), resp);
}

grpc::Status ApiService::JobHistory(grpc::ServerContext* ctx,
                                    const schedpb::JobHistoryRequest* req,
                                    schedpb::JobHistoryResponse* resp) {
  grpc::Status ok =
      ReadAllowed(ctx, "JobHistory", req->namespace_(), req->job(),
                  NeedRight(kRightRead, req->namespace_()));
  if (!ok.ok()) return ok;
  return Reply(ctx, s_->JobHistory(req->namespace_(), req->job()), resp);
}

grpc::Status ApiService::ListNodes(grpc::ServerContext* ctx,
                                   const schedpb::ListNodesRequest* req,
                                   schedpb::ListNodesResponse* resp) {
  grpc::Status ok = ReadAllowed(ctx, "ListNodes", "", "", NeedIdentity());
  if (!ok.ok()) return ok;
  return Reply(ctx, s_->ListNodes(req->include_allocations()), resp);
}

grpc::Status ApiService::DrainNode(grpc::ServerContext* ctx,
                                   const schedpb::DrainNodeRequest* req,
                                   schedpb::DrainNodeResponse* resp) {
  std::string detail = req->enable() ? "drain" : "undrain";
  if (req->enable()) {
    absl::StrAppend(&detail, req->deadline_ms()
                                 ? absl::StrCat(", deadline ",
                                                req->deadline_ms() / 1000, "s")
                                 : ", no deadline");
    if (req->ignore_batch()) absl::StrAppend(&detail, ", ignore batch");
  }
  return Audited(
      ctx, "DrainNode", "", req->node(), detail,
      Reply(ctx,
            Guarded(WriteAllowed(*ctx, "DrainNode", NeedAdmin("DrainNode")),
                    [&] { return s_->DrainNode(*req); }),
            resp));
}

grpc::Status ApiService::Leader(grpc::ServerContext*,
                                const schedpb::LeaderRequest*,
                                schedpb::LeaderResponse* resp) {
  *resp = s_->Leader();
  return grpc::Status::OK;
}

grpc::Status ApiService::SuspendJob(grpc::ServerContext* ctx,
                                    const schedpb::SuspendJobRequest* req,
                                    schedpb::SuspendJobResponse* resp) {
  return Audited(
      ctx, "SuspendJob", req->namespace_(), req->job(), "",
      Reply(ctx,
            Guarded(WriteAllowed(*ctx, "SuspendJob",
                                 NeedRight(kRightStop, req->namespace_())),
                    [&] { return s_->SetSuspended(*req, true); }),
            resp));
}

grpc::Status ApiService::ResumeJob(grpc::ServerContext* ctx,
                                   const schedpb::SuspendJobRequest* req,
                                   schedpb::SuspendJobResponse* resp) {
  return Audited(
      ctx, "ResumeJob", req->namespace_(), req->job(), "",
      Reply(ctx,
            Guarded(WriteAllowed(*ctx, "ResumeJob",
                                 NeedRight(kRightStop, req->namespace_())),
                    [&] { return s_->SetSuspended(*req, false); }),
            resp));
}

grpc::Status ApiService::Audited(
    grpc::ServerContext* ctx, const std::string& method, const std::string& ns,
    const std::string& target, const std::string& detail, grpc::Status reply) {
  if (audit_ == nullptr) return reply;
  if (reply.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
      !s_->is_leader()) {
    return reply;  // redirected; the leader records the retry
  }
  schedpb::AuditRecord r;
  r.set_method(method);
  r.set_namespace_(ns);
  r.set_target(target);
  r.set_detail(detail);
  r.set_code(reply.error_code());
  r.set_message(reply.error_message());
  audit_->Record(*ctx, std::move(r));
  return reply;
}

grpc::Status ApiService::Audit(grpc::ServerContext* ctx,
                               const schedpb::AuditRequest* req,
                               schedpb::AuditResponse* resp) {
  if (audit_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "this scheduler keeps no audit log");
  }
  if (req->limit() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "limit must be 0 (default) or positive");
  }
  grpc::Status ok = ReadAllowed(ctx, "Audit", "", "", NeedIdentity());
  if (!ok.ok()) return ok;
  absl::StatusOr<AclState> acl = s_->Acl();
  if (!acl.ok()) return Reply(ctx, acl.status());
  const Who who = tls::PeerIdentityOf(*ctx);
  // With ACLs on, a non-admin sees the records of namespaces it may read;
  // cluster-wide records (drains, ACL changes) are the admins' only.
  const bool all = !acl->enabled || IsAclAdmin(who);
  auto records =
      audit_->List(absl::FromUnixMillis(req->since_unix_ms()), req->limit());
  if (!records.ok()) return Reply(ctx, records.status());
  for (auto& r : *records) {
    if (!all && (r.namespace_().empty() ||
                 (RightsIn(*acl, who, r.namespace_()) & kRightRead) == 0)) {
      continue;
    }
    *resp->add_records() = std::move(r);
  }
  return grpc::Status::OK;
}

}  // namespace berth::sched
