// HttpServer: serves a Registry to Prometheus over HTTP (libmicrohttpd).
//
//   GET /metrics   the text exposition format (text_format.h)
//   GET /healthz   "ok": the process is up and serving
//   anything else  404 (405 for a method other than GET or HEAD)
//
// It binds exactly the address it is given (host:port or [v6]:port; port 0
// picks a free one, see port()). One internal thread answers every
// connection in turn, so the Registry's callbacks never run concurrently
// with each other.
//
// Thread safety: construct and destroy from one thread. Ownership: borrows
// the Registry, which must outlive the server; destroying the server stops
// its thread, after which no callback runs.
#ifndef BERTH_COMMON_METRICS_HTTP_SERVER_H_
#define BERTH_COMMON_METRICS_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics/registry.h"

struct MHD_Daemon;

namespace berth::metrics {

class HttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& address, const Registry* registry);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the chosen one when started on port 0).
  int port() const { return port_; }

 private:
  explicit HttpServer(const Registry* registry) : registry_(registry) {}

  const Registry* const registry_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
};

}  // namespace berth::metrics

#endif  // BERTH_COMMON_METRICS_HTTP_SERVER_H_
