// GrpcTransport: sends Raft messages to peers over long-lived gRPC client
// streams (RaftPeer.Send), one sender thread and bounded queue per peer.
// RaftPeerService is the receiving end, registered on the replica's single
// gRPC port next to the client API.
//
// Raft tolerates loss, so a full queue or a broken stream drops messages
// rather than blocking the driver; a broken stream also reports the peer
// unreachable so the leader falls back to probing it.
//
// Thread safety: all methods are thread-safe.
#ifndef BERTH_LOCKSERVICE_NODE_GRPC_TRANSPORT_H_
#define BERTH_LOCKSERVICE_NODE_GRPC_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "grpcpp/security/credentials.h"
#include "lockservice/node/raft_node.h"
#include "proto/raft_peer.grpc.pb.h"

namespace berth::node {

class PeerSender;

class GrpcTransport : public Transport {
 public:
  // `on_unreachable(peer)` is called from sender threads. `credentials`
  // dial the peers (berth::tls::Credentials::channel()).
  GrpcTransport(uint64_t self_id, std::function<void(uint64_t)> on_unreachable,
                std::shared_ptr<grpc::ChannelCredentials> credentials);
  ~GrpcTransport() override;

  void Send(std::vector<raftpb::Message> msgs) override;
  void AddPeer(uint64_t id, const std::string& address) override;
  void RemovePeer(uint64_t id) override;

  // Address book lookups, e.g. to tell clients where the leader is.
  std::string PeerAddress(uint64_t id);

 private:
  const uint64_t self_id_;
  const std::function<void(uint64_t)> on_unreachable_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  absl::Mutex mu_;
  std::map<uint64_t, std::unique_ptr<PeerSender>> peers_ ABSL_GUARDED_BY(mu_);
};

// Receives MessageBatch streams from peers and hands each message to `node`.
//
// Callback API: a batch is handed to the node on the gRPC thread that read
// it off the socket. A synchronous handler blocked in Read() was woken by
// that thread instead, one more thread hand-off (futex wake and context
// switch) on every append and every ack, twice on a put's critical path.
class RaftPeerService final : public raftpb::RaftPeer::CallbackService {
 public:
  explicit RaftPeerService(RaftNode* node) : node_(node) {}
  grpc::ServerReadReactor<raftpb::MessageBatch>* Send(
      grpc::CallbackServerContext* ctx, raftpb::SendAck* ack) override;

 private:
  RaftNode* const node_;  // borrowed
};

}  // namespace berth::node

#endif  // BERTH_LOCKSERVICE_NODE_GRPC_TRANSPORT_H_
