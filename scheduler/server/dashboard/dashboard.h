// The scheduler's read-only web dashboard (docs/dashboard.md): --http-listen
// on berth-scheduler, on by default in `berth dev`.
//
//   off (or empty)  no dashboard
//   HOST:PORT       serve it there; failing to bind is an error. Port 0
//                   picks a free port (see Dashboard::port()).
//
// Thread safety: construct and destroy from one thread. Ownership: borrows
// the Scheduler, which must outlive the Dashboard; destroying the
// Dashboard stops its HTTP threads first.
#ifndef BERTH_SCHEDULER_SERVER_DASHBOARD_DASHBOARD_H_
#define BERTH_SCHEDULER_SERVER_DASHBOARD_DASHBOARD_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics/http_server.h"
#include "scheduler/server/dashboard/source.h"
#include "scheduler/server/scheduler.h"

namespace berth::sched {

class Dashboard {
 public:
  // nullptr when `listen` is "off" or empty. `id` is the scheduler's --id.
  static absl::StatusOr<std::unique_ptr<Dashboard>> Start(
      const std::string& listen, Scheduler* scheduler, const std::string& id);
  ~Dashboard();

  int port() const { return http_->port(); }
  // "http://127.0.0.1:7700/"
  std::string url() const { return url_; }

 private:
  Dashboard() = default;

  std::unique_ptr<dashboard::DashboardSource> source_;
  // Declared after the source: destroyed (its threads stopped) first.
  std::unique_ptr<metrics::HttpServer> http_;
  std::string url_;
};

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_SERVER_DASHBOARD_DASHBOARD_H_
