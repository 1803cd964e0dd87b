#include "tests/nemesis/agent_host.h"

#include <signal.h>

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace berth::nemesis {

absl::Status AgentHost::Start() {
  std::error_code ec;
  std::filesystem::create_directories(absl::StrCat(work_dir_, "/agent"), ec);
  // Generous capacity: the cron job runs a task a second with
  // `concurrency: allow`, and placement must never be what stops it.
  auto p = e2e::Subprocess::Start(
      {bin_, "--lock-endpoints", lockd_flag_, "--node-id", kNode, "--listen",
       listen_, "--data-dir", absl::StrCat(work_dir_, "/agent"), "--runtime",
       "process", "--cpu", "64000m", "--memory", "64GiB", "--log-retention-s=0",
       "--stop-tasks-on-exit", "--insecure"},
      absl::StrCat(work_dir_, "/agent"));
  if (!p.ok()) return p.status();
  proc_ = std::move(*p);
  return absl::OkStatus();
}

void AgentHost::Stop() {
  if (!proc_) return;
  proc_->Signal(SIGTERM);
  if (!proc_->Wait(absl::Seconds(30)).has_value()) {
    proc_->Signal(SIGKILL);
    proc_->Wait(absl::Seconds(10));
  }
  proc_.reset();
}

}  // namespace berth::nemesis
