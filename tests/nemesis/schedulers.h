// The berth-scheduler processes under test: real processes, each started
// inside a network namespace of its own (Network hosts after the replicas),
// so that the nemesis can cut one from lockd while the harness, in the root
// namespace, still reaches its API.
//
// Process faults: Kill9 (then Start again), Pause/Resume (SIGSTOP/SIGCONT).
// Leader asks each running, unpaused scheduler whether it leads, the way
// tests/e2e/scheduler_harness.cc does.
//
// Thread safety: none; the nemesis thread owns it (the workloads only read
// the constant Endpoints()).
#ifndef BERTH_TESTS_NEMESIS_SCHEDULERS_H_
#define BERTH_TESTS_NEMESIS_SCHEDULERS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tests/e2e/subprocess.h"
#include "tests/nemesis/network.h"

namespace berth::nemesis {

class Schedulers {
 public:
  // Schedulers 1..count run on Network hosts first_host.., against the
  // lockd replicas `lockd_endpoints`. Borrows `net`.
  Schedulers(Network* net, int first_host, int count, std::string bin,
             std::string work_dir, std::vector<std::string> lockd_endpoints);
  ~Schedulers();

  absl::Status Start(int i);
  void Kill9(int i);
  void Pause(int i);
  void Resume(int i);
  bool Running(int i) const { return procs_.contains(i); }
  // Schedulers that exited on their own (each reported once).
  std::vector<int> Reap();

  int count() const { return count_; }
  int host(int i) const { return first_host_ + i - 1; }
  std::string Endpoint(int i) const;
  // "a:p,b:p" for the CLI's --scheduler.
  std::string EndpointsFlag() const;
  std::string LockdFlag() const;
  std::string LogPath(int i) const;
  // The scheduler that says it leads (1-based), 0 if none does.
  int Leader();

 private:
  Network* net_;
  const int first_host_;
  const int count_;
  const std::string bin_;
  const std::string work_dir_;
  const std::vector<std::string> lockd_;
  std::map<int, std::unique_ptr<e2e::Subprocess>> procs_;
  std::map<int, bool> paused_;
  std::map<int, int> starts_;
};

inline constexpr int kSchedulerPort = 7500;

}  // namespace berth::nemesis

#endif  // BERTH_TESTS_NEMESIS_SCHEDULERS_H_
