// Real process crashes: runs storage_crash_writer, SIGKILLs it after it has
// acknowledged a varying number of batches, then reopens the file and checks
// that every acknowledged entry and hard state survived. The same file is
// reused across rounds, so each round also recovers from the previous kill.
//
// No sleeps: the test waits on the writer's stdout, with a deadline.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lockservice/storage/crash_workload.h"
#include "lockservice/storage/sqlite_storage.h"

namespace berth::storage {
namespace {

struct Acked {
  uint64_t last = 0, last_term = 0, term = 0, vote = 0, commit = 0;
};

class Writer {
 public:
  // Starts the writer on `db`; its stdout is piped to us.
  explicit Writer(const std::string& db) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      execl(BERTH_CRASH_WRITER, BERTH_CRASH_WRITER, db.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
  }
  ~Writer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  bool started() const { return pid_ > 0 && fd_ >= 0; }

  // Reads acknowledgements until `n` have arrived (true), the pipe closes or
  // the deadline passes (false).
  bool WaitForAcks(int n, std::chrono::steady_clock::time_point deadline) {
    while (acks_ < n) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      if (!ReadSome()) return false;
    }
    return true;
  }

  // SIGKILL, then drain what the writer printed before it died: those lines
  // were acknowledged too.
  int KillAndDrain() {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    while (ReadSome()) {
    }
    return status;
  }

  int acks() const { return acks_; }
  const Acked& last() const { return last_; }

 private:
  bool ReadSome() {
    char buf[4096];
    ssize_t n = read(fd_, buf, sizeof(buf));
    if (n <= 0) return false;
    pending_.append(buf, n);
    size_t nl;
    while ((nl = pending_.find('\n')) != std::string::npos) {
      Acked a;
      if (std::sscanf(pending_.c_str(), kAckedFormat, &a.last, &a.last_term,
                      &a.term, &a.vote, &a.commit) == 5) {
        last_ = a;
        ++acks_;
      }
      pending_.erase(0, nl + 1);
    }
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  std::string pending_;
  int acks_ = 0;
  Acked last_;
};

void VerifyAcked(SqliteStorage& s, const Acked& a) {
  const raftpb::HardState& hs = s.hard_state();
  EXPECT_GE(hs.term(), a.term);
  if (hs.term() == a.term) {
    EXPECT_EQ(hs.vote(), a.vote);
  }
  EXPECT_GE(hs.commit(), a.commit);
  ASSERT_GE(s.LastIndex(), a.last) << "acknowledged entries are missing";
  ASSERT_EQ(*s.Term(a.last), a.last_term);
  auto ents = s.Entries(s.FirstIndex(), a.last + 1, UINT64_MAX);
  ASSERT_TRUE(ents.ok()) << ents.status();
  uint64_t prev_term = *s.Term(s.FirstIndex() - 1);
  for (const auto& e : *ents) {
    ASSERT_GE(e.term(), prev_term) << "index " << e.index();
    ASSERT_EQ(e.data(), CrashWorkloadData(e.index(), e.term()))
        << "index " << e.index();
    prev_term = e.term();
  }
}

TEST(SqliteKillTest, AcknowledgedWritesSurviveSigkill) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "sqlite_kill_test_", getpid(), ".db");
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::remove((path + suffix).c_str());
  }
  Acked prev;
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    // Kill points vary from the first batch to ~80 batches in, spanning
    // snapshots (every 25 batches) and WAL checkpoints.
    const int target = 1 + (round * 37) % 80;
    Writer w(path);
    ASSERT_TRUE(w.started());
    const bool reached = w.WaitForAcks(
        target, std::chrono::steady_clock::now() + std::chrono::seconds(60));
    const int status = w.KillAndDrain();
    ASSERT_TRUE(reached) << "writer acknowledged only " << w.acks()
                         << " batches; exit status " << status;
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited on its own: " << status;
    Acked acked = w.last();
    ASSERT_GT(acked.last, prev.last);
    auto store = SqliteStorage::Open(path, {});
    ASSERT_TRUE(store.ok()) << store.status();
    VerifyAcked(**store, acked);
    prev = acked;
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::remove((path + suffix).c_str());
  }
}

}  // namespace
}  // namespace berth::storage
