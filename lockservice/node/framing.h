// Proposal framing: every normal entry RaftNode proposes starts with the
// proposer's 8-byte request id, so that the replica that proposed it can hand
// the state machine's result back to the waiting caller. Other replicas ignore
// the id. Empty entries (a new leader's no-op) carry no frame.
#ifndef BERTH_LOCKSERVICE_NODE_FRAMING_H_
#define BERTH_LOCKSERVICE_NODE_FRAMING_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace berth::node {

inline std::string FrameProposal(uint64_t request_id,
                                 std::string_view payload) {
  std::string out(8 + payload.size(), '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(request_id >> (8 * i));
  std::memcpy(out.data() + 8, payload.data(), payload.size());
  return out;
}

inline bool UnframeProposal(std::string_view data, uint64_t* request_id,
                            std::string_view* payload) {
  if (data.size() < 8) return false;
  uint64_t id = 0;
  for (int i = 0; i < 8; ++i) {
    id |= static_cast<uint64_t>(static_cast<unsigned char>(data[i])) << (8 * i);
  }
  *request_id = id;
  *payload = data.substr(8);
  return true;
}

}  // namespace berth::node

#endif  // BERTH_LOCKSERVICE_NODE_FRAMING_H_
