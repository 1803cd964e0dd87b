// Lock workload: several berth-nemesis-contender processes (the client
// library's Session + Mutex, and a Txn guarded by the fencing token for
// every write made while holding the lock, to its own key and a shared
// one) fight over one lock. Being processes, they can be frozen inside
// their critical section like a client stuck in a GC pause past its
// session's TTL: the fence must then refuse its writes.
//
// The judge is tests/e2e/lock_history's CheckHistory, run on the merged
// per-contender histories and the keys read back from the store: grant
// tokens strictly increase, stored guarded writes in revision order never
// go back to an older token (no two holders' critical sections interleave
// in the store), each landed inside its token's tenure, and no
// acknowledged write is lost.
//
// Thread safety: none; the main thread owns it (pause/resume come from the
// nemesis thread through Pause/ResumeAll, which take a mutex).
#ifndef BERTH_TESTS_NEMESIS_LOCK_WORKLOAD_H_
#define BERTH_TESTS_NEMESIS_LOCK_WORKLOAD_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "tests/e2e/lock_history.h"
#include "tests/e2e/subprocess.h"

namespace berth::nemesis {

struct LockVerdict {
  e2e::HistoryStats stats;
  std::vector<std::string> violations;
  absl::Status error;  // the check could not run (read-back failed, ...)
};

class LockWorkload {
 public:
  LockWorkload(std::string contender_bin, std::vector<std::string> endpoints,
               std::string work_dir, int contenders)
      : bin_(std::move(contender_bin)),
        endpoints_(std::move(endpoints)),
        work_dir_(std::move(work_dir)),
        contenders_(contenders) {}

  absl::Status Start(int max_seconds);
  // Freezes the contender holding the lock now, else the `pick`th.
  void Pause(uint64_t pick);
  void ResumeAll();
  // SIGTERM; every contender must exit 0. Returns the failures.
  std::vector<std::string> Stop();
  LockVerdict Check();

 private:
  int Holder() const;

  const std::string bin_;
  const std::vector<std::string> endpoints_;
  const std::string work_dir_;
  const int contenders_;
  std::vector<std::string> histories_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<e2e::Subprocess>> procs_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> paused_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::nemesis

#endif  // BERTH_TESTS_NEMESIS_LOCK_WORKLOAD_H_
