#include "cli/signals.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <thread>

namespace berth::cli {

SignalWaiter::SignalWaiter() {
  sigemptyset(&set_);
  for (int sig : {SIGINT, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2}) {
    sigaddset(&set_, sig);
  }
  pthread_sigmask(SIG_BLOCK, &set_, &original_);
}

int SignalWaiter::Wait(absl::Duration timeout) {
  timespec ts = absl::ToTimespec(timeout);
  while (true) {
    int sig = sigtimedwait(&set_, nullptr, &ts);
    if (sig >= 0) return sig;
    if (errno == EAGAIN) return 0;
    // EINTR: a signal outside the set; keep waiting.
  }
}

void SignalWaiter::Notify(int sig) { kill(getpid(), sig); }

int RunInterruptible(SignalWaiter& waiter, std::function<void()> work) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread t([done, work = std::move(work)] {
    work();
    done->store(true);
    SignalWaiter::Notify(SIGUSR2);
  });
  while (!done->load()) {
    int sig = waiter.Wait(absl::Seconds(1));
    if (sig == SIGINT || sig == SIGTERM) {
      t.detach();
      return sig;
    }
  }
  t.join();
  return 0;
}

}  // namespace berth::cli
