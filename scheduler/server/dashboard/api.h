// The dashboard's HTTP routes: the embedded page (assets.h) and its JSON
// API, read-only, answered from a DashboardSource.
//
//   /                          the page (index.html, app.js, style.css)
//   /api/cluster               this scheduler, the scheduler leader, and
//                              lockd's members, leader and term
//   /api/jobs                  every job with its state and counts
//   /api/jobs/NAME             allocations with health, events, and why
//                              some are unplaced (JobStatusResponse)
//   /api/jobs/NAME/cron        cron history (JobHistoryResponse)
//   /api/nodes                 nodes with capacity and what is allocated
//   /api/allocs/ID/logs        ?tail=N (default 100, at most 1000) and
//                              ?stream=stderr: the end of a task's output
//
// Job routes take ?namespace=NS (default "default"). Protobuf replies are
// the proto3 JSON mapping with every field present (64-bit integers are
// strings, as in proto3 JSON). Errors are {"error": "...", "code": "..."}
// with the HTTP status matching the absl code (404, 400, 503, ...).
//
// Thread safety: as thread-safe as the source.
#ifndef BERTH_SCHEDULER_SERVER_DASHBOARD_API_H_
#define BERTH_SCHEDULER_SERVER_DASHBOARD_API_H_

#include "common/metrics/http_server.h"
#include "scheduler/server/dashboard/source.h"

namespace berth::sched::dashboard {

metrics::HttpResponse HandleRequest(DashboardSource& source,
                                    const metrics::HttpRequest& req);

}  // namespace berth::sched::dashboard

#endif  // BERTH_SCHEDULER_SERVER_DASHBOARD_API_H_
