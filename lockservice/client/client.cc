#include "lockservice/client/client.h"

#include <utility>

#include "lockservice/client/internal/convert.h"
#include "lockservice/client/internal/endpoints.h"
#include "lockservice/client/internal/keepalive_mux.h"
#include "lockservice/client/internal/router.h"
#include "lockservice/client/internal/watch_mux.h"
#include "lockservice/client/kv.h"

namespace berth::lock {

using internal::Idempotency;
using internal::Stubs;

absl::StatusOr<std::vector<std::string>> ParseEndpoints(
    absl::string_view spec) {
  return internal::ParseEndpointList(spec);
}

bool IsOutcomeUnknown(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnknown &&
         status.GetPayload(internal::kOutcomeUnknownPayload).has_value();
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(
    std::vector<std::string> endpoints, ClientOptions options) {
  std::vector<std::string> valid;
  for (const std::string& e : endpoints) {
    absl::StatusOr<std::string> ep = internal::ValidateEndpoint(e);
    if (!ep.ok()) return ep.status();
    if (std::find(valid.begin(), valid.end(), *ep) == valid.end()) {
      valid.push_back(*std::move(ep));
    }
  }
  if (valid.empty()) {
    return absl::InvalidArgumentError("no lockd endpoints given");
  }
  auto router = std::make_unique<internal::Router>(std::move(valid), options);
  if (options.discover_leader) {
    // Best effort: a cluster that is down now may be up by the first call.
    router->DiscoverLeader(absl::Now() + options.dial_timeout).IgnoreError();
  }
  return std::unique_ptr<Client>(new Client(std::move(router)));
}

Client::Client(std::unique_ptr<internal::Router> router)
    : router_(std::move(router)),
      kv_(std::make_unique<KV>(router_.get())),
      watch_mux_(std::make_unique<internal::WatchMux>(router_.get())),
      keepalive_mux_(std::make_unique<internal::KeepAliveMux>(
          router_.get(), router_->clock())) {}

Clock* Client::clock() const { return router_->clock(); }

Client::~Client() = default;

std::string Client::leader() const { return router_->leader(); }

absl::StatusOr<LeaseGrant> Client::GrantLease(absl::Duration ttl, int64_t id) {
  if (ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lease TTL must be positive, got ", absl::FormatDuration(ttl)));
  }
  lockpb::LeaseGrantRequest req;
  req.set_ttl(absl::ToInt64Seconds(absl::Ceil(ttl, absl::Seconds(1))));
  req.set_id(id);
  auto resp = router_->Call<lockpb::LeaseGrantResponse>(
      "lease grant", Idempotency::kNonIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::LeaseGrantResponse* out) {
        return s.lease->LeaseGrant(ctx, req, out);
      });
  if (!resp.ok()) return resp.status();
  return LeaseGrant{resp->id(), resp->ttl()};
}

absl::Status Client::RevokeLease(int64_t id) {
  lockpb::LeaseRevokeRequest req;
  req.set_id(id);
  return router_
      ->Call<lockpb::LeaseRevokeResponse>(
          "lease revoke", Idempotency::kNonIdempotent,
          [&](Stubs& s, grpc::ClientContext* ctx,
              lockpb::LeaseRevokeResponse* out) {
            return s.lease->LeaseRevoke(ctx, req, out);
          })
      .status();
}

absl::StatusOr<LeaseInfo> Client::LeaseTimeToLive(int64_t id, bool keys) {
  lockpb::LeaseTimeToLiveRequest req;
  req.set_id(id);
  req.set_keys(keys);
  auto resp = router_->Call<lockpb::LeaseTimeToLiveResponse>(
      "lease ttl", Idempotency::kIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx,
          lockpb::LeaseTimeToLiveResponse* out) {
        return s.lease->LeaseTimeToLive(ctx, req, out);
      });
  if (!resp.ok()) return resp.status();
  LeaseInfo info{resp->id(), resp->ttl(), resp->granted_ttl(), {}};
  for (const std::string& k : resp->keys()) info.keys.push_back(k);
  return info;
}

absl::StatusOr<ClusterStatus> Client::Status() {
  auto resp = router_->Call<lockpb::StatusResponse>(
      "cluster status", Idempotency::kIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::StatusResponse* out) {
        return s.cluster->Status(ctx, lockpb::StatusRequest(), out);
      });
  if (!resp.ok()) return resp.status();
  ClusterStatus st;
  st.cluster_id = resp->header().cluster_id();
  st.member_id = resp->header().member_id();
  st.revision = resp->header().revision();
  st.leader_id = resp->leader_id();
  st.leader_addr = resp->leader_addr();
  st.raft_term = resp->raft_term();
  st.raft_index = resp->raft_index();
  st.applied_index = resp->applied_index();
  st.db_size_bytes = resp->db_size_bytes();
  st.db_size_in_use_bytes = resp->db_size_in_use_bytes();
  st.quota_backend_bytes = resp->quota_backend_bytes();
  st.alarms.assign(resp->alarms().begin(), resp->alarms().end());
  st.compact_revision = resp->compact_revision();
  st.raft_thread_stalls = resp->raft_thread_stalls();
  for (const lockpb::Member& m : resp->members()) {
    st.members.push_back(internal::FromProto(m));
  }
  if (st.leader_id != 0 && !st.leader_addr.empty()) {
    router_->NoteLeader(st.leader_addr);
  }
  return st;
}

absl::StatusOr<std::vector<Member>> Client::MemberList() {
  auto resp = router_->Call<lockpb::MemberListResponse>(
      "member list", Idempotency::kIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::MemberListResponse* out) {
        return s.cluster->MemberList(ctx, lockpb::MemberListRequest(), out);
      });
  if (!resp.ok()) return resp.status();
  std::vector<Member> out;
  for (const lockpb::Member& m : resp->members()) {
    out.push_back(internal::FromProto(m));
  }
  return out;
}

absl::StatusOr<Member> Client::MemberAdd(const std::string& address,
                                         bool is_learner,
                                         const std::string& name) {
  absl::StatusOr<std::string> addr = internal::ValidateEndpoint(address);
  if (!addr.ok()) return addr.status();
  lockpb::MemberAddRequest req;
  req.set_address(*addr);
  req.set_is_learner(is_learner);
  req.set_name(name);
  // A voter is promoted only once it has caught up, which can take longer
  // than an ordinary attempt: give the one attempt the whole call budget.
  internal::CallLimits limits = router_->DefaultLimits();
  limits.attempt_timeout = std::max(limits.attempt_timeout, limits.overall);
  auto resp = router_->Call<lockpb::MemberAddResponse>(
      "member add", Idempotency::kNonIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::MemberAddResponse* out) {
        return s.cluster->MemberAdd(ctx, req, out);
      },
      limits);
  if (!resp.ok()) return resp.status();
  return internal::FromProto(resp->member());
}

absl::StatusOr<std::vector<Member>> Client::MemberRemove(uint64_t id) {
  lockpb::MemberRemoveRequest req;
  req.set_id(id);
  auto resp = router_->Call<lockpb::MemberRemoveResponse>(
      "member remove", Idempotency::kNonIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx,
          lockpb::MemberRemoveResponse* out) {
        return s.cluster->MemberRemove(ctx, req, out);
      });
  if (!resp.ok()) return resp.status();
  std::vector<Member> out;
  for (const lockpb::Member& m : resp->members()) {
    out.push_back(internal::FromProto(m));
  }
  return out;
}

absl::Status Client::TransferLeader(uint64_t target_id) {
  lockpb::TransferLeaderRequest req;
  req.set_target_id(target_id);
  auto resp = router_->Call<lockpb::TransferLeaderResponse>(
      "transfer leader", Idempotency::kNonIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx,
          lockpb::TransferLeaderResponse* out) {
        return s.cluster->TransferLeader(ctx, req, out);
      });
  return resp.status();
}

}  // namespace berth::lock
