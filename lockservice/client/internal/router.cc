#include "lockservice/client/internal/router.h"

namespace berth::lock::internal {

Router::Router(std::vector<std::string> endpoints, const ClientOptions& options)
    : options_(options),
      clock_(options.clock != nullptr ? options.clock : Clock::Real()),
      endpoints_(std::move(endpoints)) {}

Stubs* Router::StubsFor(const std::string& addr) {
  absl::MutexLock l(&mu_);
  std::unique_ptr<Stubs>& slot = stubs_[addr];
  if (slot == nullptr) {
    grpc::ChannelArguments args;
    // Failover speed depends on noticing a replica is back quickly.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    auto s = std::make_unique<Stubs>();
    s->addr = addr;
    s->channel = grpc::CreateCustomChannel(
        addr,
        options_.credentials != nullptr ? options_.credentials
                                        : grpc::InsecureChannelCredentials(),
        args);
    s->kv = lockpb::KV::NewStub(s->channel);
    s->lease = lockpb::Lease::NewStub(s->channel);
    s->watch = lockpb::Watch::NewStub(s->channel);
    s->lock = lockpb::Lock::NewStub(s->channel);
    s->election = lockpb::Election::NewStub(s->channel);
    s->cluster = lockpb::Cluster::NewStub(s->channel);
    s->auth = lockpb::Auth::NewStub(s->channel);
    slot = std::move(s);
  }
  return slot.get();
}

Stubs* Router::Pick() {
  std::string addr;
  {
    absl::MutexLock l(&mu_);
    addr = !leader_.empty() ? leader_ : endpoints_[next_ % endpoints_.size()];
  }
  return StubsFor(addr);
}

void Router::NoteHeader(const lockpb::ResponseHeader& header) {
  {
    absl::MutexLock l(&mu_);
    if (header.raft_term() < max_term_) return;
    max_term_ = header.raft_term();
  }
  if (header.leader_id() != 0 && !header.leader_addr().empty()) {
    NoteLeader(header.leader_addr());
  }
}

uint64_t Router::max_term() const {
  absl::MutexLock l(&mu_);
  return max_term_;
}

void Router::NoteLeader(const std::string& addr) {
  absl::MutexLock l(&mu_);
  leader_ = addr;
  // Members added after Connect become endpoints once we hear of them.
  if (std::find(endpoints_.begin(), endpoints_.end(), addr) ==
      endpoints_.end()) {
    endpoints_.push_back(addr);
  }
}

void Router::NoteFailure(const std::string& addr) {
  absl::MutexLock l(&mu_);
  if (leader_ == addr) leader_.clear();
  if (endpoints_[next_ % endpoints_.size()] == addr) ++next_;
}

std::string Router::leader() const {
  absl::MutexLock l(&mu_);
  return leader_;
}

std::vector<std::string> Router::endpoints() const {
  absl::MutexLock l(&mu_);
  return endpoints_;
}

absl::Status Router::DiscoverLeader(absl::Time deadline) {
  std::string errors;
  for (const std::string& addr : endpoints()) {
    Stubs* stubs = StubsFor(addr);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(
        std::min(deadline, absl::Now() + options_.dial_timeout)));
    lockpb::StatusResponse resp;
    grpc::Status st =
        stubs->cluster->Status(&ctx, lockpb::StatusRequest(), &resp);
    if (st.ok() && resp.leader_id() != 0 && !resp.leader_addr().empty()) {
      NoteLeader(resp.leader_addr());
      return absl::OkStatus();
    }
    absl::StrAppend(&errors, errors.empty() ? "" : "; ", addr, ": ",
                    st.ok() ? "no leader" : st.error_message());
    if (absl::Now() >= deadline) break;
  }
  return absl::UnavailableError(
      absl::StrCat("no lockd replica knows a leader (", errors, ")"));
}

bool Router::EnsureConnected(Stubs& stubs, absl::Time deadline) {
  // Give up at the first failed connection attempt instead of waiting out
  // the dial timeout: a replica that refuses connections (its process died,
  // the usual failover) cannot take the write, and gRPC would only retry it
  // after its reconnect backoff. A host that does not answer at all still
  // costs the full dial timeout.
  const auto until = absl::ToChronoTime(deadline);
  grpc_connectivity_state s = stubs.channel->GetState(/*try_to_connect=*/true);
  while (s != GRPC_CHANNEL_READY) {
    if (s == GRPC_CHANNEL_TRANSIENT_FAILURE || s == GRPC_CHANNEL_SHUTDOWN) {
      return false;
    }
    if (!stubs.channel->WaitForStateChange(s, until)) return false;
    s = stubs.channel->GetState(/*try_to_connect=*/true);
  }
  return true;
}

Backoff Router::NewBackoff() {
  return Backoff(options_.backoff_initial, options_.backoff_max, [this] {
    absl::MutexLock l(&mu_);
    return absl::Uniform<double>(rng_, 0.0, 1.0);
  });
}

}  // namespace berth::lock::internal
