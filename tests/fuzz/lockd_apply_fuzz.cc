// lockd's replicated state machine: a sequence of arbitrary entries (each
// piece is the bytes of a Raft entry, so any request of any RPC, decodable
// or not) is applied to a real SQLite state machine. Every entry must be
// answered with a rejection or a result, never a storage failure or a
// crash, and the store revision never goes backwards. State carries over
// between inputs, as it does on a replica. Each input's entries are applied
// in one batch (one SQLite transaction), as the Raft driver applies a
// Ready's committed entries; that is also most of the fuzzer's speed.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "lockservice/server/state_machine.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

berth::lock::StateMachine* Machine() {
  static berth::lock::StateMachine* sm = [] {
    berth::lock::StateMachine::Options o;
    // tmpfs when present: the fuzzer applies millions of entries.
    const std::string dir =
        std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    o.path = dir + "/berth-lockd-fuzz-" + std::to_string(getpid()) + ".db";
    std::filesystem::remove(o.path);
    absl::StatusOr<std::unique_ptr<berth::lock::StateMachine>> m =
        berth::lock::StateMachine::Open(o);
    if (!m.ok()) std::abort();
    return m->release();  // lives for the whole fuzzing process
  }();
  return sm;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  berth::lock::StateMachine* sm = Machine();
  berth::fuzz::Pieces pieces(data, size);
  std::string_view entry;
  if (!sm->BeginBatch().ok()) std::abort();
  while (pieces.Next(&entry)) {
    const int64_t before = sm->revision();
    absl::StatusOr<berth::lock::ApplyResult> r = sm->ApplyEntryData(
        sm->applied_index() + 1, absl::string_view(entry.data(), entry.size()));
    if (!r.ok()) std::abort();  // only a disk failure may end up here
    if (sm->revision() < before) std::abort();
  }
  if (!sm->CommitBatch().ok()) std::abort();
  return 0;
}
