#include "lockservice/node/grpc_transport.h"

#include <deque>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/monotonic_wait.h"
#include "common/tls/peer.h"
#include "grpcpp/grpcpp.h"

namespace berth::node {

// One peer's outbound queue and the thread that drains it into a stream.
class PeerSender {
 public:
  PeerSender(uint64_t self, uint64_t peer, std::string address,
             std::function<void(uint64_t)> on_unreachable,
             std::shared_ptr<grpc::ChannelCredentials> credentials)
      : self_(self),
        peer_(peer),
        address_(std::move(address)),
        on_unreachable_(std::move(on_unreachable)),
        credentials_(std::move(credentials)) {
    thread_ = std::thread([this] { Run(); });
  }

  ~PeerSender() {
    {
      absl::MutexLock l(&mu_);
      stopping_ = true;
      if (ctx_) ctx_->TryCancel();
    }
    cv_.SignalAll();
    thread_.join();
  }

  const std::string& address() const { return address_; }

  void Enqueue(raftpb::Message m) {
    absl::MutexLock l(&mu_);
    size_t bytes = m.ByteSizeLong();
    if (queued_bytes_ + bytes > kMaxQueuedBytes ||
        queue_.size() >= kMaxQueued) {
      return;  // Dropped: Raft retransmits what matters.
    }
    queued_bytes_ += bytes;
    queue_.push_back(std::move(m));
    cv_.Signal();
  }

 private:
  static constexpr size_t kMaxQueued = 8192;
  static constexpr size_t kMaxQueuedBytes = 256 << 20;
  static constexpr size_t kMaxBatchBytes = 4 << 20;

  void Run() {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);
    // Reconnect fast: an election timeout is ~1 s and a peer that comes back
    // should hear from the leader well within it.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    auto channel = grpc::CreateCustomChannel(address_, credentials_, args);
    auto stub = raftpb::RaftPeer::NewStub(channel);
    while (true) {
      auto ctx = std::make_unique<grpc::ClientContext>();
      raftpb::SendAck ack;
      {
        absl::MutexLock l(&mu_);
        if (stopping_) return;
        ctx_ = ctx.get();
      }
      std::unique_ptr<grpc::ClientWriter<raftpb::MessageBatch>> writer =
          stub->Send(ctx.get(), &ack);
      bool broken = false;
      while (!broken) {
        raftpb::MessageBatch batch;
        batch.set_from(self_);
        {
          absl::MutexLock l(&mu_);
          while (!stopping_ && queue_.empty()) cv_.Wait(&mu_);
          if (stopping_) break;
          size_t bytes = 0;
          while (!queue_.empty() && bytes < kMaxBatchBytes) {
            bytes += queue_.front().ByteSizeLong();
            *batch.add_messages() = std::move(queue_.front());
            queue_.pop_front();
          }
          queued_bytes_ = queued_bytes_ > bytes ? queued_bytes_ - bytes : 0;
        }
        if (!writer->Write(batch)) broken = true;
      }
      writer->WritesDone();
      writer->Finish().IgnoreError();
      {
        absl::MutexLock l(&mu_);
        ctx_ = nullptr;
        if (stopping_) return;
        // Whatever is queued was built for a stream that failed; the leader
        // will resend after probing.
        queue_.clear();
        queued_bytes_ = 0;
      }
      on_unreachable_(peer_);
      // Pace reconnect attempts without a fixed sleep on the hot path.
      absl::MutexLock l(&mu_);
      WaitMonotonic(&cv_, &mu_, absl::Milliseconds(50));
    }
  }

  const uint64_t self_;
  const uint64_t peer_;
  const std::string address_;
  const std::function<void(uint64_t)> on_unreachable_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::deque<raftpb::Message> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

GrpcTransport::GrpcTransport(
    uint64_t self_id, std::function<void(uint64_t)> on_unreachable,
    std::shared_ptr<grpc::ChannelCredentials> credentials)
    : self_id_(self_id),
      on_unreachable_(std::move(on_unreachable)),
      credentials_(std::move(credentials)) {}

GrpcTransport::~GrpcTransport() {
  std::map<uint64_t, std::unique_ptr<PeerSender>> peers;
  {
    absl::MutexLock l(&mu_);
    peers.swap(peers_);
  }
}

void GrpcTransport::Send(std::vector<raftpb::Message> msgs) {
  absl::MutexLock l(&mu_);
  for (raftpb::Message& m : msgs) {
    auto it = peers_.find(m.to());
    if (it == peers_.end()) continue;
    it->second->Enqueue(std::move(m));
  }
}

void GrpcTransport::AddPeer(uint64_t id, const std::string& address) {
  if (id == self_id_) return;
  std::unique_ptr<PeerSender> old;
  absl::MutexLock l(&mu_);
  auto it = peers_.find(id);
  if (it != peers_.end()) {
    if (it->second->address() == address) return;
    old = std::move(it->second);
  }
  peers_[id] = std::make_unique<PeerSender>(self_id_, id, address,
                                            on_unreachable_, credentials_);
}

void GrpcTransport::RemovePeer(uint64_t id) {
  std::unique_ptr<PeerSender> old;
  absl::MutexLock l(&mu_);
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  old = std::move(it->second);
  peers_.erase(it);
}

std::string GrpcTransport::PeerAddress(uint64_t id) {
  absl::MutexLock l(&mu_);
  auto it = peers_.find(id);
  return it == peers_.end() ? std::string() : it->second->address();
}

namespace {

// One peer's inbound stream. Owned by gRPC until OnDone deletes it.
class PeerReceiver final
    : public grpc::ServerReadReactor<raftpb::MessageBatch> {
 public:
  explicit PeerReceiver(RaftNode* node) : node_(node) { StartRead(&batch_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The sender closed the stream (or it broke): nothing to answer.
      Finish(grpc::Status::OK);
      return;
    }
    // Receive only queues for the driver; it never blocks this thread.
    for (raftpb::Message& m : *batch_.mutable_messages()) {
      node_->Receive(std::move(m));
    }
    batch_.Clear();
    StartRead(&batch_);
  }

  void OnDone() override { delete this; }

 private:
  RaftNode* const node_;
  raftpb::MessageBatch batch_;
};

// A stream refused before reading anything.
class RefusedStream final
    : public grpc::ServerReadReactor<raftpb::MessageBatch> {
 public:
  explicit RefusedStream(grpc::Status st) { Finish(std::move(st)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerReadReactor<raftpb::MessageBatch>* RaftPeerService::Send(
    grpc::CallbackServerContext* ctx, raftpb::SendAck* ack) {
  // Clients and peers share the port, and every kind of certificate from
  // the cluster's CA is accepted by the handshake: without this, any
  // agent's or user's key could forge Raft messages (votes, appends).
  std::optional<tls::PeerIdentity> peer = tls::PeerIdentityOf(*ctx);
  if (peer.has_value() && peer->kind != "server") {
    return new RefusedStream(grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("only lockd replicas (certificates of kind server) may "
                     "send Raft messages; this certificate is ",
                     peer->kind.empty() ? "of no kind" : peer->kind, " \"",
                     peer->name, "\"")));
  }
  return new PeerReceiver(node_);
}

}  // namespace berth::node
