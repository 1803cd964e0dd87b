#include "absl/strings/str_cat.h"
#include "lockservice/lockd/etcd/services.h"
#include "proto/lock.grpc.pb.h"

namespace berth::lockd::etcd {

// The etcd API version berth-lockd speaks; tools print it, some check the
// major.minor.
constexpr char kEtcdVersion[] = "3.4.0";

// Peer URLs are berth's own addresses (replica traffic shares the client
// port there); client URLs are the members' etcd ports.
Status ClusterService::MemberList(ServerContext* ctx,
                                  const etcdserverpb::MemberListRequest* req,
                                  etcdserverpb::MemberListResponse* resp) {
  lockpb::MemberListResponse out;
  auto cctx = b_->ContextFor(ctx);
  Status st = lockpb::Cluster::NewStub(b_->Local())
                  ->MemberList(cctx.get(), lockpb::MemberListRequest(), &out);
  if (!st.ok()) return st;
  ToEtcdHeader(out.header(), resp->mutable_header());
  for (const lockpb::Member& m : out.members()) {
    etcdserverpb::Member* o = resp->add_members();
    o->set_id(m.id());
    o->set_name(m.name());
    o->add_peer_urls(absl::StrCat("http://", m.address()));
    std::string client = b_->EtcdAddressOf(m.address());
    if (!client.empty()) o->add_client_urls(absl::StrCat("http://", client));
    o->set_is_learner(m.is_learner());
  }
  return Status::OK;
}

grpc::Status MaintenanceService::Status(ServerContext* ctx,
                                        const etcdserverpb::StatusRequest* req,
                                        etcdserverpb::StatusResponse* resp) {
  lockpb::StatusResponse out;
  auto cctx = b_->ContextFor(ctx);
  grpc::Status st = lockpb::Cluster::NewStub(b_->Local())
                        ->Status(cctx.get(), lockpb::StatusRequest(), &out);
  if (!st.ok()) return st;
  ToEtcdHeader(out.header(), resp->mutable_header());
  resp->set_version(kEtcdVersion);
  resp->set_db_size(out.db_size_bytes());
  resp->set_db_size_in_use(out.db_size_in_use_bytes());
  resp->set_leader(out.leader_id());
  resp->set_raft_index(out.raft_index());
  resp->set_raft_term(out.raft_term());
  resp->set_raft_applied_index(out.applied_index());
  for (const std::string& a : out.alarms()) resp->add_errors(a);
  for (const lockpb::Member& m : out.members()) {
    if (m.id() == out.header().member_id())
      resp->set_is_learner(m.is_learner());
  }
  return grpc::Status::OK;
}

}  // namespace berth::lockd::etcd
