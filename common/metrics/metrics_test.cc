#include <cmath>
#include <cstdlib>
#include <limits>
#include <thread>
#include <vector>

#include "common/metrics/registry.h"
#include "common/metrics/text_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::metrics {
namespace {

TEST(TextFormat, SmallRegistryGolden) {
  Registry r;
  r.AddCounter("demo_requests_total", "Requests served.")->Get()->Inc(3);
  Family<Gauge>* temp =
      r.AddGauge("demo_temperature", "Temperature by room.", {"room"});
  temp->With({"kitchen"})->Set(21.5);
  temp->With({"attic"})->Set(-3);
  Histogram* h =
      r.AddHistogram("demo_latency_seconds", "Latency.", {0.1, 1})->Get();
  h->Observe(0.05);
  h->Observe(0.1);  // on the bound: counted in le="0.1"
  h->Observe(0.5);
  h->Observe(7);
  r.AddGaugeFn("demo_up", "Always one.", [] { return 1.0; });

  // Written by hand from the 0.0.4 specification, not from the code.
  EXPECT_EQ(RenderText(r.Collect()),
            "# HELP demo_requests_total Requests served.\n"
            "# TYPE demo_requests_total counter\n"
            "demo_requests_total 3\n"
            "# HELP demo_temperature Temperature by room.\n"
            "# TYPE demo_temperature gauge\n"
            "demo_temperature{room=\"attic\"} -3\n"
            "demo_temperature{room=\"kitchen\"} 21.5\n"
            "# HELP demo_latency_seconds Latency.\n"
            "# TYPE demo_latency_seconds histogram\n"
            "demo_latency_seconds_bucket{le=\"0.1\"} 2\n"
            "demo_latency_seconds_bucket{le=\"1\"} 3\n"
            "demo_latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "demo_latency_seconds_sum 7.65\n"
            "demo_latency_seconds_count 4\n"
            "# HELP demo_up Always one.\n"
            "# TYPE demo_up gauge\n"
            "demo_up 1\n");
}

TEST(TextFormat, LabelledHistogramKeepsItsLabelsBeforeLe) {
  Registry r;
  r.AddHistogram("op_seconds", "Op time.", {1}, {"op"})
      ->With({"put"})
      ->Observe(2);
  EXPECT_EQ(RenderText(r.Collect()),
            "# HELP op_seconds Op time.\n"
            "# TYPE op_seconds histogram\n"
            "op_seconds_bucket{op=\"put\",le=\"1\"} 0\n"
            "op_seconds_bucket{op=\"put\",le=\"+Inf\"} 1\n"
            "op_seconds_sum{op=\"put\"} 2\n"
            "op_seconds_count{op=\"put\"} 1\n");
}

TEST(TextFormat, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(EscapeLabelValue("plain ünïcode"), "plain ünïcode");
  // HELP escapes backslash and newline, not the double quote.
  EXPECT_EQ(EscapeHelp("say \"hi\"\\\nnow"), "say \"hi\"\\\\\\nnow");

  Registry r;
  r.AddGauge("g", "line one\nline two", {"path"})
      ->With({"C:\\tmp\\\"x\"\n"})
      ->Set(1);
  EXPECT_EQ(RenderText(r.Collect()),
            "# HELP g line one\\nline two\n"
            "# TYPE g gauge\n"
            "g{path=\"C:\\\\tmp\\\\\\\"x\\\"\\n\"} 1\n");
}

TEST(TextFormat, Values) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(-7), "-7");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(0.0005), "0.0005");
  // The shortest text that reads back as the same double.
  EXPECT_EQ(FormatValue(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(std::strtod(FormatValue(1.0 / 3).c_str(), nullptr), 1.0 / 3);
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
}

TEST(TextFormat, UntouchedLabelledFamilyHasHelpAndTypeOnly) {
  Registry r;
  r.AddCounter("x_total", "X.", {"kind"});
  EXPECT_EQ(RenderText(r.Collect()),
            "# HELP x_total X.\n# TYPE x_total counter\n");
}

TEST(Histogram, BucketsAreCumulativeAndInfEqualsCount) {
  Histogram h({1, 2, 4});
  for (double v : {0.5, 1.0, 1.5, 3.0, 3.5, 100.0, -1.0}) h.Observe(v);
  Histogram::Snapshot s = h.Take();
  // le=1: 0.5, 1.0, -1.0; le=2: +1.5; le=4: +3.0, 3.5; +Inf: +100.
  EXPECT_THAT(s.cumulative, testing::ElementsAre(3, 4, 6, 7));
  EXPECT_EQ(s.count, 7u);
  EXPECT_DOUBLE_EQ(s.sum, 108.5);
  for (size_t i = 1; i < s.cumulative.size(); ++i) {
    EXPECT_LE(s.cumulative[i - 1], s.cumulative[i]);
  }
}

TEST(Histogram, ConcurrentObserversLoseNothing) {
  Histogram h(LatencyBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 10000; ++i) h.Observe(0.001 * (i % 50) + t);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(h.Take().count, 40000u);
  EXPECT_EQ(h.Take().cumulative.back(), 40000u);
}

TEST(Counter, ConcurrentIncrements) {
  Registry r;
  Counter* c = r.AddCounter("c_total", "C.")->Get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([c] {
      for (int i = 0; i < 10000; ++i) c->Inc();
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(c->value(), 40000u);
}

TEST(Family, SameLabelsSameChild) {
  Registry r;
  Family<Gauge>* f = r.AddGauge("tasks", "Tasks.", {"state"});
  EXPECT_EQ(f->With({"running"}), f->With({"running"}));
  EXPECT_NE(f->With({"running"}), f->With({"dead"}));
}

TEST(Buckets, Exponential) {
  EXPECT_THAT(ExponentialBuckets(1, 2, 4), testing::ElementsAre(1, 2, 4, 8));
  EXPECT_EQ(LatencyBuckets().size(), 16u);
}

TEST(RegistryDeathTest, MisuseAbortsAtRegistration) {
  Registry r;
  r.AddCounter("dup_total", "D.");
  EXPECT_DEATH(r.AddCounter("dup_total", "D."), "added twice");
  EXPECT_DEATH(r.AddGauge("bad-name", "B."), "bad metric name");
  EXPECT_DEATH(r.AddHistogram("h", "H.", {1}, {"le"}), "bad label name");
  EXPECT_DEATH(r.AddGauge("g2", "G.", {"a"})->With({}), "label values");
}

}  // namespace
}  // namespace berth::metrics
