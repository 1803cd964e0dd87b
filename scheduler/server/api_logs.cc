// ApiService::AllocLogs: the gRPC side of ProxyLogs. The agent call is a
// child of the caller's call (ClientContext::FromServerContext), so when the
// CLI goes away gRPC cancels the agent call too and a blocked Read returns.
#include <algorithm>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "proto/agent.grpc.pb.h"
#include "scheduler/server/api_service.h"
#include "scheduler/server/logs_proxy.h"
#include "scheduler/state/keys.h"

namespace berth::sched {
namespace {

class GrpcAgentLogStream final : public AgentLogStream {
 public:
  GrpcAgentLogStream(grpc::ServerContext* parent,
                     std::shared_ptr<grpc::Channel> channel,
                     const agentpb::LogsRequest& req)
      : ctx_(grpc::ClientContext::FromServerContext(*parent)),
        stub_(agentpb::AgentLogs::NewStub(std::move(channel))),
        reader_(stub_->Logs(ctx_.get(), req)) {}

  bool Read(agentpb::LogChunk* chunk) override { return reader_->Read(chunk); }
  grpc::Status Finish() override { return reader_->Finish(); }

 private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<agentpb::AgentLogs::Stub> stub_;
  std::unique_ptr<grpc::ClientReader<agentpb::LogChunk>> reader_;
};

}  // namespace

grpc::Status ApiService::AllocLogs(
    grpc::ServerContext* ctx, const schedpb::AllocLogsRequest* req,
    grpc::ServerWriter<schedpb::AllocLogsChunk>* writer) {
  // Checked before the lookup, so a refusal does not tell whether the
  // allocation exists.
  const std::string ns = !req->alloc_id().empty()
                             ? NamespaceOfAllocId(req->alloc_id())
                         : req->namespace_().empty() ? std::string("default")
                                                     : req->namespace_();
  grpc::Status ok =
      ReadAllowed(ctx, "AllocLogs", ns,
                  req->alloc_id().empty() ? req->job() : req->alloc_id(),
                  NeedRight(kRightRead, ns));
  if (!ok.ok()) return ok;
  absl::StatusOr<LogsTarget> target = s_->FindLogsTarget(*req);
  if (!target.ok()) {
    return grpc::Status(static_cast<grpc::StatusCode>(target.status().code()),
                        std::string(target.status().message()));
  }
  LogsProxyDeps deps;
  deps.open = [this, ctx](const std::string& address,
                          const agentpb::LogsRequest& r) {
    return std::make_unique<GrpcAgentLogStream>(ctx, s_->DialAgent(address), r);
  };
  deps.node_address = [this](const std::string& node) {
    return s_->NodeAddress(node);
  };
  deps.send = [writer](const schedpb::AllocLogsChunk& c) {
    return writer->Write(c);
  };
  deps.wait = [ctx](absl::Duration d) {
    // Short slices, so a caller that leaves is noticed quickly.
    const absl::Time until = absl::Now() + d;
    while (!ctx->IsCancelled()) {
      absl::Duration left = until - absl::Now();
      if (left <= absl::ZeroDuration()) return true;
      absl::SleepFor(std::min(left, absl::Milliseconds(50)));
    }
    return false;
  };
  absl::Status s = ProxyLogs(*req, *target, deps);
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

}  // namespace berth::sched
