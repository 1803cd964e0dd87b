// Process crashes: a forked child writes allocation records and reports each
// acknowledged step on a pipe; the parent SIGKILLs it after a varying number
// of acks, drains what the child had already reported, reopens the file and
// checks every acknowledged effect. The same file is reused across rounds,
// so each round also recovers from the previous kill.
//
// No sleeps: the parent waits on the pipe with a deadline.
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/store/alloc_store.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kDeadline = std::chrono::seconds(60);

std::string Id(int64_t i) { return absl::StrCat("alloc-", i); }

// Step i puts record i, deletes record i-1 when i is a multiple of 4, then
// sets the watch revision to i.
AllocRecord RecordFor(int64_t i) {
  AllocRecord r;
  r.alloc_id = Id(i);
  r.job = absl::StrCat("job-", i % 7);
  r.spec = std::string(100 + i % 300, static_cast<char>('a' + i % 26));
  r.state = AllocState::kRunning;
  TaskRecord t;
  t.alloc_id = r.alloc_id;
  t.pid = static_cast<pid_t>(1000 + i);
  t.start_ticks = static_cast<uint64_t>(i) * 1000;
  t.started_at = absl::FromUnixSeconds(1700000000 + i);
  r.task = t;
  r.attempt = i;
  r.reported_revision = i * 2;
  return r;
}

[[noreturn]] void ChildWriter(const std::string& path, int64_t first,
                              int ack_fd) {
  absl::StatusOr<std::unique_ptr<AllocStore>> store = AllocStore::Open(path);
  if (!store.ok()) _exit(2);
  for (int64_t i = first;; ++i) {
    if (!(*store)->Put(RecordFor(i)).ok()) _exit(3);
    if (i % 4 == 0 && !(*store)->Delete(Id(i - 1)).ok()) _exit(4);
    if (!(*store)->SetMeta(kWatchRevisionKey, absl::StrCat(i)).ok()) _exit(5);
    std::string line = absl::StrCat(i, "\n");
    if (write(ack_fd, line.data(), line.size()) !=
        static_cast<ssize_t>(line.size())) {
      _exit(6);
    }
  }
}

class Child {
 public:
  Child(const std::string& path, int64_t first) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(fds[0]);
      ChildWriter(path, first, fds[1]);
    }
    close(fds[1]);
    fd_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  bool started() const { return pid_ > 0 && fd_ >= 0; }
  int64_t last_acked() const { return last_; }
  int acks() const { return acks_; }

  // Reads acks until `n` arrived (true), or the pipe closes or the
  // deadline passes (false).
  bool WaitForAcks(int n, Clock::time_point deadline) {
    while (acks_ < n) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      if (!ReadSome()) return false;
    }
    return true;
  }

  // SIGKILL, then drain what was reported before death: acked too.
  int KillAndDrain() {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    while (ReadSome()) {
    }
    return status;
  }

 private:
  bool ReadSome() {
    char buf[4096];
    ssize_t n = read(fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return false;
    pending_.append(buf, n);
    size_t nl;
    while ((nl = pending_.find('\n')) != std::string::npos) {
      int64_t v;
      if (absl::SimpleAtoi(pending_.substr(0, nl), &v)) {
        last_ = v;
        ++acks_;
      }
      pending_.erase(0, nl + 1);
    }
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  int acks_ = 0;
  int64_t last_ = 0;
  std::string pending_;
};

// Every effect of steps 1..last must be there; step last+1 may be in flight.
void VerifyUpTo(AllocStore& store, int64_t last) {
  absl::StatusOr<std::vector<AllocRecord>> all = store.List();
  ASSERT_TRUE(all.ok()) << all.status();
  absl::flat_hash_map<std::string, const AllocRecord*> by_id;
  for (const AllocRecord& r : *all) by_id[r.alloc_id] = &r;
  for (int64_t j = 1; j <= last; ++j) {
    bool deleted_by_next = (j + 1) % 4 == 0;
    auto it = by_id.find(Id(j));
    if (deleted_by_next && j + 1 <= last) {
      EXPECT_TRUE(it == by_id.end()) << Id(j) << " should be deleted";
    } else if (!deleted_by_next || j == last) {
      if (deleted_by_next && it == by_id.end()) continue;  // step j+1 raced
      ASSERT_TRUE(it != by_id.end()) << "acked " << Id(j) << " was lost";
      EXPECT_EQ(*it->second, RecordFor(j)) << Id(j);
    }
  }
  absl::StatusOr<std::optional<std::string>> rev =
      store.GetMeta(kWatchRevisionKey);
  ASSERT_TRUE(rev.ok()) << rev.status();
  int64_t r = 0;
  ASSERT_TRUE(absl::SimpleAtoi(rev->value_or(""), &r)) << rev->value_or("");
  EXPECT_GE(r, last);
  EXPECT_LE(r, last + 1);
}

TEST(AllocStoreCrashTest, AckedWritesSurviveKillNine) {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "berth-store-crash-XXXXXX")
          .string();
  std::string dir = mkdtemp(tmpl.data());
  std::string path = dir + "/agent.db";

  int64_t last = 0;
  for (int acks : {1, 2, 7, 23, 64, 3, 150, 11}) {
    SCOPED_TRACE(absl::StrCat("round killed after ", acks, " acks"));
    int before = 0;
    {
      Child child(path, last + 1);
      ASSERT_TRUE(child.started());
      ASSERT_TRUE(child.WaitForAcks(acks, Clock::now() + kDeadline))
          << "writer stopped acknowledging";
      before = child.acks();
      int status = child.KillAndDrain();
      EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << "writer exited by itself with status " << status;
      ASSERT_GE(child.acks(), before);
      last = child.last_acked();
    }
    absl::StatusOr<std::unique_ptr<AllocStore>> store = AllocStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    VerifyUpTo(**store, last);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace berth::agent
