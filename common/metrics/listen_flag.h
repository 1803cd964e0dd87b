// The --metrics-listen flag every berth daemon takes, and starting the
// endpoint it asks for.
//
//   off (or empty)  no endpoint
//   auto            127.0.0.1:<the daemon's own port + offset>; if that port
//                   cannot be bound the daemon warns and runs without one
//                   (a default must never stop a daemon from starting)
//   HOST:PORT       exactly that address; failing to bind it is fatal.
//                   Port 0 picks a free port and logs it.
#ifndef BERTH_COMMON_METRICS_LISTEN_FLAG_H_
#define BERTH_COMMON_METRICS_LISTEN_FLAG_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics/http_server.h"
#include "common/metrics/registry.h"

namespace berth::metrics {

struct MetricsListen {
  std::string address;  // empty = off
  bool required = false;
};

// `daemon_listen` is the daemon's own host:port, from which "auto" takes
// the port.
absl::StatusOr<MetricsListen> ParseMetricsListen(
    const std::string& flag, const std::string& daemon_listen, int offset);

// Starts the endpoint (nullptr when off, or when an "auto" one could not
// bind). `who` prefixes the log lines ("berth-lockd").
absl::StatusOr<std::unique_ptr<HttpServer>> ServeMetrics(
    const MetricsListen& listen, const Registry* registry,
    const std::string& who);

}  // namespace berth::metrics

#endif  // BERTH_COMMON_METRICS_LISTEN_FLAG_H_
