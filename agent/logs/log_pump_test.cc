// LogPump with real pipes and real processes. Waits are on conditions with
// deadlines (WaitDrained, LogReader::Follow); there are no fixed sleeps.
#include "agent/logs/log_pump.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/logs/log_reader.h"
#include "agent/logs/log_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

using ::testing::HasSubstr;
using testing::kDeadline;
using testing::Slurp;

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Starts a child whose stdout and stderr are the task's pipes; it runs
// `body` and exits. The parent's copies of the write ends are closed.
pid_t Spawn(TaskLogFds fds, void (*body)()) {
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds.stdout_fd.get(), 1);
    dup2(fds.stderr_fd.get(), 2);
    body();
    _exit(0);
  }
  return pid;  // `fds` goes out of scope: the parent's ends close
}

// 50 MiB of numbered 10-byte lines ("000000042\n") through a 1 MiB cap.
constexpr uint64_t kLineBytes = 10;
constexpr uint64_t kTotal = 50ull << 20;
constexpr uint64_t kCap = 1 << 20;
constexpr int kKeep = 3;

// Bytes in the stdout log files, from a view no rotation raced: the .start
// sidecar is the same before and after, and each file is counted once.
uint64_t LogBytes(const std::string& dir) {
  while (true) {
    std::string before = Slurp(LogStartPath(dir, LogStream::kStdout));
    std::set<ino_t> seen;
    uint64_t total = 0;
    for (int k = 0; k <= kKeep + 1; ++k) {
      struct stat st;
      if (stat(LogFilePath(dir, LogStream::kStdout, k).c_str(), &st) == 0 &&
          seen.insert(st.st_ino).second) {
        total += static_cast<uint64_t>(st.st_size);
      }
    }
    if (Slurp(LogStartPath(dir, LogStream::kStdout)) == before) return total;
  }
}

class LogPumpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    auto p = LogPump::Create();
    ASSERT_TRUE(p.ok()) << p.status();
    pump_ = *std::move(p);
  }
  void TearDown() override {
    pump_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  std::unique_ptr<LogPump> pump_;
};

TEST_F(LogPumpTest, CopiesBothStreamsUntilWritersClose) {
  std::string task_dir = dir_ + "/a1/logs";  // created by Attach
  auto fds = pump_->Attach("a1", task_dir, {});
  ASSERT_TRUE(fds.ok()) << fds.status();
  ASSERT_TRUE(WriteAll(fds->stdout_fd.get(), "hello\n"));
  ASSERT_TRUE(WriteAll(fds->stderr_fd.get(), "oops\n"));
  *fds = TaskLogFds();  // the task is gone
  ASSERT_TRUE(pump_->WaitDrained("a1", absl::Now() + kDeadline).ok());
  EXPECT_EQ(Slurp(task_dir + "/stdout.log"), "hello\n");
  EXPECT_EQ(Slurp(task_dir + "/stderr.log"), "oops\n");
  absl::StatusOr<LogPumpStats> st = pump_->Stats("a1");
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->drained);
  EXPECT_EQ(st->stdout_bytes, 6u);
  EXPECT_EQ(st->stderr_bytes, 5u);
  EXPECT_EQ(st->dropped_bytes, 0u);
  EXPECT_TRUE(pump_->Detach("a1").ok());
}

TEST_F(LogPumpTest, FifoDrainsWhenTheTaskIsGone) {
  const std::string logs = dir_ + "/a1/logs";
  const std::string fifos = dir_ + "/a1/fifo";
  auto fds = pump_->AttachFifo("a1", logs, fifos, {});
  ASSERT_TRUE(fds.ok()) << fds.status();
  EXPECT_TRUE(std::filesystem::is_fifo(fifos + "/stdout"));
  EXPECT_TRUE(std::filesystem::is_fifo(fifos + "/stderr"));
  ASSERT_TRUE(WriteAll(fds->stdout_fd.get(), "hello\n"));
  ASSERT_TRUE(WriteAll(fds->stderr_fd.get(), "oops\n"));
  *fds = TaskLogFds();
  ASSERT_TRUE(pump_->WaitDrained("a1", absl::Now() + kDeadline).ok());
  EXPECT_EQ(Slurp(logs + "/stdout.log"), "hello\n");
  EXPECT_EQ(Slurp(logs + "/stderr.log"), "oops\n");
  EXPECT_TRUE(pump_->Detach("a1").ok());
}

// The agent crashes (its pump goes away) while the task keeps writing; a
// new pump re-attaches to the FIFOs and nothing is lost.
TEST_F(LogPumpTest, FifoOutputSurvivesAnAgentRestart) {
  const std::string logs = dir_ + "/a1/logs";
  const std::string fifos = dir_ + "/a1/fifo";
  auto fds = pump_->AttachFifo("a1", logs, fifos, {});
  ASSERT_TRUE(fds.ok()) << fds.status();
  ASSERT_TRUE(WriteAll(fds->stdout_fd.get(), "before\n"));
  pump_.reset();
  // No reader but the task's own read-write descriptor: no EPIPE.
  ASSERT_TRUE(WriteAll(fds->stdout_fd.get(), "while-down\n"));

  auto p = LogPump::Create();
  ASSERT_TRUE(p.ok());
  pump_ = *std::move(p);
  ASSERT_TRUE(pump_->Reattach("a1", logs, fifos, {}).ok());
  ASSERT_TRUE(WriteAll(fds->stdout_fd.get(), "after\n"));
  const std::string want = "before\nwhile-down\nafter\n";
  const absl::Time deadline = absl::Now() + kDeadline;
  while (Slurp(logs + "/stdout.log") != want && absl::Now() < deadline) {
    pump_->WaitDrained("a1", absl::Now() + absl::Milliseconds(10))
        .IgnoreError();
  }
  EXPECT_EQ(Slurp(logs + "/stdout.log"), want);
  *fds = TaskLogFds();
  EXPECT_TRUE(pump_->Detach("a1").ok());

  EXPECT_EQ(pump_->Reattach("b2", logs, dir_ + "/none", {}).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(LogPumpTest, DetachStoresWhatIsStillInThePipe) {
  auto fds = pump_->Attach("a1", dir_, {});
  ASSERT_TRUE(fds.ok()) << fds.status();
  std::string data(40000, 'z');  // fits in the pipe: the write never blocks
  ASSERT_TRUE(WriteAll(fds->stdout_fd.get(), data));
  ASSERT_TRUE(pump_->Detach("a1").ok());
  EXPECT_EQ(Slurp(dir_ + "/stdout.log"), data);
  // The pump closed its read end: a writer still alive learns it.
  signal(SIGPIPE, SIG_IGN);
  EXPECT_EQ(write(fds->stdout_fd.get(), "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
}

TEST_F(LogPumpTest, ApiErrorsAreClear) {
  auto fds = pump_->Attach("a1", dir_, {});
  ASSERT_TRUE(fds.ok());
  auto again = pump_->Attach("a1", dir_ + "/other", {});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("a1"));
  EXPECT_EQ(pump_->Detach("b2").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(pump_->WaitDrained("b2", absl::Now()).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(pump_->Attach("c3", dir_ + "/c3", {.max_bytes = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pump_->Attach("", dir_, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Still open: the deadline passes with an error, not a hang.
  EXPECT_EQ(pump_->WaitDrained("a1", absl::Now()).code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST_F(LogPumpTest, PipeClosesWhenTheWriterIsKilled) {
  auto fds = pump_->Attach("victim", dir_, {});
  ASSERT_TRUE(fds.ok()) << fds.status();
  pid_t pid = Spawn(*std::move(fds), [] {
    WriteAll(1, "started\n");
    WriteAll(2, "warming up\n");
    pause();  // until SIGKILL
  });
  ASSERT_GT(pid, 0);
  auto reader = LogReader::Open(dir_, LogStream::kStdout);
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<LogChunk> c =
      (*reader)->Follow(0, 100, absl::Now() + kDeadline);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->data, "started\n");
  // The child writes stderr after stdout: wait for both before the kill,
  // or SIGKILL can land between the two writes.
  auto err_reader = LogReader::Open(dir_, LogStream::kStderr);
  ASSERT_TRUE(err_reader.ok());
  absl::StatusOr<LogChunk> e =
      (*err_reader)->Follow(0, 100, absl::Now() + kDeadline);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->data, "warming up\n");
  EXPECT_EQ(pump_->WaitDrained("victim", absl::Now()).code(),
            absl::StatusCode::kDeadlineExceeded);

  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  ASSERT_TRUE(pump_->WaitDrained("victim", absl::Now() + kDeadline).ok());
  EXPECT_EQ(Slurp(dir_ + "/stderr.log"), "warming up\n");
}

void WriteFiftyMegabytes() {
  std::string buf;
  for (uint64_t line = 0; line < kTotal / kLineBytes;) {
    buf.clear();
    for (int i = 0; i < 6553 && line < kTotal / kLineBytes; ++i, ++line) {
      absl::StrAppendFormat(&buf, "%09d\n", line);
    }
    if (!WriteAll(1, buf)) _exit(1);
  }
}

TEST_F(LogPumpTest, FastWriterThroughSmallCapKeepsDiskBounded) {
  static_assert(kTotal % kLineBytes == 0);
  auto fds =
      pump_->Attach("fast", dir_, {.max_bytes = kCap, .max_files = kKeep});
  ASSERT_TRUE(fds.ok()) << fds.status();
  pid_t pid = Spawn(*std::move(fds), WriteFiftyMegabytes);
  ASSERT_GT(pid, 0);

  // Sample disk use while the task runs; WaitDrained is the pacing.
  const uint64_t bound = kCap * (kKeep + 1);
  uint64_t peak = 0;
  absl::Time deadline = absl::Now() + absl::Seconds(120);
  absl::Status drained;
  do {
    peak = std::max(peak, LogBytes(dir_));
    drained = pump_->WaitDrained(
        "fast", std::min(deadline, absl::Now() + absl::Milliseconds(20)));
  } while (absl::IsDeadlineExceeded(drained) && absl::Now() < deadline);
  ASSERT_TRUE(drained.ok()) << drained;
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  peak = std::max(peak, LogBytes(dir_));
  EXPECT_LE(peak, bound);
  std::printf("50 MiB through a %llu-byte cap: peak log bytes on disk %llu\n",
              static_cast<unsigned long long>(kCap),
              static_cast<unsigned long long>(peak));

  absl::StatusOr<LogPumpStats> st = pump_->Stats("fast");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->stdout_bytes, kTotal);
  EXPECT_EQ(st->dropped_bytes, 0u);
  for (int k = 1; k <= kKeep; ++k) {
    EXPECT_EQ(testing::SizeOf(LogFilePath(dir_, LogStream::kStdout, k)), kCap);
  }
  EXPECT_FALSE(
      testing::Exists(LogFilePath(dir_, LogStream::kStdout, kKeep + 1)));

  // What is retained is exactly the end of the stream, in order.
  auto reader = LogReader::Open(dir_, LogStream::kStdout);
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<LogChunk> all = (*reader)->Read(0, kCap * (kKeep + 1));
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->next_offset, kTotal);
  EXPECT_EQ(all->skipped, all->offset);
  // The retained 3 MiB start mid-line (47 MiB is not a multiple of 10).
  EXPECT_EQ(all->offset, kTotal - kCap * kKeep);
  std::string expected;
  for (uint64_t line = all->offset / kLineBytes; line < kTotal / kLineBytes;
       ++line) {
    absl::StrAppendFormat(&expected, "%09d\n", line);
  }
  expected.erase(0, all->offset % kLineBytes);
  EXPECT_TRUE(all->data == expected) << "retained data differs from the stream";
  absl::StatusOr<LogChunk> tail = (*reader)->Tail(2);
  ASSERT_TRUE(tail.ok());
  uint64_t last = kTotal / kLineBytes - 1;
  EXPECT_EQ(tail->data, absl::StrFormat("%09d\n%09d\n", last - 1, last));
}

TEST_F(LogPumpTest, OneThreadServesManyTasks) {
  constexpr int kTasks = 20;
  std::vector<TaskLogFds> fds;
  for (int i = 0; i < kTasks; ++i) {
    auto f = pump_->Attach(absl::StrCat("t", i), absl::StrCat(dir_, "/t", i),
                           {.max_bytes = 1000, .max_files = 2});
    ASSERT_TRUE(f.ok()) << f.status();
    fds.push_back(*std::move(f));
  }
  // Interleave writes so every pipe is live at once.
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < kTasks; ++i) {
      ASSERT_TRUE(WriteAll(fds[i].stdout_fd.get(),
                           absl::StrFormat("t%02d r%02d\n", i, round)));
    }
  }
  fds.clear();
  for (int i = 0; i < kTasks; ++i) {
    std::string id = absl::StrCat("t", i);
    ASSERT_TRUE(pump_->WaitDrained(id, absl::Now() + kDeadline).ok()) << id;
    auto reader =
        LogReader::Open(absl::StrCat(dir_, "/t", i), LogStream::kStdout);
    ASSERT_TRUE(reader.ok());
    absl::StatusOr<LogChunk> t = (*reader)->Tail(1);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->data, absl::StrFormat("t%02d r49\n", i));
    EXPECT_EQ(t->next_offset, 50u * 8);
  }
}

}  // namespace
}  // namespace berth::agent
