#include "scheduler/server/dashboard/dashboard.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "scheduler/server/dashboard/api.h"
#include "scheduler/server/dashboard/scheduler_source.h"

namespace berth::sched {
namespace {

// A log tail waits on an agent for up to seconds; more threads keep the
// rest of the page answering meanwhile.
constexpr int kHttpThreads = 4;

}  // namespace

absl::StatusOr<std::unique_ptr<Dashboard>> Dashboard::Start(
    const std::string& listen, Scheduler* scheduler, const std::string& id) {
  if (listen.empty() || listen == "off") return nullptr;
  std::unique_ptr<Dashboard> d(new Dashboard());
  d->source_ = std::make_unique<dashboard::SchedulerSource>(scheduler, id);
  dashboard::DashboardSource* src = d->source_.get();
  auto http = metrics::HttpServer::Serve(
      listen,
      [src](const metrics::HttpRequest& req) {
        return dashboard::HandleRequest(*src, req);
      },
      kHttpThreads);
  if (!http.ok()) {
    return absl::Status(
        http.status().code(),
        absl::StrCat("--http-listen: ", http.status().message()));
  }
  d->http_ = std::move(*http);
  const std::string host = listen.substr(0, listen.rfind(':'));
  d->url_ = absl::StrCat("http://", host, ":", d->http_->port(), "/");
  return d;
}

Dashboard::~Dashboard() { http_.reset(); }

}  // namespace berth::sched
