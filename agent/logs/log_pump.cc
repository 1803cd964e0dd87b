#include "agent/logs/log_pump.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/monotonic_wait.h"

namespace berth::agent {
namespace {

// Bytes copied from one pipe per wakeup before serving the others.
constexpr size_t kFairnessBudget = 1 << 20;
// Larger pipes mean fewer wakeups for chatty tasks; best effort.
constexpr int kPipeSize = 256 << 10;
constexpr uint64_t kWakeKey = 0;

absl::Status Errno(absl::string_view what) {
  int e = errno;
  return absl::ErrnoToStatus(e, absl::StrCat(what, ": ", std::strerror(e)));
}

uint64_t Key(uint64_t serial, int which) { return serial << 1 | which; }

}  // namespace

absl::StatusOr<std::unique_ptr<LogPump>> LogPump::Create() {
  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  if (!ep.valid()) return Errno("log pump: epoll_create1");
  Fd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return Errno("log pump: eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeKey;
  if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0) {
    return Errno("log pump: epoll_ctl(eventfd)");
  }
  std::unique_ptr<LogPump> pump(new LogPump(std::move(ep), std::move(wake)));
  pump->thread_ = std::thread([p = pump.get()] { p->Run(); });
  return pump;
}

LogPump::~LogPump() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  uint64_t one = 1;
  (void)!write(wake_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<TaskLogFds> LogPump::Attach(const std::string& alloc_id,
                                           const std::string& dir,
                                           const LogLimits& limits) {
  return AttachImpl(alloc_id, dir, "", limits, /*hand_out=*/true);
}

absl::StatusOr<TaskLogFds> LogPump::AttachFifo(const std::string& alloc_id,
                                               const std::string& dir,
                                               const std::string& fifo_dir,
                                               const LogLimits& limits) {
  if (fifo_dir.empty()) {
    return absl::InvalidArgumentError("log attach: fifo_dir is empty");
  }
  return AttachImpl(alloc_id, dir, fifo_dir, limits, /*hand_out=*/true);
}

absl::Status LogPump::Reattach(const std::string& alloc_id,
                               const std::string& dir,
                               const std::string& fifo_dir,
                               const LogLimits& limits) {
  if (fifo_dir.empty()) {
    return absl::InvalidArgumentError("log reattach: fifo_dir is empty");
  }
  for (const char* name : {"stdout", "stderr"}) {
    std::error_code ec;
    if (!std::filesystem::is_fifo(absl::StrCat(fifo_dir, "/", name), ec)) {
      return absl::NotFoundError(absl::StrCat(
          "log reattach ", alloc_id, ": no FIFO ", fifo_dir, "/", name));
    }
  }
  return AttachImpl(alloc_id, dir, fifo_dir, limits, /*hand_out=*/false)
      .status();
}

absl::StatusOr<TaskLogFds> LogPump::AttachImpl(const std::string& alloc_id,
                                               const std::string& dir,
                                               const std::string& fifo_dir,
                                               const LogLimits& limits,
                                               bool hand_out) {
  if (alloc_id.empty()) {
    return absl::InvalidArgumentError("log attach: alloc_id is empty");
  }
  if (absl::Status s = ValidateLogLimits(limits); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!ec && !fifo_dir.empty()) {
    std::filesystem::create_directories(fifo_dir, ec);
  }
  if (ec) {
    return absl::PermissionDeniedError(absl::StrCat(
        "log attach ", alloc_id, ": create ", dir, ": ", ec.message()));
  }
  auto task = std::make_unique<Task>();
  task->alloc_id = alloc_id;
  TaskLogFds out;
  Fd* write_ends[2] = {&out.stdout_fd, &out.stderr_fd};
  for (int which = 0; which < 2; ++which) {
    LogStream stream = which == 0 ? LogStream::kStdout : LogStream::kStderr;
    absl::StatusOr<std::unique_ptr<RotatingFile>> file =
        RotatingFile::Open(dir, stream, limits);
    if (!file.ok()) return file.status();
    task->streams[which].file = *std::move(file);
    if (fifo_dir.empty()) {
      int p[2];
      if (pipe2(p, O_CLOEXEC) != 0) {
        return Errno(absl::StrCat("log attach ", alloc_id, ": pipe2"));
      }
      task->streams[which].read_fd = Fd(p[0]);
      *write_ends[which] = Fd(p[1]);
    } else {
      const std::string path =
          absl::StrCat(fifo_dir, which == 0 ? "/stdout" : "/stderr");
      if (mkfifo(path.c_str(), 0600) != 0 && errno != EEXIST) {
        return Errno(absl::StrCat("log attach ", alloc_id, ": mkfifo ", path));
      }
      // The read end first: a non-blocking read open never waits for a
      // writer, and a FIFO that had no reader would fail the write open.
      task->streams[which].read_fd =
          Fd(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
      if (!task->streams[which].read_fd.valid()) {
        return Errno(absl::StrCat("log attach ", alloc_id, ": open ", path));
      }
      if (hand_out) {
        // Read-write, so that the task itself keeps the FIFO open for
        // reading: while no agent reads, its writes fill the buffer and
        // then block instead of failing with EPIPE.
        *write_ends[which] = Fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
        if (!write_ends[which]->valid()) {
          return Errno(absl::StrCat("log attach ", alloc_id, ": open ", path));
        }
      }
    }
    const int read_fd = task->streams[which].read_fd.get();
    fcntl(read_fd, F_SETFL, O_NONBLOCK);
    fcntl(read_fd, F_SETPIPE_SZ, kPipeSize);
  }

  absl::MutexLock lock(&mu_);
  if (by_id_.contains(alloc_id)) {
    return absl::AlreadyExistsError(
        absl::StrCat("log attach: ", alloc_id, " is already attached"));
  }
  uint64_t serial = next_serial_++;
  for (int which = 0; which < 2; ++which) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = Key(serial, which);
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD,
                  task->streams[which].read_fd.get(), &ev) != 0) {
      return Errno(absl::StrCat("log attach ", alloc_id, ": epoll_ctl"));
    }
  }
  by_id_[alloc_id] = serial;
  tasks_[serial] = std::move(task);
  return out;
}

absl::Status LogPump::Detach(const std::string& alloc_id) {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(alloc_id);
  if (it == by_id_.end()) {
    return absl::NotFoundError(
        absl::StrCat("log detach: ", alloc_id, " is not attached"));
  }
  Task& task = *tasks_[it->second];
  for (int which = 0; which < 2; ++which) {
    // No budget: this is the last chance to store what the task wrote.
    Pump(task, which, SIZE_MAX);
    CloseStream(task, which);
  }
  tasks_.erase(it->second);
  by_id_.erase(it);
  return absl::OkStatus();
}

bool LogPump::Drained(const Task& task) {
  return !task.streams[0].read_fd.valid() && !task.streams[1].read_fd.valid();
}

absl::Status LogPump::WaitDrained(const std::string& alloc_id,
                                  absl::Time deadline) {
  const MonotonicDeadline until = MonotonicDeadline::FromWall(deadline);
  absl::MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = by_id_.find(alloc_id);
    return it == by_id_.end() || Drained(*tasks_[it->second]);
  };
  AwaitMonotonic(&mu_, absl::Condition(&done), until.Remaining());
  if (!by_id_.contains(alloc_id)) {
    return absl::NotFoundError(
        absl::StrCat("log wait: ", alloc_id, " is not attached"));
  }
  if (!done()) {
    return absl::DeadlineExceededError(absl::StrCat(
        "log wait: output pipes of ", alloc_id, " are still open"));
  }
  return absl::OkStatus();
}

absl::StatusOr<LogPumpStats> LogPump::Stats(const std::string& alloc_id) {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(alloc_id);
  if (it == by_id_.end()) {
    return absl::NotFoundError(
        absl::StrCat("log stats: ", alloc_id, " is not attached"));
  }
  const Task& task = *tasks_[it->second];
  LogPumpStats s;
  s.stdout_bytes = task.streams[0].file->end_offset();
  s.stderr_bytes = task.streams[1].file->end_offset();
  s.dropped_bytes = task.dropped;
  s.drained = Drained(task);
  s.last_error = task.last_error;
  return s;
}

void LogPump::Run() {
  epoll_event events[64];
  while (true) {
    int n = epoll_wait(epoll_.get(), events, 64, -1);
    if (n < 0 && errno != EINTR) return;  // only EBADF/EINVAL: a bug
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    for (int i = 0; i < n; ++i) {
      uint64_t key = events[i].data.u64;
      if (key == kWakeKey) continue;
      auto it = tasks_.find(key >> 1);
      if (it == tasks_.end()) continue;  // detached meanwhile
      Pump(*it->second, static_cast<int>(key & 1), kFairnessBudget);
    }
  }
}

void LogPump::Pump(Task& task, int which, size_t budget) {
  Stream& s = task.streams[which];
  size_t copied = 0;
  while (s.read_fd.valid() && copied < budget) {
    ssize_t n = read(s.read_fd.get(), buf_, sizeof(buf_));
    if (n > 0) {
      uint64_t before = s.file->end_offset();
      absl::Status st = s.file->Append(absl::string_view(buf_, n));
      if (!st.ok()) {
        task.dropped +=
            static_cast<uint64_t>(n) - (s.file->end_offset() - before);
        task.last_error = st.ToString();
      }
      copied += static_cast<size_t>(n);
    } else if (n == 0) {
      CloseStream(task, which);
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN) {
      return;
    } else {
      task.last_error = Errno("read pipe").ToString();
      CloseStream(task, which);
    }
  }
}

void LogPump::CloseStream(Task& task, int which) {
  Stream& s = task.streams[which];
  if (!s.read_fd.valid()) return;
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, s.read_fd.get(), nullptr);
  s.read_fd = Fd();
}

}  // namespace berth::agent
