// HttpServer: a small read-only HTTP server (libmicrohttpd). Start serves a
// Registry to Prometheus:
//
//   GET /metrics   the text exposition format (text_format.h)
//   GET /healthz   "ok": the process is up and serving
//   anything else  404 (405 for a method other than GET or HEAD)
//
// Serve answers every GET or HEAD with a caller's handler instead (the
// scheduler's dashboard); other methods get 405.
//
// It binds exactly the address it is given (host:port or [v6]:port; port 0
// picks a free one, see port()). Start uses one internal thread that
// answers every connection in turn, so the Registry's callbacks never run
// concurrently with each other; Serve uses `threads` of them, so the
// handler must be thread-safe when threads > 1.
//
// Thread safety: construct and destroy from one thread. Ownership: borrows
// the Registry, which must outlive the server; owns the handler. Destroying
// the server stops its threads, after which no callback runs.
#ifndef BERTH_COMMON_METRICS_HTTP_SERVER_H_
#define BERTH_COMMON_METRICS_HTTP_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics/registry.h"

struct MHD_Daemon;

namespace berth::metrics {

struct HttpRequest {
  std::string path;                          // without the query string
  std::map<std::string, std::string> query;  // decoded ?k=v arguments
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& address, const Registry* registry);
  static absl::StatusOr<std::unique_ptr<HttpServer>> Serve(
      const std::string& address, HttpHandler handler, int threads = 1);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the chosen one when started on port 0).
  int port() const { return port_; }

 private:
  explicit HttpServer(HttpHandler handler) : handler_(std::move(handler)) {}

  const HttpHandler handler_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
};

}  // namespace berth::metrics

#endif  // BERTH_COMMON_METRICS_HTTP_SERVER_H_
