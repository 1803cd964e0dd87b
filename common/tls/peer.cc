#include "common/tls/peer.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/auth_context.h"
#include "grpcpp/server_context.h"

namespace berth::tls {
namespace {

std::string First(const grpc::AuthContext& auth, const char* property) {
  std::vector<grpc::string_ref> v = auth.FindPropertyValues(property);
  if (v.empty()) return "";
  return std::string(v.front().data(), v.front().size());
}

}  // namespace

std::string SubjectOu(absl::string_view subject) {
  size_t start = 0;
  while (start <= subject.size()) {
    // The end of this attribute: the next comma not escaped by '\'.
    size_t end = start;
    while (end < subject.size() && subject[end] != ',') {
      end += subject[end] == '\\' ? 2 : 1;
    }
    end = std::min(end, subject.size());
    absl::string_view attr = subject.substr(start, end - start);
    while (!attr.empty() && attr.front() == ' ') attr.remove_prefix(1);
    if (attr.substr(0, 3) == "OU=") return std::string(attr.substr(3));
    start = end + 1;
  }
  return "";
}

std::optional<PeerIdentity> PeerIdentityOf(const grpc::ServerContextBase& ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return std::nullopt;
  PeerIdentity id;
  id.name = First(*auth, GRPC_X509_CN_PROPERTY_NAME);
  if (id.name.empty()) return std::nullopt;
  id.kind = SubjectOu(First(*auth, GRPC_X509_SUBJECT_PROPERTY_NAME));
  return id;
}

}  // namespace berth::tls
