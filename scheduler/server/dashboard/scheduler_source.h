// SchedulerSource: the dashboard's reads answered by a Scheduler: the same
// mirror reads as the gRPC API (scheduler_api.cc), and log tails through
// the same proxy as AllocLogs (logs_proxy.h), without follow.
//
// Every scheduler keeps the mirror, so a standby answers too; the page
// names the leader (Leader()) so an operator knows which one writes.
//
// Thread safety: thread-safe. Ownership: borrows the Scheduler, which must
// outlive it.
#ifndef BERTH_SCHEDULER_SERVER_DASHBOARD_SCHEDULER_SOURCE_H_
#define BERTH_SCHEDULER_SERVER_DASHBOARD_SCHEDULER_SOURCE_H_

#include <string>

#include "absl/time/time.h"
#include "scheduler/server/dashboard/source.h"
#include "scheduler/server/scheduler.h"

namespace berth::sched::dashboard {

class SchedulerSource final : public DashboardSource {
 public:
  SchedulerSource(Scheduler* scheduler, std::string id)
      : s_(scheduler), id_(std::move(id)) {}

  std::string SelfId() override { return id_; }
  schedpb::LeaderResponse Leader() override { return s_->Leader(); }
  absl::StatusOr<schedpb::ListJobsResponse> ListJobs() override {
    return s_->ListJobs("");
  }
  absl::StatusOr<schedpb::JobStatusResponse> JobStatus(
      const std::string& ns, const std::string& job) override {
    return s_->JobStatus(ns, job);
  }
  absl::StatusOr<schedpb::JobHistoryResponse> JobHistory(
      const std::string& ns, const std::string& job) override {
    return s_->JobHistory(ns, job);
  }
  absl::StatusOr<schedpb::ListNodesResponse> ListNodes() override {
    return s_->ListNodes();
  }
  absl::StatusOr<lock::ClusterStatus> LockCluster() override {
    return s_->LockClusterStatus();
  }
  absl::StatusOr<LogTail> Logs(const schedpb::AllocLogsRequest& req) override;

 private:
  Scheduler* const s_;
  const std::string id_;
};

}  // namespace berth::sched::dashboard

#endif  // BERTH_SCHEDULER_SERVER_DASHBOARD_SCHEDULER_SOURCE_H_
