#include "lockservice/node/grpc_transport.h"

#include <chrono>
#include <deque>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/tls/peer.h"
#include "grpcpp/grpcpp.h"

namespace berth::node {

// One peer's outbound queue and the stream it is written to, on gRPC's
// callback API. Whoever finds the stream idle starts the next write: the
// driver thread in Enqueue, or the gRPC thread that finished the previous
// write. A sender thread blocked in a synchronous Write had to be woken for
// every batch, one more thread hand-off (futex wake and context switch) on
// each append's way to a follower, on a put's critical path.
//
// A stream that fails a write is abandoned: the queue is dropped (Raft
// resends after probing), the peer reported unreachable, and the next
// Enqueue from kReconnectPause on opens a new stream. The leader's
// heartbeats make sure that next Enqueue comes.
class PeerSender {
 public:
  PeerSender(uint64_t self, uint64_t peer, std::string address,
             std::function<void(uint64_t)> on_unreachable,
             const std::shared_ptr<grpc::ChannelCredentials>& credentials)
      : self_(self),
        peer_(peer),
        address_(std::move(address)),
        on_unreachable_(std::move(on_unreachable)) {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);
    // Reconnect fast: an election timeout is ~1 s and a peer that comes back
    // should hear from the leader well within it.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    channel_ = grpc::CreateCustomChannel(address_, credentials, args);
    stub_ = raftpb::RaftPeer::NewStub(channel_);
  }

  // Cancels the stream and waits until gRPC is done with it: its callbacks
  // use this object.
  ~PeerSender() {
    Stream* s = nullptr;
    {
      absl::MutexLock l(&mu_);
      stopping_ = true;
      s = DetachLocked();
    }
    if (s != nullptr) {
      s->ctx.TryCancel();
      s->RemoveHold();
    }
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](int* live) { return *live == 0; }, &live_streams_));
  }

  const std::string& address() const { return address_; }

  void Enqueue(std::vector<raftpb::Message> msgs) {
    Stream* start = nullptr;
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
      for (raftpb::Message& m : msgs) {
        const size_t bytes = m.ByteSizeLong();
        if (queued_bytes_ + bytes > kMaxQueuedBytes ||
            queue_.size() >= kMaxQueued) {
          break;  // Dropped: Raft retransmits what matters.
        }
        queued_bytes_ += bytes;
        queue_.push_back(std::move(m));
      }
      if (stream_ == nullptr && Steady::now() >= reconnect_at_) {
        OpenLocked();
      }
      if (stream_ != nullptr && !writing_ && TakeBatchLocked(stream_)) {
        start = stream_;
      }
    }
    if (start != nullptr) start->StartWrite(&start->batch);
  }

 private:
  static constexpr size_t kMaxQueued = 8192;
  static constexpr size_t kMaxQueuedBytes = 256 << 20;
  static constexpr size_t kMaxBatchBytes = 4 << 20;
  using Steady = std::chrono::steady_clock;
  static constexpr Steady::duration kReconnectPause =
      std::chrono::milliseconds(50);

  // One RaftPeer.Send call. Deletes itself in OnDone. A hold, taken at the
  // start and released once (DetachLocked's caller), keeps gRPC from ending
  // it while the driver may still start a write on it.
  class Stream final : public grpc::ClientWriteReactor<raftpb::MessageBatch> {
   public:
    explicit Stream(PeerSender* owner) : owner_(owner) {}
    void OnWriteDone(bool ok) override { owner_->WriteDone(this, ok); }
    void OnDone(const grpc::Status&) override {
      PeerSender* owner = owner_;
      delete this;
      owner->StreamEnded();
    }

    grpc::ClientContext ctx;
    raftpb::SendAck ack;
    raftpb::MessageBatch batch;  // the write in flight

   private:
    PeerSender* const owner_;
  };

  void OpenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    stream_ = new Stream(this);
    ++live_streams_;
    writing_ = false;
    stub_->async()->Send(&stream_->ctx, &stream_->ack, stream_);
    stream_->AddHold();
    stream_->StartCall();
  }

  // Moves up to kMaxBatchBytes of the queue into s->batch; false if the
  // queue is empty. Sets writing_ when it returns true.
  bool TakeBatchLocked(Stream* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (queue_.empty()) return false;
    s->batch.Clear();
    s->batch.set_from(self_);
    size_t bytes = 0;
    while (!queue_.empty() && bytes < kMaxBatchBytes) {
      bytes += queue_.front().ByteSizeLong();
      *s->batch.add_messages() = std::move(queue_.front());
      queue_.pop_front();
    }
    queued_bytes_ = queued_bytes_ > bytes ? queued_bytes_ - bytes : 0;
    writing_ = true;
    return true;
  }

  // Forgets the current stream; the caller releases its hold (outside mu_:
  // gRPC may end the call, and run OnDone, from inside RemoveHold).
  Stream* DetachLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Stream* s = stream_;
    stream_ = nullptr;
    writing_ = false;
    return s;
  }

  void WriteDone(Stream* s, bool ok) {
    bool next = false;
    bool failed = false;
    {
      absl::MutexLock l(&mu_);
      if (s != stream_) return;  // detached (stopping): its hold is gone
      if (ok) {
        writing_ = false;
        next = TakeBatchLocked(s);
      } else {
        DetachLocked();
        failed = !stopping_;
        // Whatever is queued was built for a stream that failed; the
        // leader will resend after probing.
        queue_.clear();
        queued_bytes_ = 0;
        reconnect_at_ = Steady::now() + kReconnectPause;
      }
    }
    if (next) {
      s->StartWrite(&s->batch);
      return;
    }
    if (!ok) {
      s->RemoveHold();
      if (failed) on_unreachable_(peer_);
    }
  }

  void StreamEnded() {
    absl::MutexLock l(&mu_);
    --live_streams_;
  }

  const uint64_t self_;
  const uint64_t peer_;
  const std::string address_;
  const std::function<void(uint64_t)> on_unreachable_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<raftpb::RaftPeer::Stub> stub_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;  // on stream_
  int live_streams_ ABSL_GUARDED_BY(mu_) = 0;  // not yet OnDone
  // Monotonic: a step of the wall clock must not postpone reconnecting.
  Steady::time_point reconnect_at_ ABSL_GUARDED_BY(mu_);
  std::deque<raftpb::Message> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
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
  // One Enqueue per peer, so that a Ready's messages to a peer leave in one
  // write when its stream is idle.
  std::map<uint64_t, std::vector<raftpb::Message>> by_peer;
  for (raftpb::Message& m : msgs) by_peer[m.to()].push_back(std::move(m));
  absl::MutexLock l(&mu_);
  for (auto& [id, batch] : by_peer) {
    auto it = peers_.find(id);
    if (it == peers_.end()) continue;
    it->second->Enqueue(std::move(batch));
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
