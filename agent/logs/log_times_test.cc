#include "agent/logs/log_times.h"

#include <filesystem>
#include <string>

#include "agent/logs/log_reader.h"
#include "agent/logs/log_test_util.h"
#include "agent/logs/rotating_file.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

constexpr LogStream kOut = LogStream::kStdout;

class LogTimesTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  absl::Time At(int64_t s) { return absl::FromUnixSeconds(1'800'000'000 + s); }
  uint64_t Since(absl::Time t, uint64_t end) {
    absl::StatusOr<uint64_t> o = LogOffsetSince(dir_, kOut, t, end);
    EXPECT_TRUE(o.ok()) << o.status();
    return o.value_or(~0ull);
  }
  std::string dir_;
};

TEST_F(LogTimesTest, SinceStartsAtTheFirstOutputOfThatSecond) {
  auto f = RotatingFile::Open(dir_, kOut, {});
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("early\n", At(0)).ok());  // 0..6
  ASSERT_TRUE((*f)->Append("same second\n", At(0) + absl::Milliseconds(500))
                  .ok());                              // 6..18
  ASSERT_TRUE((*f)->Append("later\n", At(10)).ok());   // 18..24
  ASSERT_TRUE((*f)->Append("latest\n", At(20)).ok());  // 24..31
  EXPECT_EQ(Since(At(-5), 31), 0u);
  EXPECT_EQ(Since(At(5), 31), 18u);
  // Output of the second before may be included, never newer output lost.
  EXPECT_EQ(Since(At(10) + absl::Milliseconds(300), 31), 18u);
  EXPECT_EQ(Since(At(15), 31), 24u);
  EXPECT_EQ(Since(At(30), 31), 31u);  // nothing since: the end
}

TEST_F(LogTimesTest, WithoutAMarksFileEverythingIsShown) {
  EXPECT_EQ(Since(At(0), 100), 0u);
}

TEST_F(LogTimesTest, RotationTrimsMarksOfDataThatIsGone) {
  auto f = RotatingFile::Open(dir_, kOut, {.max_bytes = 100, .max_files = 1});
  ASSERT_TRUE(f.ok());
  // One mark per write (a second apart), far more than the trim bound.
  const int writes = static_cast<int>(kLogTimesTrimBytes / 10);
  for (int i = 0; i < writes; ++i) {
    ASSERT_TRUE((*f)->Append("0123456789", At(i)).ok());
  }
  EXPECT_LE(testing::SizeOf(LogTimesPath(dir_, kOut)),
            kLogTimesTrimBytes + 1024);
  // The kept data (at most two files of 100 bytes) is still dated.
  const uint64_t end = (*f)->end_offset();
  EXPECT_EQ(Since(At(writes - 1), end), end - 10);
  auto reader = LogReader::Open(dir_, kOut);
  ASSERT_TRUE(reader.ok());
  auto chunk = (*reader)->Read(Since(At(writes - 3), end), 1000);
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(chunk->skipped, 0u);
  EXPECT_EQ(chunk->data, "012345678901234567890123456789");
}

}  // namespace
}  // namespace berth::agent
