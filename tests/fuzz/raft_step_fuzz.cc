// Raft message handling on one node: arbitrary messages (each piece parsed
// as a raftpb::Message, whatever its sender, term, indexes or entries) are
// stepped into node 1 of a 3-node group, with ticks in between, and every
// Ready is persisted and acknowledged as the driver would. Bad messages
// must be refused or ignored: no crash, and the persisted commit index
// never goes backwards or past the log.
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "lockservice/raft/memory_storage.h"
#include "lockservice/raft/raft.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using berth::raft::MemoryStorage;
using berth::raft::Raft;
using berth::raft::Ready;
namespace raftpb = berth::raftpb;

void Drain(Raft& raft, MemoryStorage& storage) {
  while (raft.HasReady()) {
    Ready rd = raft.GetReady();
    if (!storage
             .Save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries,
                   rd.snapshot ? &*rd.snapshot : nullptr)
             .ok()) {
      return;  // a refused save (e.g. an out-of-order snapshot) ends the run
    }
    if (storage.hard_state().commit() > storage.LastIndex()) std::abort();
    if (!rd.entries.empty()) {
      raft.OnPersisted(rd.entries.back().index(), rd.entries.back().term());
    }
    raft.Advance(rd);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<std::unique_ptr<MemoryStorage>> storage =
      MemoryStorage::Bootstrap({1, 2, 3});
  if (!storage.ok()) std::abort();
  berth::raft::Config c;
  c.id = 1;
  c.storage = storage->get();
  c.seed = 1;
  absl::StatusOr<std::unique_ptr<Raft>> raft = Raft::Create(c);
  if (!raft.ok()) std::abort();
  berth::fuzz::Pieces pieces(data, size);
  std::string_view piece;
  uint64_t commit = 0;
  while (pieces.Next(&piece)) {
    raftpb::Message m;
    if (!piece.empty() && piece[0] == 't') {
      (*raft)->Tick();  // a one-byte "t" piece is a tick
    } else if (m.ParseFromArray(piece.data(), static_cast<int>(piece.size()))) {
      m.set_to(1);
      (*raft)->Step(m).IgnoreError();
    }
    Drain(**raft, **storage);
    const uint64_t now = (*storage)->hard_state().commit();
    if (now < commit) std::abort();  // a commit index never moves back
    commit = now;
  }
  return 0;
}
