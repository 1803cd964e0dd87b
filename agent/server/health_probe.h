// SystemProber: the real health probes.
//   * tcp:  a TCP connect to 127.0.0.1:<port> within the timeout;
//   * http: GET <path> HTTP/1.0 to 127.0.0.1:<port>; a 2xx or 3xx status
//           line is healthy;
//   * exec: runs argv on the host (not inside the task's namespaces or
//           cgroup), with the task's environment and its sandbox as working
//           directory; exit 0 is healthy. The probe is killed (its whole
//           process group) at the timeout.
//
// Thread safety: stateless; Probe may run on several threads at once.
#ifndef BERTH_AGENT_SERVER_HEALTH_PROBE_H_
#define BERTH_AGENT_SERVER_HEALTH_PROBE_H_

#include "agent/server/health_checker.h"

namespace berth::agent {

class SystemProber : public Prober {
 public:
  ProbeResult Probe(const ProbeTarget& target, absl::Duration timeout) override;
};

}  // namespace berth::agent

#endif  // BERTH_AGENT_SERVER_HEALTH_PROBE_H_
