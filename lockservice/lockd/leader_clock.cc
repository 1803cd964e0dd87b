#include "lockservice/lockd/leader_clock.h"

#include <algorithm>

namespace berth::lockd {

int64_t LeaderClock::NowLocked() const {
  return anchor_ms_ +
         absl::ToInt64Milliseconds(clock_->Monotonic() - anchor_monotonic_);
}

int64_t LeaderClock::NowMs(uint64_t term,
                           absl::FunctionRef<int64_t()> state_machine_now_ms) {
  {
    absl::MutexLock l(&mu_);
    if (term <= term_) return NowLocked();
  }
  // Read outside mu_: the caller's function may lock the store, and a
  // store callback may stamp a command.
  const int64_t floor_ms = state_machine_now_ms();
  absl::MutexLock l(&mu_);
  if (term > term_) {
    term_ = term;
    anchor_monotonic_ = clock_->Monotonic();
    anchor_ms_ = std::max(absl::ToUnixMillis(clock_->Now()), floor_ms);
  }
  return NowLocked();
}

}  // namespace berth::lockd
