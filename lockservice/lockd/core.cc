#include "lockservice/lockd/core.h"

#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/tls/peer.h"
#include "lockservice/lockd/node_authorizer.h"

namespace berth::lockd {

Core::Core(const CoreOptions& opts, Clock* clock, node::RaftNode* node,
           ReplicatedStore* store)
    : opts_(opts),
      clock_(clock),
      node_(node),
      store_(store),
      leader_clock_(clock),
      timers_(clock) {
  // Request ids must not repeat across restarts of this replica, since a
  // lock waiter is matched to its RPC by id.
  std::random_device rd;
  next_request_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  relay_token_ = absl::StrCat(absl::Hex(rd()), absl::Hex(rd()), absl::Hex(rd()),
                              absl::Hex(rd()));
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

namespace {

constexpr char kRelayTokenKey[] = "berth-relay-token";
constexpr char kRelayCallerKey[] = "berth-relay-caller-bin";
constexpr absl::string_view kSep = "\x1f";

std::string Meta(const grpc::ServerContextBase& ctx, absl::string_view key) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

Caller Core::CallerOf(const grpc::ServerContextBase& ctx) const {
  Caller direct;
  std::optional<tls::PeerIdentity> id = tls::PeerIdentityOf(ctx);
  if (id.has_value()) {
    direct.has_certificate = true;
    direct.kind = id->kind;
    direct.name = id->name;
  }
  direct.peer = ctx.peer();
  std::string relayed = Meta(ctx, kRelayCallerKey);
  if (relayed.empty()) return direct;
  // Only this process's etcd adapter (it knows the token) or another
  // replica (its server certificate) may speak for someone else.
  const bool trusted = Meta(ctx, kRelayTokenKey) == relay_token_ ||
                       (direct.has_certificate && direct.kind == "server");
  if (!trusted) return direct;
  std::vector<std::string> parts = absl::StrSplit(relayed, kSep);
  if (parts.size() != 4) return direct;
  Caller c;
  c.has_certificate = parts[0] == "1";
  c.kind = parts[1];
  c.name = parts[2];
  c.peer = parts[3];
  return c;
}

void Core::AddRelayMetadata(const Caller& caller,
                            grpc::ClientContext* cctx) const {
  cctx->AddMetadata(kRelayTokenKey, relay_token_);
  cctx->AddMetadata(
      kRelayCallerKey,
      absl::StrCat(caller.has_certificate ? "1" : "0", kSep, caller.kind, kSep,
                   caller.name, kSep, caller.peer));
}

absl::Status Core::Refused(const Caller& caller, absl::Status st) const {
  if (!st.ok()) {
    fprintf(stderr, "berth-lockd %llu: auth: refused %s: %s\n",
            static_cast<unsigned long long>(opts_.id), caller.Who().c_str(),
            std::string(st.message()).c_str());
  }
  return st;
}

absl::Status Core::Authorize(const grpc::ServerContextBase& ctx,
                             const lockpb::Command& cmd) {
  const Caller caller = CallerOf(ctx);
  std::shared_ptr<const lock::AuthState> auth = store_->auth();
  if (absl::Status s = CheckCommand(*auth, caller, cmd); !s.ok()) {
    return Refused(caller, s);
  }
  if (auth->enabled && cmd.has_lease_revoke() && caller.kind != "agent") {
    // Judged on what the lease holds now; a key attached between this read
    // and the apply goes with the lease (as with the node authorizer).
    const int64_t lease = cmd.lease_revoke().id();
    return Refused(
        caller, store_->Read([&](lock::StateMachine& sm) -> absl::Status {
          absl::StatusOr<lockpb::LeaseTimeToLiveResponse> ttl =
              sm.TimeToLive(lease, /*keys=*/true);
          if (!ttl.ok()) return ttl.status();
          absl::StatusOr<std::vector<std::string>> locks =
              sm.LockNamesOfLease(lease);
          if (!locks.ok()) return locks.status();
          return CheckLeaseRevoke(
              *auth, caller, lease,
              std::vector<std::string>(ttl->keys().begin(), ttl->keys().end()),
              *locks);
        }));
  }
  if (!caller.has_certificate || caller.kind != "agent") {
    return absl::OkStatus();
  }
  return store_->Read([&](lock::StateMachine& sm) {
    return AuthorizeAgentCommand(caller.name, cmd, sm);
  });
}

absl::Status Core::AuthorizeKeys(const grpc::ServerContextBase& ctx,
                                 uint32_t need, absl::string_view what,
                                 absl::string_view key,
                                 absl::string_view range_end) {
  std::shared_ptr<const lock::AuthState> auth = store_->auth();
  if (!auth->enabled) return absl::OkStatus();
  const Caller caller = CallerOf(ctx);
  return Refused(caller, CheckKeys(*auth, caller, need, what, key, range_end));
}

absl::Status Core::AuthorizeCaller(const grpc::ServerContextBase& ctx) {
  std::shared_ptr<const lock::AuthState> auth = store_->auth();
  if (!auth->enabled) return absl::OkStatus();
  const Caller caller = CallerOf(ctx);
  return Refused(caller, CheckAuthenticated(*auth, caller));
}

absl::Status Core::AuthorizeClusterAdmin(const grpc::ServerContextBase& ctx,
                                         absl::string_view what) {
  const Caller caller = CallerOf(ctx);
  if (caller.has_certificate && caller.kind == "agent") {
    return DenyAgent(ctx, what);
  }
  return Refused(caller, CheckClusterAdmin(*store_->auth(), caller, what));
}

absl::Status Core::AuthorizeAuthAdmin(const grpc::ServerContextBase& ctx,
                                      absl::string_view what) {
  const Caller caller = CallerOf(ctx);
  return Refused(caller, CheckAuthAdmin(*store_->auth(), caller, what));
}

int64_t Core::LeaderTimeMs(uint64_t term) {
  return leader_clock_.NowMs(term, [this] {
    return store_->Read([](lock::StateMachine& sm) { return sm.now_ms(); });
  });
}

int64_t Core::ToLeaderTimeMs(absl::Time wall) {
  const absl::Duration left = wall - clock_->Now();
  return LeaderTimeMs(node_->GetStatus().term) +
         absl::ToInt64Milliseconds(left);
}

namespace {

absl::StatusOr<lockpb::CommandResult> ToCommandResult(
    absl::StatusOr<std::string> raw) {
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

}  // namespace

absl::StatusOr<std::string> Core::PrepareCommand(lockpb::Command& cmd) {
  const node::NodeStatus s = node_->GetStatus();
  if (s.role != raft::Role::kLeader) {
    absl::Status lead = RequireLeader();
    // Elected between the two looks: the term is not the one read above.
    return lead.ok() ? absl::UnavailableError("leadership changed; retry")
                     : lead;
  }
  if (cmd.request_id() == 0) cmd.set_request_id(NextRequestId());
  cmd.set_leader_time_unix_ms(LeaderTimeMs(s.term));
  return cmd.SerializeAsString();
}

absl::StatusOr<lockpb::CommandResult> Core::Propose(lockpb::Command cmd,
                                                    absl::Time deadline) {
  absl::StatusOr<std::string> bytes = PrepareCommand(cmd);
  if (!bytes.ok()) return bytes.status();
  absl::Time start = Started();
  absl::StatusOr<std::string> raw = node_->Propose(std::move(*bytes), deadline);
  Finished(start, raw.ok());
  return ToCommandResult(std::move(raw));
}

absl::Time Core::Started() {
  if (pending_metric_ == nullptr) return absl::InfinitePast();
  pending_metric_->Inc();
  return clock_->Monotonic();
}

void Core::Finished(absl::Time start, bool applied) {
  if (pending_metric_ == nullptr) return;
  pending_metric_->Dec();
  if (applied) duration_metric_->ObserveDuration(clock_->Monotonic() - start);
}

uint64_t Core::ProposeAsync(lockpb::Command cmd, absl::Time deadline,
                            CommandDone done) {
  absl::StatusOr<std::string> bytes = PrepareCommand(cmd);
  if (!bytes.ok()) {
    std::move(done)(bytes.status());
    return 0;
  }
  absl::Time start = Started();
  return node_->ProposeAsync(std::move(*bytes), deadline,
                             [this, start, done = std::move(done)](
                                 absl::StatusOr<std::string> raw) mutable {
                               Finished(start, raw.ok());
                               std::move(done)(ToCommandResult(std::move(raw)));
                             });
}

uint64_t Core::ReadBarrierAsync(bool serializable, absl::Time deadline,
                                node::ReadDone done) {
  if (serializable) {
    std::move(done)(absl::OkStatus());
    return 0;
  }
  return node_->ReadBarrierAsync(deadline, std::move(done));
}

void Core::Cancel(uint64_t ticket) {
  if (ticket == 0) return;
  node_->Cancel(
      ticket, absl::CancelledError(
                  "the client cancelled the call (a write may still commit)"));
}

absl::Status Core::ReadBarrier(bool serializable, absl::Time deadline) {
  if (serializable) return absl::OkStatus();
  return node_->ReadBarrier(deadline);
}

absl::Time Core::Deadline(const grpc::ServerContextBase* ctx) const {
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
