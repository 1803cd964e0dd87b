#include "scheduler/server/api_service.h"

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

// `op()`, unless the caller is an agent.
template <typename Op>
auto UnlessAgent(const grpc::ServerContext& ctx, absl::string_view method,
                 Op op) -> decltype(op()) {
  if (absl::Status s = NotAnAgent(ctx, method); !s.ok()) return s;
  return op();
}

}  // namespace

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
            UnlessAgent(*ctx, "SubmitJob", [&] { return s_->Submit(*req); }),
            resp));
}

grpc::Status ApiService::StopJob(grpc::ServerContext* ctx,
                                 const schedpb::StopJobRequest* req,
                                 schedpb::StopJobResponse* resp) {
  return Audited(
      ctx, "StopJob", req->namespace_(), req->job(),
      req->purge() ? "purge" : "",
      Reply(ctx, UnlessAgent(*ctx, "StopJob", [&] { return s_->Stop(*req); }),
            resp));
}

grpc::Status ApiService::TriggerJob(grpc::ServerContext* ctx,
                                    const schedpb::TriggerJobRequest* req,
                                    schedpb::TriggerJobResponse* resp) {
  return Audited(
      ctx, "TriggerJob", req->namespace_(), req->job(), "",
      Reply(ctx,
            UnlessAgent(*ctx, "TriggerJob", [&] { return s_->Trigger(*req); }),
            resp));
}

grpc::Status ApiService::CreateNamespace(
    grpc::ServerContext* ctx, const schedpb::CreateNamespaceRequest* req,
    schedpb::CreateNamespaceResponse*) {
  return Audited(ctx, "CreateNamespace", req->name(), req->name(), "",
                 Reply(ctx, UnlessAgent(*ctx, "CreateNamespace", [&] {
                         return s_->CreateNamespace(req->name());
                       })));
}

grpc::Status ApiService::ListJobs(grpc::ServerContext* ctx,
                                  const schedpb::ListJobsRequest* req,
                                  schedpb::ListJobsResponse* resp) {
  return Reply(ctx, s_->ListJobs(req->namespace_()), resp);
}

grpc::Status ApiService::JobStatus(grpc::ServerContext* ctx,
                                   const schedpb::JobStatusRequest* req,
                                   schedpb::JobStatusResponse* resp) {
  return Reply(ctx, s_->JobStatus(req->namespace_(), req->job()), resp);
}

grpc::Status ApiService::JobHistory(grpc::ServerContext* ctx,
                                    const schedpb::JobHistoryRequest* req,
                                    schedpb::JobHistoryResponse* resp) {
  return Reply(ctx, s_->JobHistory(req->namespace_(), req->job()), resp);
}

grpc::Status ApiService::ListNodes(grpc::ServerContext* ctx,
                                   const schedpb::ListNodesRequest* req,
                                   schedpb::ListNodesResponse* resp) {
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
            UnlessAgent(*ctx, "DrainNode", [&] { return s_->DrainNode(*req); }),
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
            UnlessAgent(*ctx, "SuspendJob",
                        [&] { return s_->SetSuspended(*req, true); }),
            resp));
}

grpc::Status ApiService::ResumeJob(grpc::ServerContext* ctx,
                                   const schedpb::SuspendJobRequest* req,
                                   schedpb::SuspendJobResponse* resp) {
  return Audited(
      ctx, "ResumeJob", req->namespace_(), req->job(), "",
      Reply(ctx,
            UnlessAgent(*ctx, "ResumeJob",
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
  auto records =
      audit_->List(absl::FromUnixMillis(req->since_unix_ms()), req->limit());
  if (!records.ok()) return Reply(ctx, records.status());
  for (auto& r : *records) *resp->add_records() = std::move(r);
  return grpc::Status::OK;
}

}  // namespace berth::sched
