// Cheap size estimate of an entry, used for flow control and message and
// Ready batch limits. Exact protobuf sizes are not needed for these limits and
// computing them for every entry shows up in profiles.
#ifndef BERTH_LOCKSERVICE_RAFT_ENTRY_SIZE_H_
#define BERTH_LOCKSERVICE_RAFT_ENTRY_SIZE_H_

#include <cstdint>

#include "proto/raft.pb.h"

namespace berth::raft {

// Payload plus a fixed allowance for term, index, type and framing.
inline uint64_t EntrySize(const raftpb::Entry& e) {
  return e.data().size() + 24;
}

}  // namespace berth::raft

#endif  // BERTH_LOCKSERVICE_RAFT_ENTRY_SIZE_H_
