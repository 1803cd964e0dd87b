// KV register workload: client threads, each with its own lock::Client
// (the real client library, following the leader as it moves), run random
// put / get / compare-and-swap on a few registers and record every
// operation as the client saw it: invoked, completed (ok or cas-failed),
// or unknown (an error: it may or may not have taken effect). The history
// is judged by the WGL checker of tests/sim, independently of lockd.
//
// Registers rotate every 10 s ("/nem/kv/e<epoch>/k<i>"): an unknown write
// stays a candidate forever in the search, so bounding each key's life
// bounds the checker's work without weakening what it proves.
//
// Thread safety: Start/Stop/Check from one thread; the workers share only
// the mutex-guarded history and the atomic logical clock.
#ifndef BERTH_TESTS_NEMESIS_KV_WORKLOAD_H_
#define BERTH_TESTS_NEMESIS_KV_WORKLOAD_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/sim/history.h"
#include "tests/sim/linearizability.h"

namespace berth::nemesis {

struct KvStats {
  int64_t ops = 0;
  int64_t ok = 0;
  int64_t cas_failed = 0;
  int64_t unknown = 0;
  int64_t keys = 0;
};

class KvWorkload {
 public:
  KvWorkload(std::vector<std::string> endpoints, int clients, uint64_t seed)
      : endpoints_(std::move(endpoints)), clients_(clients), seed_(seed) {}
  ~KvWorkload() { Stop(); }

  void Start();
  void Stop();
  KvStats Stats() const;
  sim::LinearizabilityResult Check() const;

 private:
  void Worker(int client);

  const std::vector<std::string> endpoints_;
  const int clients_;
  const uint64_t seed_;
  absl::Time start_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> clock_{0};
  std::atomic<uint64_t> next_id_{0};
  std::vector<std::thread> threads_;
  mutable absl::Mutex mu_;
  sim::History history_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::nemesis

#endif  // BERTH_TESTS_NEMESIS_KV_WORKLOAD_H_
