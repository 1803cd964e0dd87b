// ExitNotifier: tells its owner, as soon as it happens, that a task's main
// process has exited, so that the agent reacts to exits instead of polling
// the runtime on a timer.
//
// One thread waits (epoll) on a pidfd per watched task; a pidfd becomes
// readable when its process exits, whether it is our child or an adopted
// task that belongs to init. Each watch fires once and is then dropped.
//
// Thread safety: Watch and Unwatch may be called from any thread; the
// callback runs on the notifier's thread with no lock of the notifier held.
// Ownership: the notifier keeps its own duplicate of each pidfd, so the
// caller may close its copy at any time. Destruction joins the thread: no
// callback runs once the destructor has returned.
#ifndef BERTH_AGENT_RUNTIME_EXIT_NOTIFIER_H_
#define BERTH_AGENT_RUNTIME_EXIT_NOTIFIER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/runtime/proc.h"

namespace berth::agent {

class ExitNotifier {
 public:
  using Callback = std::function<void(const std::string& alloc_id)>;
  static absl::StatusOr<std::unique_ptr<ExitNotifier>> Create(Callback cb);
  ~ExitNotifier();
  ExitNotifier(const ExitNotifier&) = delete;
  ExitNotifier& operator=(const ExitNotifier&) = delete;

  // Calls the callback once `pidfd`'s process has exited (at once if it
  // already has). Replaces an earlier watch of `id`.
  absl::Status Watch(const std::string& id, int pidfd);
  void Unwatch(const std::string& id);

 private:
  ExitNotifier(Callback cb, Fd epoll, Fd wake);
  void Loop();

  const Callback cb_;
  const Fd epoll_;
  const Fd wake_;  // eventfd: ends the thread

  absl::Mutex mu_;
  // Watched pidfds (our duplicates) by alloc id, and ids by epoll token.
  std::map<std::string, std::pair<uint64_t, Fd>> watched_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::string> tokens_ ABSL_GUARDED_BY(mu_);
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;
  std::thread thread_;
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_RUNTIME_EXIT_NOTIFIER_H_
