// cron_sim_sweep: runs the cron simulation over many seeds and prints the
// failing ones. Usage: cron_sim_sweep [--seeds N] [--first S] [--hours H]
// [--jobs J]. Exit status 1 if any seed found a violation.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "scheduler/cron/cron_sim.h"

int main(int argc, char** argv) {
  uint64_t seeds = 20, first = 1;
  double hours = 1;
  int jobs = 40;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seeds") == 0) {
      seeds = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--first") == 0) {
      first = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--hours") == 0) {
      hours = std::strtod(argv[i + 1], nullptr);
    } else if (std::strcmp(argv[i], "--jobs") == 0) {
      jobs = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "cron_sim_sweep: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  int failed = 0;
  long long ticks = 0;
  for (uint64_t seed = first; seed < first + seeds; ++seed) {
    berth::cron::sim::SimConfig c;
    c.seed = seed;
    c.jobs = jobs;
    c.duration = absl::Seconds(hours * 3600);
    berth::cron::sim::SimResult r = berth::cron::sim::RunSimulation(c);
    ticks += r.ticks_checked;
    if (!r.violations.empty()) {
      ++failed;
      std::printf("seed %llu FAILED:\n", static_cast<unsigned long long>(seed));
      for (const auto& v : r.violations) std::printf("  %s\n", v.c_str());
    }
  }
  std::printf("%llu seeds, %lld ticks judged, %d failed\n",
              static_cast<unsigned long long>(seeds), ticks, failed);
  return failed == 0 ? 0 : 1;
}
