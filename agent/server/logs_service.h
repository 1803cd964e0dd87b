// LogsService: the AgentLogs gRPC service (proto/agent.proto). It serves an
// allocation's captured stdout/stderr from the files the LogPump writes:
// the last N lines, a range from a logical offset, and with `follow` new
// output as it arrives until the allocation is finished and drained or the
// caller goes away.
//
// It reads files only (LogReader), so it serves allocations from before an
// agent restart too. Each follower holds one gRPC server thread.
//
// Thread safety: gRPC calls Logs from many threads; the service has no
// mutable state. Ownership: borrows `agent`, which must outlive it.
#ifndef BERTH_AGENT_SERVER_LOGS_SERVICE_H_
#define BERTH_AGENT_SERVER_LOGS_SERVICE_H_

#include "agent/server/agent.h"
#include "proto/agent.grpc.pb.h"

namespace berth::agent {

class LogsService final : public agentpb::AgentLogs::Service {
 public:
  explicit LogsService(const Agent* agent) : agent_(agent) {}

  grpc::Status Logs(grpc::ServerContext* ctx, const agentpb::LogsRequest* req,
                    grpc::ServerWriter<agentpb::LogChunk>* writer) override;

 private:
  const Agent* const agent_;
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_SERVER_LOGS_SERVICE_H_
