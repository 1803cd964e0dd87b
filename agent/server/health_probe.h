// SystemProber: the real health probes.
//   * tcp:  a TCP connect to 127.0.0.1:<port> within the timeout;
//   * http: GET <path> HTTP/1.0 to 127.0.0.1:<port>; a 2xx or 3xx status
//           line is healthy;
//   * exec: runs argv inside the task through Runtime::Exec, as `berth
//           alloc exec` does (on the linux runtime: in its namespaces and
//           cgroups), with the task's user, environment and sandbox; exit 0
//           is healthy. Without a runtime, or one that cannot exec (sim), it
//           runs argv on the host with the target's env and cwd. The probe
//           is killed at the timeout (on the host: its process group).
//
// Thread safety: stateless; Probe may run on several threads at once.
#ifndef BERTH_AGENT_SERVER_HEALTH_PROBE_H_
#define BERTH_AGENT_SERVER_HEALTH_PROBE_H_

#include "agent/runtime/runtime.h"
#include "agent/server/health_checker.h"

namespace berth::agent {

class SystemProber : public Prober {
 public:
  // `runtime` (may be null) runs exec probes inside tasks; borrowed, it
  // must outlive the prober.
  explicit SystemProber(Runtime* runtime = nullptr) : runtime_(runtime) {}
  ProbeResult Probe(const ProbeTarget& target, absl::Duration timeout) override;

 private:
  Runtime* const runtime_;
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_SERVER_HEALTH_PROBE_H_
