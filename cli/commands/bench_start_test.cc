// Unit tests for the pure parts of `berth bench start`; the whole command
// runs in tests/e2e/bench_start_e2e_test.cc.
#include <string>

#include "cli/commands/bench_start_cluster.h"
#include "cli/commands/bench_start_probe.h"
#include "cli/commands/bench_start_run.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/spec/job_spec.h"

namespace berth::cli {
namespace {

TEST(StartJobYaml, ParsesAsANonRetryingBatchJob) {
  auto jobs =
      sched::ParseJobSpecs(StartJobYaml("bs-1-b0", 7, "10m", "16MiB"), "test");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 1u);
  const jobpb::Job& j = jobs->front();
  EXPECT_EQ(j.name(), "bs-1-b0");
  EXPECT_EQ(j.kind(), jobpb::BATCH);
  EXPECT_EQ(j.batch().completions(), 7);
  EXPECT_EQ(j.batch().parallelism(), 7);
  EXPECT_EQ(j.batch().backoff_limit(), 0);
}

TEST(StartJobYaml, BadQuantityIsAnError) {
  auto jobs =
      sched::ParseJobSpecs(StartJobYaml("bs-1-b0", 1, "ten", "16MiB"), "test");
  ASSERT_FALSE(jobs.ok());
  EXPECT_THAT(jobs.status().message(), testing::HasSubstr("cpu"));
}

TEST(ComputePercentiles, NearestRank) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  Percentiles p = ComputePercentiles(v);
  EXPECT_EQ(p.count, 100);
  EXPECT_EQ(p.p50, 50);
  EXPECT_EQ(p.p90, 90);
  EXPECT_EQ(p.p99, 99);
  EXPECT_EQ(p.max, 100);
}

TEST(ComputePercentiles, SmallAndEmptySamples) {
  Percentiles one = ComputePercentiles({3.5});
  EXPECT_EQ(one.p50, 3.5);
  EXPECT_EQ(one.p99, 3.5);
  Percentiles none = ComputePercentiles({});
  EXPECT_EQ(none.count, 0);
  EXPECT_EQ(none.max, 0);
}

TEST(FindBerthBinary, NamesWhatItTried) {
  auto b = FindBerthBinary("berth-lockd", "/nonexistent-bin-dir");
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(),
              testing::HasSubstr("/nonexistent-bin-dir/berth-lockd"));
  EXPECT_THAT(b.status().message(), testing::HasSubstr("--bin-dir"));
}

}  // namespace
}  // namespace berth::cli
