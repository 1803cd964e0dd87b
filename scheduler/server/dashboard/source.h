// DashboardSource: everything the web dashboard reads, behind one seam so
// its JSON handlers (api.h) are tested with a fake (api_test.cc). The
// production source is the Scheduler (scheduler_source.h), whose mirror
// answers the same reads as the gRPC API.
//
// Thread safety: implementations must be thread-safe (the HTTP server
// calls them from several threads).
#ifndef BERTH_SCHEDULER_SERVER_DASHBOARD_SOURCE_H_
#define BERTH_SCHEDULER_SERVER_DASHBOARD_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "lockservice/client/client.h"
#include "proto/scheduler.pb.h"

namespace berth::sched::dashboard {

// The end of one allocation's output.
struct LogTail {
  std::string alloc_id;
  std::string node;
  std::string text;        // raw bytes as the task wrote them
  bool truncated = false;  // older output was cut to bound the reply
  std::string notice;      // from the proxy (e.g. bytes rotated away)
};

class DashboardSource {
 public:
  virtual ~DashboardSource() = default;

  // This scheduler's --id.
  virtual std::string SelfId() = 0;
  virtual schedpb::LeaderResponse Leader() = 0;
  virtual absl::StatusOr<schedpb::ListJobsResponse> ListJobs() = 0;
  virtual absl::StatusOr<schedpb::JobStatusResponse> JobStatus(
      const std::string& ns, const std::string& job) = 0;
  virtual absl::StatusOr<schedpb::JobHistoryResponse> JobHistory(
      const std::string& ns, const std::string& job) = 0;
  virtual absl::StatusOr<schedpb::ListNodesResponse> ListNodes() = 0;
  virtual absl::StatusOr<lock::ClusterStatus> LockCluster() = 0;
  // Without follow: the last req.tail_lines() lines of one allocation.
  virtual absl::StatusOr<LogTail> Logs(
      const schedpb::AllocLogsRequest& req) = 0;
};

}  // namespace berth::sched::dashboard

#endif  // BERTH_SCHEDULER_SERVER_DASHBOARD_SOURCE_H_
