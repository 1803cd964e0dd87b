// HealthChecker: runs the health probes of running allocations and keeps
// each one's verdict (healthy, since when, last output).
//
// One checker thread serves every allocation: it runs the probes that are
// due one after another (each bounded by its timeout), then waits until the
// next one is due. A slow probe therefore delays the others by at most its
// timeout; nothing spawns a thread per task.
//
// Verdict: an allocation starts unhealthy; one passing probe makes it
// healthy (healthy_since = that probe's wall time), one failing probe makes
// it unhealthy again. Allocations without a health check are not given to
// the checker: the agent treats them as healthy while RUNNING.
//
// Testing: tests do not call Start(); they drive RunDue() with a SimClock
// and a fake Prober, so nothing sleeps.
//
// Thread safety: every method may be called from any thread. The Prober is
// only called from the thread running RunDue(), never under the lock.
// Ownership: owns the Prober; borrows the Clock (must outlive the checker).
#ifndef BERTH_AGENT_SERVER_HEALTH_CHECKER_H_
#define BERTH_AGENT_SERVER_HEALTH_CHECKER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "proto/agent.pb.h"

namespace berth::agent {

// What a probe needs to know about its task.
struct ProbeTarget {
  agentpb::HealthCheck check;
  std::string alloc_id;          // exec: the task to run the probe in
  int port = 0;                  // tcp / http: the resolved host port
  std::vector<std::string> env;  // exec: the task's environment
  std::string cwd;               // exec: the task's sandbox
};

struct ProbeResult {
  bool healthy = false;
  std::string output;  // "connected to 127.0.0.1:8080", "HTTP 503", ...
};

class Prober {
 public:
  virtual ~Prober() = default;
  // Must return within about `timeout`.
  virtual ProbeResult Probe(const ProbeTarget& target,
                            absl::Duration timeout) = 0;
};

struct HealthState {
  bool healthy = false;
  absl::Time healthy_since = absl::InfinitePast();  // wall clock
  std::string output;
  int64_t probes = 0;  // how many probes have finished
};

// Checks a spec's health check against its ports; names the problem
// ("health.tcp_port \"web\" is not in ports"). OK when there is none.
absl::Status ValidateHealthCheck(const agentpb::AllocationSpec& spec);
// The probe target for a validated spec with a health check.
ProbeTarget MakeProbeTarget(const agentpb::AllocationSpec& spec,
                            std::vector<std::string> env, std::string cwd);

class HealthChecker {
 public:
  // `on_change` (may be empty) runs on the probing thread, with no lock of
  // the checker held, after a verdict flipped: the agent reports flips at
  // once instead of finding them on a timer.
  HealthChecker(Clock* clock, std::unique_ptr<Prober> prober,
                std::function<void()> on_change = {});
  ~HealthChecker();  // stops the thread if started
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Runs RunDue() on a background thread until destruction.
  void Start();

  // Starts (or restarts, resetting the verdict) checking `id`; the first
  // probe is due at once.
  void Watch(const std::string& id, ProbeTarget target);
  void Forget(const std::string& id);
  std::optional<HealthState> Get(const std::string& id) const;
  // Ids whose `healthy` flipped since the last call.
  std::set<std::string> TakeChanged();

  // Runs every probe due at the clock's monotonic now; returns when the
  // next one is due (InfiniteFuture when none are watched).
  absl::Time RunDue();

 private:
  struct Entry {
    ProbeTarget target;
    HealthState state;
    absl::Time next_due;
    uint64_t generation = 0;  // tells a result from a replaced Watch apart
  };

  void Loop();

  Clock* const clock_;
  const std::unique_ptr<Prober> prober_;
  const std::function<void()> on_change_;

  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> changed_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_SERVER_HEALTH_CHECKER_H_
