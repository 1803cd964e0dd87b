#include "agent/runtime/exit_notifier.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace berth::agent {
namespace {

constexpr uint64_t kWakeToken = 0;  // pidfd tokens start at 1

}  // namespace

absl::StatusOr<std::unique_ptr<ExitNotifier>> ExitNotifier::Create(
    Callback cb) {
  Fd epoll(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return absl::ErrnoToStatus(errno, "epoll_create1");
  Fd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return absl::ErrnoToStatus(errno, "eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeToken;
  if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &ev) < 0) {
    return absl::ErrnoToStatus(errno, "epoll_ctl(eventfd)");
  }
  return std::unique_ptr<ExitNotifier>(
      new ExitNotifier(std::move(cb), std::move(epoll), std::move(wake)));
}

ExitNotifier::ExitNotifier(Callback cb, Fd epoll, Fd wake)
    : cb_(std::move(cb)), epoll_(std::move(epoll)), wake_(std::move(wake)) {
  thread_ = std::thread([this] { Loop(); });
}

ExitNotifier::~ExitNotifier() {
  const uint64_t one = 1;
  // An eventfd write of 1 cannot fail short of a counter overflow.
  (void)!write(wake_.get(), &one, sizeof(one));
  thread_.join();
}

absl::Status ExitNotifier::Watch(const std::string& id, int pidfd) {
  Fd dup(fcntl(pidfd, F_DUPFD_CLOEXEC, 0));
  if (!dup.valid()) return absl::ErrnoToStatus(errno, "dup pidfd");
  absl::MutexLock l(&mu_);
  auto old = watched_.find(id);
  if (old != watched_.end()) {
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, old->second.second.get(), nullptr);
    tokens_.erase(old->second.first);
    watched_.erase(old);
  }
  const uint64_t token = next_token_++;
  epoll_event ev{};
  // One-shot: an exited process's pidfd stays readable for good.
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.u64 = token;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, dup.get(), &ev) < 0) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("epoll_ctl(pidfd of ", id, ")"));
  }
  tokens_[token] = id;
  watched_[id] = {token, std::move(dup)};
  return absl::OkStatus();
}

void ExitNotifier::Unwatch(const std::string& id) {
  absl::MutexLock l(&mu_);
  auto it = watched_.find(id);
  if (it == watched_.end()) return;
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second.second.get(), nullptr);
  tokens_.erase(it->second.first);
  watched_.erase(it);
}

void ExitNotifier::Loop() {
  epoll_event events[16];
  while (true) {
    int n = epoll_wait(epoll_.get(), events, 16, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // cannot happen with a valid epoll fd; exits are then polled
    }
    std::vector<std::string> exited;
    {
      absl::MutexLock l(&mu_);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == kWakeToken) return;
        auto t = tokens_.find(events[i].data.u64);
        if (t == tokens_.end()) continue;  // unwatched meanwhile
        auto w = watched_.find(t->second);
        if (w != watched_.end()) {
          epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w->second.second.get(),
                    nullptr);
          watched_.erase(w);
        }
        exited.push_back(t->second);
        tokens_.erase(t);
      }
    }
    for (const std::string& id : exited) cb_(id);
  }
}

}  // namespace berth::agent
