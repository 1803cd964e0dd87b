#include "lockservice/lockd/etcd/backend.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/monotonic_wait.h"
#include "lockservice/lockd/node_authorizer.h"

namespace berth::lockd::etcd {
namespace {

// Splits "host:port"; port -1 when there is none.
std::pair<std::string, int> SplitHostPort(const std::string& addr) {
  size_t colon = addr.rfind(':');
  int port = -1;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(addr.substr(colon + 1), &port)) {
    return {addr, -1};
  }
  return {addr.substr(0, colon), port};
}

}  // namespace

Backend::Backend(Core* core, std::shared_ptr<grpc::Channel> local,
                 std::string etcd_listen,
                 std::shared_ptr<grpc::ChannelCredentials> credentials)
    : core_(core),
      local_(std::move(local)),
      credentials_(std::move(credentials)),
      etcd_listen_(std::move(etcd_listen)) {}

// A write reached a follower, or the replicas are electing a leader (the
// leader's address is re-read on each attempt).
bool Backend::IsRedirect(const grpc::Status& st) {
  if (st.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    return absl::StartsWith(st.error_message(), "not the leader");
  }
  return st.error_code() == grpc::StatusCode::UNAVAILABLE;
}

std::unique_ptr<grpc::ClientContext> Backend::ContextFor(
    const grpc::ServerContext* server) const {
  std::unique_ptr<grpc::ClientContext> ctx =
      grpc::ClientContext::FromServerContext(*server);
  core_->AddRelayMetadata(core_->CallerOf(*server), ctx.get());
  return ctx;
}

std::shared_ptr<grpc::Channel> Backend::LeaderChannel() {
  node::NodeStatus s = core_->node()->GetStatus();
  if (s.leader == 0 || s.leader == core_->id()) return local_;
  std::string addr = core_->AddressOf(s.leader);
  if (addr.empty()) return local_;
  absl::MutexLock l(&mu_);
  std::shared_ptr<grpc::Channel>& ch = remotes_[addr];
  if (!ch) ch = grpc::CreateChannel(addr, credentials_);
  return ch;
}

grpc::Status Backend::RefuseAgents(const grpc::ServerContext& server) {
  return ToGrpc(DenyAgent(server, "write through the etcd API"));
}

grpc::Status Backend::OnLeader(const grpc::ServerContext* server,
                               const Call& call) {
  if (grpc::Status a = RefuseAgents(*server); !a.ok()) return a;
  // Without a client deadline, give up redirecting after berth's own
  // default bound on a call's wait.
  absl::Time deadline = core_->Deadline(server);
  absl::Mutex mu;
  absl::CondVar cv;
  while (true) {
    std::unique_ptr<grpc::ClientContext> ctx = ContextFor(server);
    grpc::Status st = call(LeaderChannel(), ctx.get());
    if (st.ok() || !IsRedirect(st) || server->IsCancelled() ||
        absl::Now() >= deadline) {
      return st;
    }
    // Leadership moves within an election timeout; poll, do not spin.
    absl::MutexLock l(&mu);
    WaitMonotonic(&cv, &mu, absl::Milliseconds(50));
  }
}

std::string Backend::EtcdAddressOf(const std::string& berth_addr) const {
  auto [self_host, self_port] = SplitHostPort(core_->AddressOf(core_->id()));
  auto [etcd_host, etcd_port] = SplitHostPort(etcd_listen_);
  auto [host, port] = SplitHostPort(berth_addr);
  if (self_port < 0 || etcd_port < 0 || port < 0) return "";
  return absl::StrCat(host, ":", port + (etcd_port - self_port));
}

}  // namespace berth::lockd::etcd
