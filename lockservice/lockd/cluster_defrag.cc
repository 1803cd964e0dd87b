// ClusterService::Defragment: gives this replica's free SQLite pages back to
// the file system, in steps of kPagesPerStep pages, each one short SQLite
// transaction under the store's mutex. Between steps the Raft driver applies
// entries as usual, so a defrag slows the replica down but never blocks it
// for long (except once on a file created before incremental auto-vacuum,
// which needs one full VACUUM). If this replica leads and its file is back
// under the quota, its next leader tick clears the NOSPACE alarm.
#include "absl/strings/str_cat.h"
#include "lockservice/lockd/node_authorizer.h"
#include "lockservice/lockd/services.h"

namespace berth::lockd {
namespace {

constexpr int64_t kPagesPerStep = 256;

}  // namespace

grpc::Status ClusterService::Defragment(grpc::ServerContext* ctx,
                                        const lockpb::DefragmentRequest* req,
                                        lockpb::DefragmentResponse* resp) {
  if (absl::Status a = core_->AuthorizeClusterAdmin(*ctx, "defragment");
      !a.ok()) {
    return ToGrpc(a);
  }
  auto size = [&]() {
    return core_->store()->Read(
        [](lock::StateMachine& sm) { return sm.DatabaseSize(); });
  };
  absl::StatusOr<lock::StateMachine::DbSize> before = size();
  if (!before.ok()) return ToGrpc(before.status());
  const absl::Time deadline = core_->Deadline(ctx);
  while (true) {
    absl::StatusOr<bool> done =
        core_->store()->Read([](lock::StateMachine& sm) {
          return sm.DefragmentStep(kPagesPerStep);
        });
    if (done.ok() && *done) break;
    if (!done.ok() && !absl::IsUnavailable(done.status())) {
      return ToGrpc(done.status());
    }
    if (absl::Now() >= deadline || ctx->IsCancelled()) {
      return grpc::Status(
          grpc::StatusCode::DEADLINE_EXCEEDED,
          "defragment: deadline passed before all free pages were given "
          "back; what was done is kept, run it again to continue");
    }
    // Let the apply thread in between steps.
    absl::SleepFor(absl::Milliseconds(2));
  }
  absl::StatusOr<lock::StateMachine::DbSize> after = size();
  if (!after.ok()) return ToGrpc(after.status());
  resp->set_size_before_bytes(before->total_bytes);
  resp->set_size_after_bytes(after->total_bytes);
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

}  // namespace berth::lockd
