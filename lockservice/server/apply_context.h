// ApplyContext: what one Apply call shares between the tables it touches.
//
// A command is applied as one or more atomic "steps" (the command itself,
// then any lock grants it unblocks). Each step that writes a key gets the
// next global revision; a step that writes nothing does not consume one.
//
// Thread safety: none; lives on the applying thread's stack.
#ifndef BERTH_LOCKSERVICE_SERVER_APPLY_CONTEXT_H_
#define BERTH_LOCKSERVICE_SERVER_APPLY_CONTEXT_H_

#include <cstdint>
#include <vector>

#include "proto/lock.pb.h"

namespace berth::lock {

struct ApplyContext {
  // The state machine's clock for this command: max(previous now, leader
  // time of the command).
  int64_t now_ms = 0;
  // Last allocated revision.
  int64_t revision = 0;
  // Events produced so far by this command, in order.
  std::vector<lockpb::Event> events;

  // The revision of the current step, allocated on the first write.
  int64_t WriteRevision() {
    if (!step_open_) {
      ++revision;
      step_open_ = true;
      next_seq_ = 0;
    }
    return revision;
  }
  bool StepWrote() const { return step_open_; }
  // Subsequent writes get a new revision.
  void EndStep() { step_open_ = false; }
  // Ordinal of the next event within the current revision.
  int64_t NextEventSeq() { return next_seq_++; }

 private:
  bool step_open_ = false;
  int64_t next_seq_ = 0;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_APPLY_CONTEXT_H_
