#include "agent/logs/rotating_file.h"

#include <filesystem>
#include <string>

#include "agent/logs/log_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

using testing::Exists;
using ::testing::HasSubstr;
using testing::Slurp;

// Byte `i` of the test stream; distinct enough to catch misordering.
std::string Bytes(uint64_t from, uint64_t n) {
  std::string s;
  for (uint64_t i = from; i < from + n; ++i)
    s += static_cast<char>('a' + i % 26);
  return s;
}

class RotatingFileTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(int k = 0) {
    return LogFilePath(dir_, LogStream::kStdout, k);
  }
  std::unique_ptr<RotatingFile> OpenOk(LogLimits limits) {
    auto f = RotatingFile::Open(dir_, LogStream::kStdout, limits);
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? *std::move(f) : nullptr;
  }
  std::string dir_;
};

TEST_F(RotatingFileTest, RotatesAtExactSizeBoundary) {
  auto f = OpenOk({.max_bytes = 10, .max_files = 2});
  ASSERT_TRUE(f->Append(Bytes(0, 9)).ok());
  EXPECT_EQ(Slurp(Path()), Bytes(0, 9));
  EXPECT_FALSE(Exists(Path(1)));

  ASSERT_TRUE(f->Append(Bytes(9, 1)).ok());  // exactly max_bytes
  EXPECT_EQ(Slurp(Path(1)), Bytes(0, 10));
  EXPECT_EQ(Slurp(Path()), "");
  EXPECT_EQ(*ReadLogStart(dir_, LogStream::kStdout), 10u);

  ASSERT_TRUE(f->Append(Bytes(10, 11)).ok());  // one byte past the next one
  EXPECT_EQ(Slurp(Path(2)), Bytes(0, 10));
  EXPECT_EQ(Slurp(Path(1)), Bytes(10, 10));
  EXPECT_EQ(Slurp(Path()), Bytes(20, 1));
  EXPECT_EQ(f->end_offset(), 21u);
}

TEST_F(RotatingFileTest, KeepsOnlyMaxFilesDroppingTheOldest) {
  auto f = OpenOk({.max_bytes = 4, .max_files = 3});
  ASSERT_TRUE(f->Append(Bytes(0, 4 * 7 + 2)).ok());  // one write, 7 rotations
  EXPECT_EQ(Slurp(Path()), Bytes(28, 2));
  EXPECT_EQ(Slurp(Path(1)), Bytes(24, 4));
  EXPECT_EQ(Slurp(Path(2)), Bytes(20, 4));
  EXPECT_EQ(Slurp(Path(3)), Bytes(16, 4));
  EXPECT_FALSE(Exists(Path(4)));
  EXPECT_EQ(*ReadLogStart(dir_, LogStream::kStdout), 28u);
}

TEST_F(RotatingFileTest, ZeroMaxFilesDiscardsAtRotation) {
  auto f = OpenOk({.max_bytes = 5, .max_files = 0});
  ASSERT_TRUE(f->Append(Bytes(0, 12)).ok());
  EXPECT_EQ(Slurp(Path()), Bytes(10, 2));
  EXPECT_FALSE(Exists(Path(1)));
  EXPECT_EQ(f->end_offset(), 12u);
}

TEST_F(RotatingFileTest, ReopenContinuesAndLoweredLimitsApply) {
  {
    auto f = OpenOk({.max_bytes = 10, .max_files = 3});
    ASSERT_TRUE(f->Append(Bytes(0, 37)).ok());  // .3 .2 .1 + 7 live
  }
  auto f = OpenOk({.max_bytes = 10, .max_files = 1});
  EXPECT_EQ(f->end_offset(), 37u);
  EXPECT_FALSE(Exists(Path(2)));
  EXPECT_FALSE(Exists(Path(3)));
  ASSERT_TRUE(f->Append(Bytes(37, 5)).ok());
  EXPECT_EQ(Slurp(Path(1)), Bytes(30, 10));
  EXPECT_EQ(Slurp(Path()), Bytes(40, 2));
}

TEST_F(RotatingFileTest, BadLimitsNameTheField) {
  auto f = RotatingFile::Open(dir_, LogStream::kStdout, {.max_bytes = 0});
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(f.status().message(), HasSubstr("max_bytes"));
  f = RotatingFile::Open(dir_, LogStream::kStdout,
                         {.max_bytes = 1, .max_files = -1});
  EXPECT_THAT(f.status().message(), HasSubstr("max_files"));
}

TEST_F(RotatingFileTest, MissingDirectoryNamesPath) {
  auto f = RotatingFile::Open(dir_ + "/gone", LogStream::kStderr, {});
  EXPECT_FALSE(f.ok());
  EXPECT_THAT(f.status().message(), HasSubstr(dir_ + "/gone/stderr.log"));
}

TEST_F(RotatingFileTest, GarbageStartFileIsDataLoss) {
  { std::ofstream(LogStartPath(dir_, LogStream::kStdout)) << "twelve"; }
  auto f = RotatingFile::Open(dir_, LogStream::kStdout, {});
  EXPECT_EQ(f.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(f.status().message(), HasSubstr("stdout.log.start"));
}

}  // namespace
}  // namespace berth::agent
