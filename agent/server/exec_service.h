// ExecService: the AgentExec gRPC service (proto/agent.proto), behind
// `berth alloc exec`. It runs a command inside an allocation's running task
// through Runtime::Exec (namespaces and cgroups on the linux runtime), on a
// pseudo-terminal when asked, and streams stdin in and stdout/stderr out;
// the last message carries the exit code. A caller that goes away kills
// the command.
//
// Each exec holds one gRPC server thread plus one thread that feeds stdin.
//
// Thread safety: gRPC calls Exec from many threads; the service has no
// mutable state. Ownership: borrows `agent`, which must outlive it.
#ifndef BERTH_AGENT_SERVER_EXEC_SERVICE_H_
#define BERTH_AGENT_SERVER_EXEC_SERVICE_H_

#include "agent/server/agent.h"
#include "proto/agent.grpc.pb.h"

namespace berth::agent {

class ExecService final : public agentpb::AgentExec::Service {
 public:
  explicit ExecService(const Agent* agent) : agent_(agent) {}

  grpc::Status Exec(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<agentpb::ExecOutput, agentpb::ExecInput>* stream)
      override;

 private:
  const Agent* const agent_;
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_SERVER_EXEC_SERVICE_H_
