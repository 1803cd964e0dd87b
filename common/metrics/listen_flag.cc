#include "common/metrics/listen_flag.h"

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace berth::metrics {

absl::StatusOr<MetricsListen> ParseMetricsListen(
    const std::string& flag, const std::string& daemon_listen, int offset) {
  if (flag.empty() || flag == "off") return MetricsListen{};
  if (flag == "auto") {
    size_t colon = daemon_listen.rfind(':');
    int port = 0;
    if (colon == std::string::npos ||
        !absl::SimpleAtoi(daemon_listen.substr(colon + 1), &port) ||
        port <= 0 || port + offset > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--metrics-listen auto: cannot derive a port from '", daemon_listen,
          "'; give --metrics-listen HOST:PORT or off"));
    }
    return MetricsListen{absl::StrCat("127.0.0.1:", port + offset), false};
  }
  size_t colon = flag.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(flag.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics-listen: '", flag, "' is not HOST:PORT, auto or off"));
  }
  return MetricsListen{flag, true};
}

absl::StatusOr<std::unique_ptr<HttpServer>> ServeMetrics(
    const MetricsListen& listen, const Registry* registry,
    const std::string& who) {
  if (listen.address.empty()) return nullptr;
  absl::StatusOr<std::unique_ptr<HttpServer>> s =
      HttpServer::Start(listen.address, registry);
  if (!s.ok()) {
    if (listen.required) return s.status();
    std::cerr << who << ": no metrics endpoint: " << s.status().message()
              << " (set --metrics-listen to choose another address)"
              << std::endl;
    return nullptr;
  }
  std::string host = listen.address.substr(0, listen.address.rfind(':'));
  std::cerr << who << ": metrics on http://" << host << ":" << (*s)->port()
            << "/metrics" << std::endl;
  return s;
}

}  // namespace berth::metrics
