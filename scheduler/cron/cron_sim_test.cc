// Deterministic simulation of the cron engine under failover, lost
// replies, refused fences and clock steps (issue #6, "Done when" 2).
// CI runs a few seeds; BERTH_CRON_SIM_SEEDS=N runs more, and
// BERTH_CRON_SIM_SEED=S replays one. cron_sim_sweep runs large sweeps.
#include "scheduler/cron/cron_sim.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace berth::cron::sim {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

TEST(CronSim, EveryTickExactlyOnceAcrossFailoversAndClockSteps) {
  const uint64_t first = EnvOr("BERTH_CRON_SIM_SEED", 1);
  const uint64_t seeds = std::getenv("BERTH_CRON_SIM_SEED") != nullptr
                             ? 1
                             : EnvOr("BERTH_CRON_SIM_SEEDS", 3);
  int64_t failovers = 0, refused = 0, kills_after_claim = 0;
  for (uint64_t seed = first; seed < first + seeds; ++seed) {
    SimConfig config;
    config.seed = seed;
    SimResult r = RunSimulation(config);
    EXPECT_TRUE(r.violations.empty())
        << "seed " << seed << " (replay: BERTH_CRON_SIM_SEED=" << seed
        << "):\n  " << absl::StrJoin(r.violations, "\n  ");
    // The scenario must have happened, or the checks judged nothing.
    EXPECT_GE(r.ticks_checked, 10000) << "seed " << seed;
    EXPECT_GT(r.claims, 0) << "seed " << seed;
    EXPECT_EQ(r.clock_steps, 2) << "seed " << seed;
    failovers += r.failovers;
    refused += r.refused_old_leader;
    kills_after_claim += r.kills_after_claim;
    std::printf(
        "seed %llu: %lld ticks judged, %lld claims, %lld skipped, %lld "
        "missed records, %lld manual, %lld failovers (%lld right after a "
        "claim), %lld deposed-leader commits refused\n",
        static_cast<unsigned long long>(seed),
        static_cast<long long>(r.ticks_checked),
        static_cast<long long>(r.claims), static_cast<long long>(r.skipped),
        static_cast<long long>(r.missed_records),
        static_cast<long long>(r.manual), static_cast<long long>(r.failovers),
        static_cast<long long>(r.kills_after_claim),
        static_cast<long long>(r.refused_old_leader));
  }
  EXPECT_GT(failovers, 0);
  EXPECT_GT(refused, 0);
  EXPECT_GT(kills_after_claim, 0);
}

// The same seed gives the same history.
TEST(CronSim, SeedReplays) {
  SimConfig config;
  config.seed = 7;
  config.duration = absl::Minutes(20);
  SimResult a = RunSimulation(config);
  SimResult b = RunSimulation(config);
  EXPECT_EQ(a.claims, b.claims);
  EXPECT_EQ(a.skipped, b.skipped);
  EXPECT_EQ(a.failovers, b.failovers);
  EXPECT_EQ(a.ticks_checked, b.ticks_checked);
  EXPECT_EQ(a.violations, b.violations);
}

}  // namespace
}  // namespace berth::cron::sim
