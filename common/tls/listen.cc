#include "common/tls/listen.h"

#include <grpcpp/grpcpp.h>

#include <utility>

namespace berth::tls {

void AddListener(grpc::ServerBuilder* builder, const std::string& address,
                 std::shared_ptr<grpc::ServerCredentials> credentials,
                 int* selected_port) {
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (credentials == nullptr) {
    credentials = grpc::InsecureServerCredentials();
  }
  builder->AddListeningPort(address, std::move(credentials), selected_port);
}

}  // namespace berth::tls
