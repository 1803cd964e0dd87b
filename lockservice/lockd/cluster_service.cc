#include "absl/strings/str_cat.h"
#include "lockservice/lockd/node_authorizer.h"
#include "lockservice/lockd/services.h"

namespace berth::lockd {
namespace {

// A command the NOSPACE alarm refuses: its refusal text is the alarm's
// description.
const lockpb::Command& NospaceProbe() {
  static const lockpb::Command* probe = [] {
    auto* c = new lockpb::Command;
    c->mutable_put()->set_key("probe");
    return c;
  }();
  return *probe;
}

}  // namespace

void ClusterService::FillMembers(
    google::protobuf::RepeatedPtrField<lockpb::Member>* out) {
  node::NodeStatus s = core_->node()->GetStatus();
  for (uint64_t id : s.conf_state.voters()) {
    lockpb::Member* m = out->Add();
    m->set_id(id);
    m->set_name(absl::StrCat("lockd-", id));
    m->set_address(core_->AddressOf(id));
  }
  for (uint64_t id : s.conf_state.learners()) {
    lockpb::Member* m = out->Add();
    m->set_id(id);
    m->set_name(absl::StrCat("lockd-", id));
    m->set_address(core_->AddressOf(id));
    m->set_is_learner(true);
  }
}

grpc::Status ClusterService::Status(grpc::ServerContext* ctx,
                                    const lockpb::StatusRequest* req,
                                    lockpb::StatusResponse* resp) {
  node::NodeStatus s = core_->node()->GetStatus();
  resp->set_leader_id(s.leader);
  resp->set_leader_addr(core_->AddressOf(s.leader));
  resp->set_raft_term(s.term);
  resp->set_raft_index(s.commit);
  resp->set_applied_index(s.applied);
  resp->set_raft_thread_stalls(s.stalls);
  resp->set_quota_backend_bytes(quota_backend_bytes_);
  absl::Status st = core_->store()->Read([&](lock::StateMachine& sm) {
    absl::StatusOr<lock::StateMachine::DbSize> size = sm.DatabaseSize();
    if (!size.ok()) return size.status();
    resp->set_db_size_bytes(size->total_bytes);
    resp->set_db_size_in_use_bytes(size->in_use_bytes);
    absl::StatusOr<int64_t> compacted = sm.compact_revision();
    if (!compacted.ok()) return compacted.status();
    resp->set_compact_revision(*compacted);
    if (sm.nospace_alarm().active()) {
      resp->add_alarms(std::string(sm.CheckQuota(NospaceProbe()).message()));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return ToGrpc(st);
  FillMembers(resp->mutable_members());
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status ClusterService::MemberList(grpc::ServerContext* ctx,
                                        const lockpb::MemberListRequest* req,
                                        lockpb::MemberListResponse* resp) {
  FillMembers(resp->mutable_members());
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status ClusterService::MemberAdd(grpc::ServerContext* ctx,
                                       const lockpb::MemberAddRequest* req,
                                       lockpb::MemberAddResponse* resp) {
  if (absl::Status a = core_->AuthorizeClusterAdmin(*ctx, "add a member");
      !a.ok()) {
    return ToGrpc(a);
  }
  if (req->address().empty() || req->address().find(':') == std::string::npos) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "member address must be host:port");
  }
  absl::Status lead = core_->RequireLeader();
  if (!lead.ok()) return ToGrpc(lead);
  node::NodeStatus s = core_->node()->GetStatus();
  // Adding an address that is already a learner promotes that learner (the
  // second step of "add as learner, start it, then add again"); adding a
  // voter's address again is an error rather than a second member.
  for (uint64_t v : s.conf_state.voters()) {
    if (core_->AddressOf(v) == req->address()) {
      return grpc::Status(
          grpc::StatusCode::ALREADY_EXISTS,
          absl::StrCat(req->address(), " is already member ", v, " (a voter)"));
    }
  }
  uint64_t existing_learner = 0;
  for (uint64_t v : s.conf_state.learners()) {
    if (core_->AddressOf(v) == req->address()) existing_learner = v;
  }
  uint64_t id = existing_learner;
  if (id == 0) {
    for (uint64_t v : s.conf_state.voters()) id = std::max(id, v);
    for (uint64_t v : s.conf_state.learners()) id = std::max(id, v);
    for (auto& [mid, addr] : core_->store()->Members()) id = std::max(id, mid);
    ++id;
  }
  absl::Time deadline = core_->Deadline(ctx);
  raftpb::ConfChange cc;
  cc.set_node_id(id);
  cc.set_context(req->address());
  absl::Status st;
  if (existing_learner == 0) {
    // Join as a learner first: it copies the log (or a snapshot) without
    // counting toward quorum, so adding a slow member cannot stall writes.
    cc.set_type(raftpb::CONF_ADD_LEARNER);
    st = core_->node()->ProposeConfChange(cc, deadline);
    if (!st.ok()) return ToGrpc(st);
  }
  if (!req->is_learner()) {
    // Promote once it has caught up to within a small margin of the leader.
    while (true) {
      node::NodeStatus now = core_->node()->GetStatus();
      auto it = now.progress.find(id);
      if (it != now.progress.end() && it->second.match + 100 >= now.commit) {
        break;
      }
      if (absl::Now() >= deadline) {
        return grpc::Status(
            grpc::StatusCode::DEADLINE_EXCEEDED,
            absl::StrCat("member ", id,
                         " was added as a learner but did not "
                         "catch up before the deadline; it stays a learner "
                         "— start it (berth-lockd --join --id ",
                         id, ") and promote it by adding ", req->address(),
                         " again"));
      }
      core_->node()
          ->ReadBarrier(absl::Now() + absl::Milliseconds(100))
          .IgnoreError();
    }
    cc.set_type(raftpb::CONF_ADD_VOTER);
    st = core_->node()->ProposeConfChange(cc, deadline);
    if (!st.ok()) return ToGrpc(st);
  }
  resp->mutable_member()->set_id(id);
  resp->mutable_member()->set_name(absl::StrCat("lockd-", id));
  resp->mutable_member()->set_address(req->address());
  resp->mutable_member()->set_is_learner(req->is_learner());
  FillMembers(resp->mutable_members());
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status ClusterService::MemberRemove(
    grpc::ServerContext* ctx, const lockpb::MemberRemoveRequest* req,
    lockpb::MemberRemoveResponse* resp) {
  if (absl::Status a = core_->AuthorizeClusterAdmin(*ctx, "remove a member");
      !a.ok()) {
    return ToGrpc(a);
  }
  absl::Status lead = core_->RequireLeader();
  if (!lead.ok()) return ToGrpc(lead);
  node::NodeStatus s = core_->node()->GetStatus();
  bool known = false;
  for (uint64_t v : s.conf_state.voters()) known |= v == req->id();
  for (uint64_t v : s.conf_state.learners()) known |= v == req->id();
  if (!known) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no member with id ", req->id()));
  }
  raftpb::ConfChange cc;
  cc.set_type(raftpb::CONF_REMOVE_NODE);
  cc.set_node_id(req->id());
  absl::Status st = core_->node()->ProposeConfChange(cc, core_->Deadline(ctx));
  if (!st.ok()) return ToGrpc(st);
  FillMembers(resp->mutable_members());
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

grpc::Status ClusterService::TransferLeader(
    grpc::ServerContext* ctx, const lockpb::TransferLeaderRequest* req,
    lockpb::TransferLeaderResponse* resp) {
  if (absl::Status a =
          core_->AuthorizeClusterAdmin(*ctx, "transfer leadership");
      !a.ok()) {
    return ToGrpc(a);
  }
  absl::Status lead = core_->RequireLeader();
  if (!lead.ok()) return ToGrpc(lead);
  absl::Status st =
      core_->node()->TransferLeadership(req->target_id(), core_->Deadline(ctx));
  if (!st.ok()) return ToGrpc(st);
  core_->FillHeader(resp->mutable_header());
  return grpc::Status::OK;
}

}  // namespace berth::lockd
