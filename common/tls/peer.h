// Who is on the other end of a gRPC call, from the client certificate the
// TLS handshake verified. `berth cert` puts the node or user name in the
// subject CN and the kind (server, agent, scheduler, user) in the OU.
//
// Only a verified certificate counts: a plaintext call, or one without a
// client certificate, has no identity (listeners in mutual-TLS mode refuse
// those anyway).
#ifndef BERTH_COMMON_TLS_PEER_H_
#define BERTH_COMMON_TLS_PEER_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace grpc {
class ServerContextBase;
}  // namespace grpc

namespace berth::tls {

struct PeerIdentity {
  std::string name;  // the CN
  std::string kind;  // the OU ("" if the certificate has none)
};

std::optional<PeerIdentity> PeerIdentityOf(const grpc::ServerContextBase& ctx);

// The OU of a subject as gRPC reports it (RFC 2253: "CN=a1,OU=agent,O=x",
// commas inside values escaped with '\'); "" when there is none.
std::string SubjectOu(absl::string_view subject);

}  // namespace berth::tls

#endif  // BERTH_COMMON_TLS_PEER_H_
