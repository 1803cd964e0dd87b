// The one way berth's daemons add a gRPC listening port.
//
// gRPC turns SO_REUSEPORT on by default, so a second daemon started on a
// port that one already serves binds it too, and the kernel silently
// splits the connections between them. AddListener turns that off: the
// second daemon's BuildAndStart fails, and it exits naming the port.
//
// Thread safety: call while building the server, before BuildAndStart.
#ifndef BERTH_COMMON_TLS_LISTEN_H_
#define BERTH_COMMON_TLS_LISTEN_H_

#include <memory>
#include <string>

namespace grpc {
class ServerBuilder;
class ServerCredentials;
}  // namespace grpc

namespace berth::tls {

// Adds `address` to `builder` with `credentials` (plaintext when null) and
// disables SO_REUSEPORT for the whole server. `*selected_port` is 0 after
// BuildAndStart when the port could not be bound.
void AddListener(grpc::ServerBuilder* builder, const std::string& address,
                 std::shared_ptr<grpc::ServerCredentials> credentials,
                 int* selected_port);

}  // namespace berth::tls

#endif  // BERTH_COMMON_TLS_LISTEN_H_
