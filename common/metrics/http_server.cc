#include "common/metrics/http_server.h"

#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/metrics/text_format.h"

namespace berth::metrics {
namespace {

struct HostPort {
  std::string host;
  std::string port;
};

absl::StatusOr<HostPort> Split(const std::string& address) {
  size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP address '", address, "' is not host:port"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return HostPort{host, absl::StrCat(port)};
}

MHD_Result Reply(MHD_Connection* c, unsigned int code, const std::string& body,
                 const char* content_type) {
  MHD_Response* r = MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (r == nullptr) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  MHD_Result ret = MHD_queue_response(c, code, r);
  MHD_destroy_response(r);
  return ret;
}

MHD_Result AddQueryArg(void* cls, MHD_ValueKind /*kind*/, const char* key,
                       const char* value) {
  auto* query = static_cast<std::map<std::string, std::string>*>(cls);
  (*query)[key] = value != nullptr ? value : "";
  return MHD_YES;
}

MHD_Result Dispatch(void* cls, MHD_Connection* c, const char* url,
                    const char* method, const char* /*version*/,
                    const char* /*upload_data*/, size_t* upload_data_size,
                    void** /*con_cls*/) {
  const auto* handler = static_cast<const HttpHandler*>(cls);
  // A request body (none is expected) would arrive in further calls;
  // discard it.
  if (*upload_data_size != 0) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
      strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
    return Reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
                 "text/plain");
  }
  HttpRequest req;
  req.path = url;
  MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, &AddQueryArg, &req.query);
  HttpResponse resp = (*handler)(req);
  return Reply(c, resp.status, resp.body, resp.content_type.c_str());
}

HttpResponse ServeRegistry(const Registry* registry, const HttpRequest& req) {
  if (req.path == "/metrics") {
    return {MHD_HTTP_OK, kTextContentType, RenderText(registry->Collect())};
  }
  if (req.path == "/healthz") return {MHD_HTTP_OK, "text/plain", "ok\n"};
  return {MHD_HTTP_NOT_FOUND, "text/plain", "not found\n"};
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, const Registry* registry) {
  return Serve(
      address,
      [registry](const HttpRequest& req) {
        return ServeRegistry(registry, req);
      },
      1);
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Serve(
    const std::string& address, HttpHandler handler, int threads) {
  absl::StatusOr<HostPort> hp = Split(address);
  if (!hp.ok()) return hp.status();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(hp->host.c_str(), hp->port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP address '", address, "': ", gai_strerror(rc)));
  }
  sockaddr_storage sa{};
  memcpy(&sa, res->ai_addr, res->ai_addrlen);
  const bool v6 = res->ai_family == AF_INET6;
  freeaddrinfo(res);

  std::unique_ptr<HttpServer> s(new HttpServer(std::move(handler)));
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
  if (v6) flags |= MHD_USE_IPv6;
  s->daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &Dispatch,
      const_cast<HttpHandler*>(&s->handler_), MHD_OPTION_SOCK_ADDR,
      reinterpret_cast<sockaddr*>(&sa), MHD_OPTION_CONNECTION_LIMIT, 32u,
      MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_THREAD_POOL_SIZE,
      static_cast<unsigned int>(std::max(threads, 1)), MHD_OPTION_END);
  if (s->daemon_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve HTTP on ", address,
                     " (address in use, or not this host's?)"));
  }
  const MHD_DaemonInfo* info =
      MHD_get_daemon_info(s->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  s->port_ = info != nullptr ? info->port : 0;
  return s;
}

HttpServer::~HttpServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

}  // namespace berth::metrics
