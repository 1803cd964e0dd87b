// ApiService::AllocExec: berth alloc exec through the scheduler. It finds
// the allocation's node in the mirror and relays the bidirectional stream
// to that agent's AgentExec.Exec: the caller's messages (start, stdin,
// resizes) up on a second thread, the agent's output down on this one. The
// agent call is a child of the caller's call, so a caller that goes away
// cancels it (and the agent kills the command). Unlike logs, an exec is
// never retried: the command might run twice.
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/monotonic_wait.h"
#include "grpcpp/grpcpp.h"
#include "proto/agent.grpc.pb.h"
#include "scheduler/server/api_service.h"
#include "scheduler/state/keys.h"

namespace berth::sched {
namespace {

// After the agent's stream ended, how long the caller has to half-close.
constexpr absl::Duration kCloseGrace = absl::Seconds(5);

grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

}  // namespace

grpc::Status ApiService::AllocExec(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<agentpb::ExecOutput, agentpb::ExecInput>* stream) {
  agentpb::ExecInput first;
  if (!stream->Read(&first) || !first.has_start()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first message must carry start");
  }
  schedpb::AllocLogsRequest lookup;
  lookup.set_alloc_id(first.start().alloc_id());
  if (lookup.alloc_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "name an allocation");
  }
  const std::string ns = NamespaceOfAllocId(lookup.alloc_id());
  // Recorded as it starts (or is refused): what ran, not how it ended.
  auto audited = [&](grpc::Status s) {
    return Audited(ctx, "AllocExec", ns, lookup.alloc_id(),
                   absl::StrCat(first.start().tty() ? "tty: " : "",
                                absl::StrJoin(first.start().command(), " ")),
                   std::move(s));
  };
  // Any scheduler proxies an exec, so a refusal is final here (no
  // redirect to the leader as for writes). Running a command in a task is
  // as much as submitting one: it needs "submit".
  absl::Status a = NotAnAgent(*ctx, "AllocExec");
  if (a.ok()) a = Check(*ctx, NeedRight(kRightSubmit, ns));
  if (!a.ok()) return audited(ToGrpc(a));
  absl::StatusOr<LogsTarget> target = s_->FindLogsTarget(lookup);
  if (!target.ok()) return audited(ToGrpc(target.status()));
  std::optional<std::string> address = s_->NodeAddress(target->node);
  if (!address.has_value()) {
    return audited(grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("node ", target->node,
                     " is gone (its agent is no longer registered)")));
  }
  audited(grpc::Status::OK);
  std::unique_ptr<grpc::ClientContext> call =
      grpc::ClientContext::FromServerContext(*ctx);
  auto stub = agentpb::AgentExec::NewStub(s_->DialAgent(*address));
  auto agent = stub->Exec(call.get());

  // The agent stream is written by the up thread and finished by this one;
  // once `agent_done` nothing writes to it any more.
  absl::Mutex mu;
  bool agent_done = false;
  auto to_agent = [&](const agentpb::ExecInput& in) {
    absl::MutexLock l(&mu);
    return !agent_done && agent->Write(in);
  };
  to_agent(first);
  Notice up_done;
  std::thread up([&] {
    agentpb::ExecInput in;
    while (stream->Read(&in)) {
      if (!to_agent(in)) break;
    }
    {
      absl::MutexLock l(&mu);
      if (!agent_done) agent->WritesDone();
    }
    up_done.Notify();
  });
  agentpb::ExecOutput out;
  bool final_seen = false;  // the caller was told how it ended
  bool caller_gone = false;
  while (agent->Read(&out)) {
    final_seen = out.exited() || !out.error().empty();
    if (!stream->Write(out)) {
      caller_gone = true;
      call->TryCancel();
      break;
    }
  }
  grpc::Status s;
  {
    absl::MutexLock l(&mu);
    agent_done = true;
    s = agent->Finish();
  }
  if (!final_seen && !caller_gone) {
    // The agent went away (or refused) without a final message: say so in
    // one, so the caller half-closes and sees why.
    absl::Status why = absl::UnknownError(
        absl::StrCat("agent of node ", target->node,
                     " ended the exec without an exit status"));
    switch (s.error_code()) {
      case grpc::StatusCode::OK:
        break;
      case grpc::StatusCode::UNAVAILABLE:
      case grpc::StatusCode::UNKNOWN:
      case grpc::StatusCode::INTERNAL:
        why = absl::UnavailableError(
            absl::StrCat("agent of node ", target->node, " at ", *address,
                         " is unreachable: ", s.error_message()));
        break;
      default:
        why = absl::Status(
            static_cast<absl::StatusCode>(s.error_code()),
            absl::StrCat("node ", target->node, ": ", s.error_message()));
    }
    agentpb::ExecOutput end;
    end.set_error_code(static_cast<int>(why.code()));
    end.set_error(std::string(why.message()));
    stream->Write(end);
  }
  if (!up_done.WaitFor(kCloseGrace)) ctx->TryCancel();
  up.join();
  return grpc::Status::OK;
}

}  // namespace berth::sched
