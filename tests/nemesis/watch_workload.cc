#include "tests/nemesis/watch_workload.h"

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "lockservice/client/watch.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::nemesis {
namespace {

constexpr char kPrefix[] = "/nem/watch/";
constexpr int kKeys = 4;

// A client, retried until the cluster answers or `give_up` says stop.
template <typename GiveUp>
std::unique_ptr<lock::Client> ConnectRetrying(
    const std::vector<std::string>& endpoints, GiveUp give_up) {
  while (!give_up()) {
    auto c = lock::Client::Connect(endpoints);
    if (c.ok()) return std::move(*c);
    absl::SleepFor(absl::Milliseconds(200));
  }
  return nullptr;
}

}  // namespace

struct WatchWorkload::Watcher {
  absl::Mutex mu;
  WatcherLog log ABSL_GUARDED_BY(mu);
  int64_t max_revision ABSL_GUARDED_BY(mu) = 0;
  int64_t restarts ABSL_GUARDED_BY(mu) = 0;
  std::vector<std::string> journal ABSL_GUARDED_BY(mu);
};

WatchWorkload::WatchWorkload(std::vector<std::string> endpoints, int watchers)
    : endpoints_(std::move(endpoints)), watchers_(watchers) {}

WatchWorkload::~WatchWorkload() { Stop(); }

absl::Status WatchWorkload::Start() {
  started_ = absl::Now();
  auto client = lock::Client::Connect(endpoints_);
  if (!client.ok()) return client.status();
  // The watchers start right after this marker, so every value the writer
  // puts later is theirs to deliver.
  absl::Status last;
  bool ok = e2e::WaitFor(
      [&] {
        auto put = (*client)->kv().Put(absl::StrCat(kPrefix, "start"), "-");
        if (put.ok()) start_revision_ = put->revision + 1;
        last = put.status();
        return put.ok();
      },
      absl::Seconds(30));
  if (!ok)
    return absl::UnavailableError(
        absl::StrCat("watch marker: ", last.message()));
  for (int i = 0; i < watchers_; ++i) {
    watcher_state_.push_back(std::make_unique<Watcher>());
    absl::MutexLock l(&watcher_state_.back()->mu);
    watcher_state_.back()->log.start_revision = start_revision_;
  }
  for (auto& w : watcher_state_) {
    watcher_threads_.emplace_back([this, raw = w.get()] { RunWatcher(raw); });
  }
  writer_ = std::thread([this] { Writer(); });
  return absl::OkStatus();
}

void WatchWorkload::Writer() {
  auto client =
      ConnectRetrying(endpoints_, [this] { return stop_writer_.load(); });
  for (int64_t seq = 0; client && !stop_writer_.load(); ++seq) {
    WrittenValue w{absl::StrCat(kPrefix, "k", seq % kKeys),
                   absl::StrCat("v", seq), 0};
    // Each put retries across failover under its write id (exactly once);
    // an error here leaves its outcome unknown.
    auto put = client->kv().Put(w.key, w.value);
    if (put.ok()) w.revision = put->revision;
    absl::MutexLock l(&mu_);
    if (put.ok()) last_acked_ = std::max(last_acked_, w.revision);
    writes_.push_back(std::move(w));
  }
}

void WatchWorkload::RunWatcher(Watcher* w) {
  auto client =
      ConnectRetrying(endpoints_, [this] { return stop_watchers_.load(); });
  int64_t from = start_revision_;
  std::string why = "first start";
  auto note = [&](std::string line) {
    absl::MutexLock l(&w->mu);
    w->journal.push_back(
        absl::StrCat(absl::FormatDuration(absl::Trunc(absl::Now() - started_,
                                                      absl::Milliseconds(1))),
                     " ", line));
  };
  while (client && !stop_watchers_.load()) {
    lock::WatchOptions opts;
    opts.prefix = true;
    opts.start_revision = from;
    note(absl::StrCat("start from ", from, " (", why, ")"));
    auto watch = lock::Watch::Start(client.get(), kPrefix, opts);
    if (!watch.ok()) {
      why = watch.status().ToString();
      absl::SleepFor(absl::Milliseconds(100));
      continue;
    }
    while (!stop_watchers_.load()) {
      auto item = (*watch)->Next(absl::Milliseconds(200));
      if (!item.ok()) {
        // The watch resumes by itself across reconnects; it ends only when
        // its next revision was compacted away (or on a server refusal).
        from = std::max(from, (*watch)->next_revision());
        why = item.status().ToString();
        if (absl::IsOutOfRange(item.status())) {
          int64_t oldest = (*watch)->compact_revision();
          absl::MutexLock l(&w->mu);
          w->log.compacted.emplace_back(from, oldest);
          ++w->restarts;
          from = oldest;
        } else {
          absl::SleepFor(absl::Milliseconds(100));
        }
        break;
      }
      if (!item->has_value()) continue;
      absl::MutexLock l(&w->mu);
      for (const lock::WatchEvent& e : (*item)->events) {
        if (e.type != lock::WatchEvent::Type::kPut) continue;
        w->log.events.push_back({e.kv.key, e.kv.value, e.kv.mod_revision});
        w->journal.push_back(absl::StrCat(
            absl::FormatDuration(
                absl::Trunc(absl::Now() - started_, absl::Milliseconds(1))),
            " event ", e.kv.mod_revision, " ", e.kv.key, "=", e.kv.value,
            " (batch header ", (*item)->revision, ")"));
        w->max_revision = std::max(w->max_revision, e.kv.mod_revision);
      }
    }
  }
}

bool WatchWorkload::Drain(absl::Duration timeout) {
  stop_writer_ = true;
  if (writer_.joinable()) writer_.join();
  int64_t target;
  {
    absl::MutexLock l(&mu_);
    target = last_acked_;
  }
  return e2e::WaitFor(
      [&] {
        for (auto& w : watcher_state_) {
          absl::MutexLock l(&w->mu);
          if (w->max_revision < target) return false;
        }
        return true;
      },
      timeout);
}

void WatchWorkload::Stop() {
  stop_writer_ = true;
  if (writer_.joinable()) writer_.join();
  stop_watchers_ = true;
  for (std::thread& t : watcher_threads_) {
    if (t.joinable()) t.join();
  }
}

WatchStats WatchWorkload::Stats() const {
  WatchStats s;
  {
    absl::MutexLock l(&mu_);
    s.writes = static_cast<int64_t>(writes_.size());
    for (const WrittenValue& w : writes_) {
      if (w.revision) {
        ++s.acked;
      } else {
        ++s.unknown;
      }
    }
  }
  for (const auto& w : watcher_state_) {
    absl::MutexLock l(&w->mu);
    s.events += static_cast<int64_t>(w->log.events.size());
    s.restarts += w->restarts;
  }
  return s;
}

WatchVerdict WatchWorkload::Check() const {
  std::vector<WatcherLog> logs;
  for (const auto& w : watcher_state_) {
    absl::MutexLock l(&w->mu);
    logs.push_back(w->log);
  }
  absl::MutexLock l(&mu_);
  return CheckWatches(writes_, logs);
}

absl::Status WatchWorkload::WriteHistories(const std::string& dir) const {
  for (size_t i = 0; i < watcher_state_.size(); ++i) {
    std::string path = absl::StrCat(dir, "/watch-history-", i);
    std::ofstream out(path);
    absl::MutexLock l(&watcher_state_[i]->mu);
    for (const std::string& line : watcher_state_[i]->journal) {
      out << line << "\n";
    }
    if (!out.flush()) {
      return absl::InternalError(absl::StrCat("cannot write ", path));
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::nemesis
