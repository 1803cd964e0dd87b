#include "scheduler/server/api_service.h"

#include <string>

namespace berth::sched {

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
  return Reply(ctx, s_->Submit(*req), resp);
}

grpc::Status ApiService::StopJob(grpc::ServerContext* ctx,
                                 const schedpb::StopJobRequest* req,
                                 schedpb::StopJobResponse* resp) {
  return Reply(ctx, s_->Stop(*req), resp);
}

grpc::Status ApiService::TriggerJob(grpc::ServerContext* ctx,
                                    const schedpb::TriggerJobRequest* req,
                                    schedpb::TriggerJobResponse* resp) {
  return Reply(ctx, s_->Trigger(*req), resp);
}

grpc::Status ApiService::CreateNamespace(
    grpc::ServerContext* ctx, const schedpb::CreateNamespaceRequest* req,
    schedpb::CreateNamespaceResponse*) {
  return Reply(ctx, s_->CreateNamespace(req->name()));
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
                                   const schedpb::ListNodesRequest*,
                                   schedpb::ListNodesResponse* resp) {
  return Reply(ctx, s_->ListNodes(), resp);
}

grpc::Status ApiService::DrainNode(grpc::ServerContext* ctx,
                                   const schedpb::DrainNodeRequest* req,
                                   schedpb::DrainNodeResponse* resp) {
  return Reply(ctx, s_->DrainNode(*req), resp);
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
  return Reply(ctx, s_->SetSuspended(*req, true), resp);
}

grpc::Status ApiService::ResumeJob(grpc::ServerContext* ctx,
                                   const schedpb::SuspendJobRequest* req,
                                   schedpb::SuspendJobResponse* resp) {
  return Reply(ctx, s_->SetSuspended(*req, false), resp);
}

}  // namespace berth::sched
