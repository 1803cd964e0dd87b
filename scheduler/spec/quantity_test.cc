#include "scheduler/spec/quantity.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::sched {
namespace {

using ::testing::HasSubstr;

struct Good {
  const char* text;
  int64_t want;
};

struct Bad {
  const char* text;
  const char* reason;  // substring of the error
};

TEST(CpuTest, AcceptsMillicoresAndCores) {
  const Good kCases[] = {{"250m", 250},  {"1", 1000},    {"1.5", 1500},
                         {"0.125", 125}, {"0m", 0},      {"16", 16000},
                         {"2.0", 2000},  {"1000m", 1000}};
  for (const Good& c : kCases) {
    absl::StatusOr<int64_t> got = ParseCpuMillicores(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(CpuTest, RejectsGarbage) {
  const Bad kCases[] = {{"", "must start with a digit"},
                        {"-1", "must start with a digit"},
                        {"1.5m", "fractional millicores"},
                        {"0.0005", "whole number of millicores"},
                        {"1.", "followed by digits"},
                        {"1.2.3", "unknown unit \".3\""},
                        {"250 m", "unknown unit \" m\""},
                        {"2cores", "unknown unit \"cores\""},
                        {"99999999999999999999", "too large"}};
  for (const Bad& c : kCases) {
    absl::StatusOr<int64_t> got = ParseCpuMillicores(c.text);
    ASSERT_FALSE(got.ok()) << c.text;
    EXPECT_THAT(got.status().message(), HasSubstr(c.reason)) << c.text;
    EXPECT_THAT(got.status().message(), HasSubstr("expected millicores"));
  }
}

TEST(MemoryTest, AcceptsBinaryDecimalAndPlainBytes) {
  const Good kCases[] = {{"128MiB", 128 << 20},
                         {"1GiB", int64_t{1} << 30},
                         {"512Mi", 512 << 20},
                         {"4KiB", 4096},
                         {"2TiB", int64_t{2} << 40},
                         {"1Ti", int64_t{1} << 40},
                         {"1KB", 1000},
                         {"64MB", 64000000},
                         {"3GB", 3000000000},
                         {"1TB", 1000000000000},
                         {"1048576", 1048576},
                         {"100B", 100},
                         {"1.5GiB", (int64_t{3} << 30) / 2},
                         {"0.5KB", 500}};
  for (const Good& c : kCases) {
    absl::StatusOr<int64_t> got = ParseMemoryBytes(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(MemoryTest, RejectsGarbage) {
  const Bad kCases[] = {{"12 MB", "unknown unit \" MB\""},
                        {"1.5.3GiB", "unknown unit \".3GiB\""},
                        {"-5MiB", "must start with a digit"},
                        {"MiB", "must start with a digit"},
                        {"1.0001KB", "whole number of bytes"},
                        {"1mb", "unknown unit \"mb\""},
                        {"1 ", "unknown unit \" \""},
                        {"9999999TiB", "too large"},
                        {"1e9", "unknown unit \"e9\""}};
  for (const Bad& c : kCases) {
    absl::StatusOr<int64_t> got = ParseMemoryBytes(c.text);
    ASSERT_FALSE(got.ok()) << c.text;
    EXPECT_THAT(got.status().message(), HasSubstr(c.reason)) << c.text;
    EXPECT_THAT(got.status().message(), HasSubstr("KiB MiB GiB TiB"));
  }
}

TEST(DurationTest, AcceptsUnitGroups) {
  const Good kCases[] = {{"2s", 2000},      {"500ms", 500},
                         {"10m", 600000},   {"1h30m", 5400000},
                         {"1h", 3600000},   {"1m30s", 90000},
                         {"1s500ms", 1500}, {"0", 0},
                         {"0s", 0},         {"2h0m5s10ms", 7205010}};
  for (const Good& c : kCases) {
    absl::StatusOr<int64_t> got = ParseDurationMs(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(DurationTest, RejectsGarbage) {
  const Bad kCases[] = {{"", "empty duration"},
                        {"5", "missing unit"},
                        {"1.5s", "fractions are not allowed"},
                        {"30m1h", "largest first"},
                        {"1s1s", "largest first"},
                        {"2 s", "unknown unit at \" s\""},
                        {"1d", "unknown unit at \"d\""},
                        {"-1s", "must start with a digit"},
                        {"s", "must start with a digit"},
                        {"99999999999999h", "too large"}};
  for (const Bad& c : kCases) {
    absl::StatusOr<int64_t> got = ParseDurationMs(c.text);
    ASSERT_FALSE(got.ok()) << c.text;
    EXPECT_THAT(got.status().message(), HasSubstr(c.reason)) << c.text;
  }
}

}  // namespace
}  // namespace berth::sched
