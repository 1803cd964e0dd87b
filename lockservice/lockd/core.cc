#include "lockservice/lockd/core.h"

#include <random>

#include "absl/strings/str_cat.h"

namespace berth::lockd {

Core::Core(const CoreOptions& opts, Clock* clock, node::RaftNode* node,
           ReplicatedStore* store)
    : opts_(opts), clock_(clock), node_(node), store_(store) {
  // Request ids must not repeat across restarts of this replica, since a
  // lock waiter is matched to its RPC by id.
  std::random_device rd;
  next_request_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

void Core::SetBootstrapAddresses(std::map<uint64_t, std::string> addrs) {
  absl::MutexLock l(&mu_);
  bootstrap_ = std::move(addrs);
}

std::string Core::AddressOf(uint64_t id) {
  if (id == 0) return "";
  if (id == opts_.id) return opts_.self_address;
  std::map<uint64_t, std::string> members = store_->Members();
  auto it = members.find(id);
  if (it != members.end()) {
    std::string addr = it->second;
    size_t sp = addr.find(' ');
    return sp == std::string::npos ? addr : addr.substr(0, sp);
  }
  absl::MutexLock l(&mu_);
  auto b = bootstrap_.find(id);
  return b == bootstrap_.end() ? "" : b->second;
}

void Core::FillHeader(lockpb::ResponseHeader* h) {
  node::NodeStatus s = node_->GetStatus();
  h->set_cluster_id(opts_.cluster_id);
  h->set_member_id(opts_.id);
  h->set_revision(store_->revision());
  h->set_raft_term(s.term);
  h->set_leader_id(s.leader);
  h->set_leader_addr(AddressOf(s.leader));
}

absl::Status Core::RequireLeader() {
  node::NodeStatus s = node_->GetStatus();
  if (s.role == raft::Role::kLeader) return absl::OkStatus();
  if (s.leader == 0) {
    return absl::UnavailableError(
        "no leader (leader=0@): the replicas are electing one; retry shortly");
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "not the leader; leader=", s.leader, "@", AddressOf(s.leader)));
}

uint64_t Core::NextRequestId() { return ++next_request_; }

absl::StatusOr<lockpb::CommandResult> Core::Propose(lockpb::Command cmd,
                                                    absl::Time deadline) {
  absl::Status lead = RequireLeader();
  if (!lead.ok()) return lead;
  if (cmd.request_id() == 0) cmd.set_request_id(NextRequestId());
  cmd.set_leader_time_unix_ms(absl::ToUnixMillis(clock_->Now()));
  absl::StatusOr<std::string> raw =
      node_->Propose(cmd.SerializeAsString(), deadline);
  if (!raw.ok()) {
    if (absl::IsDeadlineExceeded(raw.status())) {
      return absl::DeadlineExceededError(
          absl::StrCat("outcome unknown: ", raw.status().message()));
    }
    return raw.status();
  }
  absl::StatusOr<CommandOutcome> out = DecodeOutcome(*raw);
  if (!out.ok()) return out.status();
  if (!out->status.ok()) return out->status;
  return std::move(out->result);
}

absl::Status Core::ReadBarrier(bool serializable, absl::Time deadline) {
  if (serializable) return absl::OkStatus();
  return node_->ReadBarrier(deadline);
}

absl::Time Core::Deadline(const grpc::ServerContext* ctx) const {
  absl::Time def = clock_->Now() + opts_.default_timeout;
  auto d = ctx->deadline();
  if (d == std::chrono::system_clock::time_point::max()) return def;
  absl::Time client = absl::FromChrono(d);
  return std::min(def, client);
}

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

}  // namespace berth::lockd
