#include "lockservice/raft/raft.h"

#include "lockservice/raft/raft_impl.h"

namespace berth::raft {

const char* RoleName(Role r) {
  switch (r) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "unknown";
}

bool AckAfterPersisted(raftpb::MessageType type) {
  switch (type) {
    case raftpb::MSG_APP_RESP:
    case raftpb::MSG_VOTE_RESP:
    case raftpb::MSG_PRE_VOTE_RESP:
    case raftpb::MSG_SNAP_RESP:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<std::unique_ptr<Raft>> Raft::Create(const Config& config) {
  absl::StatusOr<std::unique_ptr<RaftImpl>> r = RaftImpl::New(config);
  if (!r.ok()) return r.status();
  return std::unique_ptr<Raft>(*std::move(r));
}

}  // namespace berth::raft
