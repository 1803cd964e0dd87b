// UnaryCall: the reactor of a callback-API unary RPC that is answered from
// a completion callback (a proposal applied, a read barrier passed).
//
// The handler creates it, starts the asynchronous work, hands the work's
// ticket to set_ticket and returns it to gRPC. The completion calls Reply
// exactly once (possibly before the handler returns; gRPC defers OnDone
// until the handler has returned). If the client goes away first, OnCancel
// cancels the ticket, which runs the completion now (with Cancelled), so
// nothing stays registered for a call that no longer exists.
//
// Ownership: gRPC's, from the handler's return until OnDone deletes it.
#ifndef BERTH_LOCKSERVICE_LOCKD_UNARY_CALL_H_
#define BERTH_LOCKSERVICE_LOCKD_UNARY_CALL_H_

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/lockd/core.h"

namespace berth::lockd {

class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  // `on_cancel` runs at most once, on a gRPC thread, if the client cancels
  // (or its deadline passes) before the reply was sent.
  explicit UnaryCall(std::function<void()> on_cancel = nullptr)
      : on_cancel_(std::move(on_cancel)) {}

  // The cancellation for work that Core::Cancel(ticket) can complete.
  static UnaryCall* ForTicketOf(Core* core) {
    auto* call = new UnaryCall();
    call->on_cancel_ = [core, call] { core->Cancel(call->ticket_.load()); };
    return call;
  }

  // Both are set before the handler returns (gRPC calls OnCancel later).
  void set_ticket(uint64_t t) { ticket_.store(t); }
  void set_on_cancel(std::function<void()> fn) { on_cancel_ = std::move(fn); }
  void Reply(const absl::Status& st) { Finish(ToGrpc(st)); }

  void OnCancel() override {
    if (on_cancel_) on_cancel_();
  }
  void OnDone() override { delete this; }

 private:
  ~UnaryCall() override = default;

  std::function<void()> on_cancel_;
  std::atomic<uint64_t> ticket_{0};
};

// An RPC refused before any work started (auth).
inline grpc::ServerUnaryReactor* RefusedCall(const absl::Status& st) {
  auto* call = new UnaryCall();
  call->Reply(st);
  return call;
}

// A write RPC: proposes `cmd`, then `fill(result, resp)` and the response
// header. KV writes report the revision their own entry produced
// (`result_revision`); others report the store's current one.
template <typename Resp, typename Fill>
grpc::ServerUnaryReactor* ProposeCall(Core* core,
                                      grpc::CallbackServerContext* ctx,
                                      lockpb::Command cmd, Resp* resp,
                                      bool result_revision, Fill fill) {
  UnaryCall* call = UnaryCall::ForTicketOf(core);
  if (absl::Status a = core->Authorize(*ctx, cmd); !a.ok()) {
    call->Reply(a);
    return call;
  }
  call->set_ticket(core->ProposeAsync(
      std::move(cmd), core->Deadline(ctx),
      [core, call, resp, result_revision, fill = std::move(fill)](
          absl::StatusOr<lockpb::CommandResult> r) mutable {
        if (!r.ok()) return call->Reply(r.status());
        fill(*r, resp);
        core->FillHeader(resp->mutable_header());
        if (result_revision)
          resp->mutable_header()->set_revision(r->revision());
        call->Reply(absl::OkStatus());
      }));
  return call;
}

// A read RPC: waits for the read barrier (unless `serializable`), then
// answers with `read(state_machine)` (a StatusOr<Resp>) and a header.
template <typename Resp, typename Read>
grpc::ServerUnaryReactor* ReadCall(Core* core, grpc::CallbackServerContext* ctx,
                                   bool serializable, Resp* resp, Read read) {
  UnaryCall* call = UnaryCall::ForTicketOf(core);
  call->set_ticket(core->ReadBarrierAsync(
      serializable, core->Deadline(ctx),
      [core, call, resp, read = std::move(read)](absl::Status st) mutable {
        if (!st.ok()) return call->Reply(st);
        auto r = core->store()->Read(read);
        if (!r.ok()) return call->Reply(r.status());
        *resp = std::move(*r);
        core->FillHeader(resp->mutable_header());
        call->Reply(absl::OkStatus());
      }));
  return call;
}

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_UNARY_CALL_H_
