#include "cli/sched_client.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace berth::cli {

absl::Status SchedClient::RunImpl(const Call& call, bool with_deadline) {
  const absl::Time deadline = absl::Now() + timeout_;
  std::vector<std::string> targets = endpoints_;
  absl::Status last = absl::UnavailableError("no --scheduler address given");
  bool redirected = false;
  for (size_t i = 0; i < targets.size(); ++i) {
    auto channel =
        grpc::CreateChannel(targets[i], grpc::InsecureChannelCredentials());
    auto stub = schedpb::Scheduler::NewStub(channel);
    grpc::ClientContext ctx;
    if (with_deadline) ctx.set_deadline(absl::ToChronoTime(deadline));
    grpc::Status s = call(stub.get(), &ctx);
    if (s.ok()) return absl::OkStatus();
    last = absl::Status(
        static_cast<absl::StatusCode>(s.error_code()),
        absl::StrCat(s.error_message(), " (scheduler ", targets[i], ")"));
    if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
        !redirected) {
      auto md = ctx.GetServerTrailingMetadata();
      auto it = md.find("berth-leader");
      if (it != md.end()) {
        redirected = true;
        targets.insert(targets.begin() + i + 1,
                       std::string(it->second.data(), it->second.size()));
        continue;
      }
    }
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
        s.error_code() != grpc::StatusCode::FAILED_PRECONDITION &&
        s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      return last;
    }
  }
  return last;
}

}  // namespace berth::cli
