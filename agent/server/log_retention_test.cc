#include "agent/server/log_retention.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace berth::agent {
namespace {

namespace fs = std::filesystem;

class LogRetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "berth-ret-XXXXXX");
    dir_ = mkdtemp(tmpl.data());
  }
  void TearDown() override { fs::remove_all(dir_); }
  void MakeAlloc(const std::string& id) {
    fs::create_directories(fs::path(dir_) / id / "logs");
    fs::create_directories(fs::path(dir_) / id / "sandbox");
    fs::create_directories(fs::path(dir_) / id / "fifo");
    std::ofstream(fs::path(dir_) / id / "logs" / "stdout.log") << "out\n";
  }
  bool Has(const std::string& rel) { return fs::exists(fs::path(dir_) / rel); }
  absl::Time At(int64_t s) { return absl::FromUnixSeconds(1'800'000'000 + s); }
  std::string dir_;
};

TEST_F(LogRetentionTest, ForgettingKeepsOnlyTheLogsUntilTheRetentionPasses) {
  LogRetention r{.keep = absl::Minutes(10), .max_kept = 10};
  MakeAlloc("a");
  ASSERT_TRUE(MarkForgotten(dir_, "a", At(0), r).ok());
  EXPECT_TRUE(Has("a/logs/stdout.log"));
  EXPECT_FALSE(Has("a/sandbox"));
  EXPECT_FALSE(Has("a/fifo"));
  EXPECT_EQ(SweepForgotten(dir_, At(599), r), 0u);
  EXPECT_TRUE(Has("a/logs/stdout.log"));
  EXPECT_EQ(SweepForgotten(dir_, At(601), r), 1u);
  EXPECT_FALSE(Has("a"));
}

TEST_F(LogRetentionTest, KeepsAtMostMaxKeptNewestFirstAndSparesLiveOnes) {
  LogRetention r{.keep = absl::Hours(1), .max_kept = 2};
  for (int i = 0; i < 4; ++i) {
    MakeAlloc("f" + std::to_string(i));
    ASSERT_TRUE(MarkForgotten(dir_, "f" + std::to_string(i), At(i), r).ok());
  }
  MakeAlloc("live");
  MakeAlloc("f0-again");
  ASSERT_TRUE(MarkForgotten(dir_, "f0-again", At(5), r).ok());
  UnmarkForgotten(dir_, "f0-again");  // launched again
  EXPECT_EQ(SweepForgotten(dir_, At(10), r), 2u);
  EXPECT_FALSE(Has("f0"));
  EXPECT_FALSE(Has("f1"));
  EXPECT_TRUE(Has("f2/logs"));
  EXPECT_TRUE(Has("f3/logs"));
  EXPECT_TRUE(Has("live/sandbox"));
  EXPECT_TRUE(Has("f0-again/logs"));
}

TEST_F(LogRetentionTest, ZeroRetentionRemovesEverythingAtOnce) {
  MakeAlloc("a");
  ASSERT_TRUE(
      MarkForgotten(dir_, "a", At(0), {.keep = absl::ZeroDuration()}).ok());
  EXPECT_FALSE(Has("a"));
}

}  // namespace
}  // namespace berth::agent
