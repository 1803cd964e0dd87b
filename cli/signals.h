// Signal handling for the long-running commands (lock, elect, watch).
//
// The waiter blocks SIGINT, SIGTERM, SIGCHLD, SIGUSR1 and SIGUSR2 in the
// calling thread; construct it before any other thread starts (before
// connecting to lockd) so that every thread inherits the mask and the
// signals reach only Wait(). SIGUSR1/SIGUSR2 are the process's own wake-ups
// (session lost / background work done).
//
// Thread safety: Notify is async-signal-safe and callable from any thread;
// Wait belongs to the thread that built the waiter.
#ifndef BERTH_CLI_SIGNALS_H_
#define BERTH_CLI_SIGNALS_H_

#include <csignal>
#include <functional>

#include "absl/time/time.h"

namespace berth::cli {

class SignalWaiter {
 public:
  SignalWaiter();
  // Returns the signal that arrived, or 0 after `timeout`.
  int Wait(absl::Duration timeout);
  // Delivers `sig` to this process (wakes Wait).
  static void Notify(int sig);
  // The mask to restore in a forked child before exec.
  const sigset_t& original_mask() const { return original_; }

 private:
  sigset_t set_;
  sigset_t original_;
};

// Runs `work` on its own thread. Returns 0 once it finished, or the signal
// (SIGINT/SIGTERM) that interrupted the wait; the thread is then left
// running (the caller is about to exit).
int RunInterruptible(SignalWaiter& waiter, std::function<void()> work);

}  // namespace berth::cli

#endif  // BERTH_CLI_SIGNALS_H_
