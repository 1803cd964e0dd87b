#include "cli/commands/bench_histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace berth::cli {
namespace {

TEST(LatencyHistogramTest, EmptyReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.Percentile(50), 0);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int64_t v = 0; v < 256; ++v) {
    EXPECT_EQ(LatencyHistogram::BucketOf(v), v);
    EXPECT_EQ(LatencyHistogram::BucketLow(static_cast<int>(v)), v);
    EXPECT_EQ(LatencyHistogram::BucketHigh(static_cast<int>(v)), v);
  }
  for (int64_t v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(50), 50);
  EXPECT_EQ(h.Percentile(99), 99);
  EXPECT_EQ(h.Percentile(100), 100);
  EXPECT_EQ(h.Percentile(0), 1);
  EXPECT_EQ(h.min(), 1);
  EXPECT_EQ(h.max(), 100);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

// Every value lands in a bucket whose bounds contain it, and buckets tile
// the number line without gaps or overlaps.
TEST(LatencyHistogramTest, BucketsTileTheRange) {
  for (int b = 0; b + 1 < LatencyHistogram::BucketCount(); ++b) {
    ASSERT_EQ(LatencyHistogram::BucketHigh(b) + 1,
              LatencyHistogram::BucketLow(b + 1))
        << "bucket " << b;
  }
  const int64_t probes[] = {255,
                            256,
                            257,
                            511,
                            512,
                            1'000'000,
                            123'456'789,
                            int64_t{1} << 40,
                            std::numeric_limits<int64_t>::max()};
  for (int64_t v : probes) {
    int b = LatencyHistogram::BucketOf(v);
    ASSERT_GE(b, 0);
    ASSERT_LT(b, LatencyHistogram::BucketCount());
    EXPECT_LE(LatencyHistogram::BucketLow(b), v) << v;
    EXPECT_GE(LatencyHistogram::BucketHigh(b), v) << v;
  }
  EXPECT_EQ(LatencyHistogram::BucketOf(std::numeric_limits<int64_t>::max()),
            LatencyHistogram::BucketCount() - 1);
}

// Against the exact percentile of a sorted sample: the relative error stays
// under one bucket width (1/128) and never understates.
TEST(LatencyHistogramTest, PercentilesWithinBucketPrecision) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(13.0, 1.5);  // ~0.4ms median in ns
  std::vector<int64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 100'000; ++i) {
    int64_t v = static_cast<int64_t>(dist(rng));
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * values.size()));
    int64_t exact = values[rank - 1];
    int64_t got = h.Percentile(p);
    EXPECT_GE(got, exact) << "p" << p;
    EXPECT_LE(static_cast<double>(got - exact), exact / 128.0 + 1) << "p" << p;
  }
  EXPECT_EQ(h.Percentile(100), values.back());
  EXPECT_EQ(h.min(), values.front());
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverything) {
  LatencyHistogram a, b, all;
  for (int64_t v = 0; v < 5000; v += 3) {
    ((v % 2) ? a : b).Record(v * 997);
    all.Record(v * 997);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
  for (double p : {0.0, 25.0, 50.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(a.Percentile(p), all.Percentile(p)) << p;
  }
}

TEST(LatencyHistogramTest, MergeIntoEmptyKeepsMin) {
  LatencyHistogram empty, h;
  h.Record(700);
  h.Record(900);
  empty.Merge(h);
  EXPECT_EQ(empty.min(), 700);
  EXPECT_EQ(empty.max(), 900);
}

TEST(LatencyHistogramTest, NegativeValuesCountAsZero) {
  LatencyHistogram h;
  h.Record(-5);
  EXPECT_EQ(h.count(), 1);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.Percentile(50), 0);
}

}  // namespace
}  // namespace berth::cli
