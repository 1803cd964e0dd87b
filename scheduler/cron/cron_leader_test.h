// The fixture the cron engine's unit tests share: a MemStore fenced for
// the scheduler election and a simulated leader (cron_sim.h) that runs the
// engine against it on a simulated clock starting at kT0.
#ifndef BERTH_SCHEDULER_CRON_CRON_LEADER_TEST_H_
#define BERTH_SCHEDULER_CRON_CRON_LEADER_TEST_H_

#include <cstdint>
#include <memory>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "scheduler/cron/cron_sim.h"
#include "scheduler/state/keys.h"
#include "scheduler/state/mem_store.h"

namespace berth::cron {

class CronLeaderTest : public ::testing::Test {
 protected:
  static constexpr int64_t kT0 = 1'700'000'400;  // a multiple of 60 seconds

  void SetUp() override {
    store_.SetFence(sched::kLeaderElection, 1);
    leader_ = std::make_unique<sim::Leader>(&store_, "sched-a", 1);
  }
  // kT0 + s seconds.
  static absl::Time At(double s) {
    return absl::FromUnixSeconds(kT0) + absl::Seconds(s);
  }

  sched::MemStore store_;
  std::unique_ptr<sim::Leader> leader_;
};

}  // namespace berth::cron

#endif  // BERTH_SCHEDULER_CRON_CRON_LEADER_TEST_H_
