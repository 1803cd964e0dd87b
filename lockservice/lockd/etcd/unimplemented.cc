#include "lockservice/lockd/etcd/unimplemented.h"

#include "absl/strings/str_cat.h"

namespace berth::lockd::etcd {
namespace {

// Finishes the call as soon as it starts; never reads the request.
class Refusal final : public grpc::ServerGenericBidiReactor {
 public:
  explicit Refusal(const std::string& method) {
    Finish(grpc::Status(
        grpc::StatusCode::UNIMPLEMENTED,
        absl::StrCat("berth-lockd does not implement etcd's ", method,
                     " (see docs/etcd-compat.md for what is served)")));
  }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerGenericBidiReactor* UnimplementedService::CreateReactor(
    grpc::GenericCallbackServerContext* ctx) {
  return new Refusal(ctx->method());
}

}  // namespace berth::lockd::etcd
