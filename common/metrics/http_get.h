// HttpGet: a minimal blocking HTTP/1.0 GET over a loopback socket, for the
// tests that scrape a daemon. Not for production use: no redirects, no
// chunked encoding (HTTP/1.0 answers are never chunked), no TLS.
#ifndef BERTH_COMMON_METRICS_HTTP_GET_H_
#define BERTH_COMMON_METRICS_HTTP_GET_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::metrics {

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

// `address` is host:port (IPv4); fails on connect errors or a reply that
// is not HTTP.
absl::StatusOr<HttpReply> HttpGet(const std::string& address,
                                  const std::string& path,
                                  absl::Duration timeout = absl::Seconds(10));

}  // namespace berth::metrics

#endif  // BERTH_COMMON_METRICS_HTTP_GET_H_
