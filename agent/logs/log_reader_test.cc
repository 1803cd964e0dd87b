#include "agent/logs/log_reader.h"

#include <filesystem>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/logs/log_test_util.h"
#include "agent/logs/rotating_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

using ::testing::HasSubstr;
using testing::kDeadline;

std::string Lines(int from, int to) {  // "line <from>\n" .. "line <to-1>\n"
  std::string s;
  for (int i = from; i < to; ++i) absl::StrAppend(&s, "line ", i, "\n");
  return s;
}

// Byte at logical offset `o` of the concurrent test's stream.
char ByteAt(uint64_t o) { return static_cast<char>((o * 2654435761u) >> 11); }

class LogReaderTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<RotatingFile> Writer(LogLimits limits) {
    auto f = RotatingFile::Open(dir_, LogStream::kStdout, limits);
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? *std::move(f) : nullptr;
  }
  std::unique_ptr<LogReader> Reader() {
    auto r = LogReader::Open(dir_, LogStream::kStdout);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : nullptr;
  }
  std::string dir_;
};

TEST_F(LogReaderTest, TailReadsLastLinesAcrossRotatedFiles) {
  auto w = Writer({.max_bytes = 64, .max_files = 10});
  std::string all = Lines(0, 100);  // ~790 bytes: 10 rotated + live
  ASSERT_TRUE(w->Append(all).ok());
  ASSERT_TRUE(testing::Exists(LogFilePath(dir_, LogStream::kStdout, 10)));
  auto r = Reader();

  absl::StatusOr<LogChunk> t = r->Tail(20);  // spans several files
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->data, Lines(80, 100));
  EXPECT_EQ(t->next_offset, all.size());
  EXPECT_EQ(t->offset, all.size() - Lines(80, 100).size());

  t = r->Tail(0);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->data, "");
  EXPECT_EQ(t->next_offset, all.size());
}

TEST_F(LogReaderTest, TailOfMoreThanIsKeptReturnsEverythingRetained) {
  auto w = Writer({.max_bytes = 64, .max_files = 2});
  std::string all = Lines(0, 100);
  ASSERT_TRUE(w->Append(all).ok());
  auto r = Reader();
  absl::StatusOr<LogChunk> t = r->Tail(1000);
  ASSERT_TRUE(t.ok()) << t.status();
  uint64_t begin = all.size() - all.size() % 64 - 128;
  EXPECT_EQ(t->offset, begin);
  EXPECT_EQ(t->data, all.substr(begin));
}

TEST_F(LogReaderTest, TailCountsAFinalPartialLineAndHonoursMaxBytes) {
  auto w = Writer({.max_bytes = 1000, .max_files = 1});
  ASSERT_TRUE(w->Append("a\nbb\nccc").ok());
  auto r = Reader();
  absl::StatusOr<LogChunk> t = r->Tail(2);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->data, "bb\nccc");
  t = r->Tail(3, /*max_bytes=*/4);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->data, "\nccc");
}

TEST_F(LogReaderTest, EmptyDirectoryReadsAsEmpty) {
  auto r = Reader();
  absl::StatusOr<LogChunk> t = r->Tail(5);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->data, "");
  absl::StatusOr<LogChunk> c = r->Read(0, 100);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->next_offset, 0u);
}

TEST_F(LogReaderTest, ReadReportsRotatedAwayBytesAndRejectsFutureOffsets) {
  auto w = Writer({.max_bytes = 10, .max_files = 1});
  ASSERT_TRUE(w->Append(std::string(35, 'x')).ok());  // keeps [20, 35)
  auto r = Reader();
  absl::StatusOr<LogChunk> c = r->Read(3, 100);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->skipped, 17u);
  EXPECT_EQ(c->offset, 20u);
  EXPECT_EQ(c->data, std::string(15, 'x'));
  EXPECT_EQ(c->next_offset, 35u);

  c = r->Read(36, 100);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(c.status().message(), HasSubstr("past the end (35)"));
}

TEST_F(LogReaderTest, OpenOnMissingDirectoryNamesIt) {
  auto r = LogReader::Open(dir_ + "/nope", LogStream::kStderr);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr(dir_ + "/nope"));
}

TEST_F(LogReaderTest, FollowReturnsEmptyAtDeadline) {
  auto w = Writer({});
  ASSERT_TRUE(w->Append("abc").ok());
  auto r = Reader();
  absl::StatusOr<LogChunk> c = r->Follow(3, 100, absl::Now());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->data, "");
  EXPECT_EQ(c->next_offset, 3u);
}

TEST_F(LogReaderTest, FollowSeesAppendedDataAcrossRotation) {
  auto w = Writer({.max_bytes = 16, .max_files = 4});
  ASSERT_TRUE(w->Append("before\n").ok());
  auto r = Reader();
  absl::StatusOr<LogChunk> t = r->Tail(10);
  ASSERT_TRUE(t.ok());
  std::string expected = Lines(0, 5);  // 35 bytes: crosses two rotations
  std::string got;
  std::thread follower([&] {
    uint64_t at = t->next_offset;
    absl::Time deadline = absl::Now() + kDeadline;
    while (got.size() < expected.size() && absl::Now() < deadline) {
      absl::StatusOr<LogChunk> c = r->Follow(at, 7, deadline);
      if (!c.ok() || c->skipped > 0) return;
      got += c->data;
      at = c->next_offset;
    }
  });
  for (size_t i = 0; i < expected.size(); i += 5) {
    ASSERT_TRUE(w->Append(expected.substr(i, 5)).ok());
  }
  follower.join();
  EXPECT_EQ(got, expected);
}

// A reader racing a writer that rotates constantly must never see bytes out
// of place: every byte it returns sits at its true logical offset, and any
// gap is reported as skipped.
TEST_F(LogReaderTest, ConcurrentRotationNeverMisplacesBytes) {
  constexpr uint64_t kTotal = 2 << 20;
  auto w = Writer({.max_bytes = 4096, .max_files = 3});
  auto r = Reader();
  std::thread writer([&] {
    std::string buf;
    for (uint64_t o = 0; o < kTotal;) {
      uint64_t n = std::min<uint64_t>(1000 + o % 3000, kTotal - o);
      buf.clear();
      for (uint64_t i = o; i < o + n; ++i) buf += ByteAt(i);
      if (!w->Append(buf).ok()) return;
      o += n;
    }
  });
  uint64_t at = 0, checked = 0, skipped = 0, bad = 0;
  absl::Time deadline = absl::Now() + kDeadline;
  while (at < kTotal && absl::Now() < deadline) {
    absl::StatusOr<LogChunk> c = r->Follow(at, 3000, deadline);
    ASSERT_TRUE(c.ok()) << c.status();
    skipped += c->skipped;
    for (size_t i = 0; i < c->data.size(); ++i) {
      if (c->data[i] != ByteAt(c->offset + i)) ++bad;
    }
    checked += c->data.size();
    at = c->next_offset;
  }
  writer.join();
  EXPECT_EQ(at, kTotal);
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(checked + skipped, kTotal);
}

}  // namespace
}  // namespace berth::agent
