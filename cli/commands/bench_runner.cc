#include "cli/commands/bench_runner.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace berth::cli {

namespace {

// Error bookkeeping shared by all threads of one run.
class ErrorLog {
 public:
  void Add(const absl::Status& st) {
    absl::MutexLock l(&mu_);
    ++count_;
    if (first_.empty()) first_ = std::string(st.message());
  }
  void AddMany(int64_t n, const std::string& what) {
    if (n <= 0) return;
    absl::MutexLock l(&mu_);
    count_ += n;
    if (first_.empty()) first_ = what;
  }
  void CopyTo(BenchResult* r) {
    absl::MutexLock l(&mu_);
    r->errors = count_;
    r->first_error = first_;
  }

 private:
  absl::Mutex mu_;
  int64_t count_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_ ABSL_GUARDED_BY(mu_);
};

// When a client's requests are due. Open loop: client `index` of `clients`
// owns every clients-th slot of a global schedule of `rate` requests/s, so
// the clients interleave instead of bursting together.
class Schedule {
 public:
  Schedule(const BenchSpec& spec, int index, absl::Time start)
      : open_(spec.rate > 0),
        interval_(open_ ? absl::Seconds(spec.clients / spec.rate)
                        : absl::ZeroDuration()),
        next_(start + interval_ * index / spec.clients) {}

  // The due time of the next request; sleeps until then in open loop.
  absl::Time Next(Clock* clock) {
    if (!open_) return clock->Monotonic();
    absl::Time due = next_;
    next_ += interval_;
    if (clock->Monotonic() < due) clock->SleepUntil(due);
    return due;
  }
  // The due time Next() would return, without waiting.
  absl::Time Peek(Clock* clock) const {
    return open_ ? next_ : clock->Monotonic();
  }

 private:
  const bool open_;
  const absl::Duration interval_;
  absl::Time next_;
};

// Retries compare-and-swap attempts until one wins. Lost attempts are
// counted, not errors; a bound keeps a livelocked run from hanging.
absl::Status CasUntilWon(BenchClient& client, const std::string& key,
                         const std::string& value, int64_t* conflicts) {
  constexpr int kMaxAttempts = 100000;
  for (int i = 0; i < kMaxAttempts; ++i) {
    absl::StatusOr<bool> won = client.CompareAndSwap(key, value);
    if (!won.ok()) return won.status();
    if (*won) return absl::OkStatus();
    ++*conflicts;
  }
  return absl::AbortedError(
      absl::StrCat("compare-and-swap lost ", kMaxAttempts, " times in a row"));
}

std::string KeyOf(const BenchSpec& spec, int64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "kv/%08lld", static_cast<long long>(i));
  return absl::StrCat(spec.key_prefix, buf);
}

absl::StatusOr<std::vector<std::unique_ptr<BenchClient>>> MakeClients(
    BenchTarget* target, int n) {
  std::vector<std::unique_ptr<BenchClient>> clients;
  for (int i = 0; i < n; ++i) {
    auto c = target->NewClient();
    if (!c.ok()) return c.status();
    clients.push_back(*std::move(c));
  }
  return clients;
}

// Runs fn(i) on one thread per client and joins them.
template <typename Fn>
void OnEachClient(int n, Fn fn) {
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) threads.emplace_back([&fn, i] { fn(i); });
  for (std::thread& t : threads) t.join();
}

// Writes every key once so that gets find something.
absl::Status Populate(const BenchSpec& spec,
                      std::vector<std::unique_ptr<BenchClient>>& clients) {
  const std::string value(static_cast<size_t>(spec.value_size), 'v');
  ErrorLog errors;
  const int n = static_cast<int>(clients.size());
  OnEachClient(n, [&](int t) {
    for (int64_t k = t; k < spec.key_space; k += n) {
      absl::Status st = clients[t]->Put(KeyOf(spec, k), value);
      if (!st.ok()) errors.Add(st);
    }
  });
  BenchResult r;
  errors.CopyTo(&r);
  if (r.errors > 0) {
    return absl::UnavailableError(
        absl::StrCat("populating ", spec.key_space, " keys failed ", r.errors,
                     " times; first error: ", r.first_error));
  }
  return absl::OkStatus();
}

absl::StatusOr<BenchResult> RunRequests(BenchTarget* target,
                                        const BenchSpec& spec, Clock* clock) {
  // Gets populate the key space first, with at least 16 connections so
  // that a 1-client run does not spend its time on 1000 serial writes; the
  // extra connections stay idle during the run.
  constexpr int kPopulateClients = 16;
  const int connections = spec.workload == Workload::kGet
                              ? std::max(spec.clients, kPopulateClients)
                              : spec.clients;
  auto clients = MakeClients(target, connections);
  if (!clients.ok()) return clients.status();
  if (spec.workload == Workload::kGet) {
    absl::Status st = Populate(spec, *clients);
    if (!st.ok()) return st;
  }
  const std::string value(static_cast<size_t>(spec.value_size), 'v');
  const std::string lock_name = absl::StrCat(spec.key_prefix, "lock");
  const absl::Time start = clock->Monotonic();
  const absl::Time measure_from = start + spec.warmup;
  const absl::Time end = measure_from + spec.duration;

  std::vector<LatencyHistogram> histograms(spec.clients);
  std::vector<int64_t> ops(spec.clients, 0);
  std::vector<int64_t> conflicts(spec.clients, 0);
  const std::string cas_key = absl::StrCat(spec.key_prefix, "cas");
  ErrorLog errors;
  OnEachClient(spec.clients, [&](int t) {
    BenchClient& client = *(*clients)[t];
    std::mt19937_64 rng(static_cast<uint64_t>(t) + 1);
    std::uniform_int_distribution<int64_t> pick(0, spec.key_space - 1);
    Schedule schedule(spec, t, start);
    while (schedule.Peek(clock) < end) {
      const absl::Time due = schedule.Next(clock);
      absl::Status st;
      absl::Time done;
      switch (spec.workload) {
        case Workload::kPut:
          st = client.Put(KeyOf(spec, pick(rng)), value);
          done = clock->Monotonic();
          break;
        case Workload::kGet:
          st = client.Get(KeyOf(spec, pick(rng)), spec.serializable);
          done = clock->Monotonic();
          break;
        case Workload::kLock: {
          absl::StatusOr<absl::Time> granted =
              client.LockHandoff(lock_name, clock);
          st = granted.status();
          if (granted.ok()) done = *granted;
          break;
        }
        case Workload::kCas:
          st = CasUntilWon(client, cas_key, value, &conflicts[t]);
          done = clock->Monotonic();
          break;
        case Workload::kWatch:
        case Workload::kSessions:
          break;  // handled by RunWatch / RunSessions
      }
      if (due < measure_from) continue;
      if (!st.ok()) {
        errors.Add(st);
        continue;
      }
      ++ops[t];
      histograms[t].Record(absl::ToInt64Nanoseconds(done - due));
    }
  });
  BenchResult r;
  r.workload = spec.workload;
  r.clients = spec.clients;
  r.measured = spec.duration;
  for (int t = 0; t < spec.clients; ++t) {
    r.ops += ops[t];
    r.conflicts += conflicts[t];
    r.latency.Merge(histograms[t]);
  }
  errors.CopyTo(&r);
  return r;
}

// Keeps `spec.sessions` sessions alive on a fixed renewal schedule. Client t
// owns sessions t, t+clients, ...; its k-th keepalive (over its n sessions,
// round-robin) is due at start + (k / n + (k % n) / n) * interval, so the
// renewals of all sessions are spread evenly over each interval.
absl::StatusOr<BenchResult> RunSessions(BenchTarget* target,
                                        const BenchSpec& spec, Clock* clock) {
  auto clients = MakeClients(target, spec.clients);
  if (!clients.ok()) return clients.status();
  std::vector<std::vector<int64_t>> owned(spec.clients);
  ErrorLog setup_errors;
  OnEachClient(spec.clients, [&](int t) {
    for (int s = t; s < spec.sessions; s += spec.clients) {
      auto id = (*clients)[t]->OpenSession(spec.session_ttl);
      if (!id.ok()) {
        setup_errors.Add(id.status());
        return;
      }
      owned[t].push_back(*id);
    }
  });
  BenchResult setup;
  setup_errors.CopyTo(&setup);

  std::vector<LatencyHistogram> histograms(spec.clients);
  std::vector<int64_t> ops(spec.clients, 0);
  ErrorLog errors;
  const absl::Time start = clock->Monotonic();
  const absl::Time measure_from = start + spec.warmup;
  const absl::Time end = measure_from + spec.duration;
  if (setup.errors == 0) {
    OnEachClient(spec.clients, [&](int t) {
      const std::vector<int64_t>& mine = owned[t];
      if (mine.empty()) return;
      const int64_t n = static_cast<int64_t>(mine.size());
      for (int64_t k = 0;; ++k) {
        const absl::Time due = start + spec.keepalive_interval * (k / n) +
                               spec.keepalive_interval * (k % n) / n +
                               spec.keepalive_interval * t / (spec.clients * n);
        if (due >= end) break;
        if (clock->Monotonic() < due) clock->SleepUntil(due);
        absl::Status st = (*clients)[t]->KeepAlive(mine[k % n]);
        const absl::Time done = clock->Monotonic();
        if (due < measure_from) continue;
        if (!st.ok()) {
          errors.Add(st);
          continue;
        }
        ++ops[t];
        histograms[t].Record(absl::ToInt64Nanoseconds(done - due));
      }
    });
  }
  OnEachClient(spec.clients, [&](int t) {
    for (int64_t id : owned[t]) (*clients)[t]->CloseSession(id).IgnoreError();
  });
  if (setup.errors > 0) {
    return absl::UnavailableError(
        absl::StrCat("opening ", spec.sessions, " sessions failed ",
                     setup.errors, " times; first error: ", setup.first_error));
  }
  BenchResult r;
  r.workload = Workload::kSessions;
  r.clients = spec.clients;
  r.measured = spec.duration;
  for (int t = 0; t < spec.clients; ++t) {
    r.ops += ops[t];
    r.latency.Merge(histograms[t]);
  }
  errors.CopyTo(&r);
  return r;
}

// What the watchers of a watch run share. Callbacks run on many threads.
struct WatchSink {
  static constexpr int kShards = 16;
  struct Shard {
    absl::Mutex mu;
    LatencyHistogram latency ABSL_GUARDED_BY(mu);
  };
  Clock* clock;
  absl::Time measure_from;
  absl::Time end;
  Shard shards[kShards];
  std::atomic<int64_t> synced{0};
  std::atomic<int64_t> received{0};  // measured events
  ErrorLog errors;

  void OnEvent(int watcher, absl::StatusOr<absl::string_view> value) {
    if (!value.ok()) {
      errors.Add(value.status());
      return;
    }
    absl::Time due;
    if (!ParseStamp(*value, &due)) {
      synced.fetch_add(1);
      return;
    }
    if (due < measure_from || due >= end) return;
    const int64_t latency = absl::ToInt64Nanoseconds(clock->Monotonic() - due);
    Shard& s = shards[watcher % kShards];
    {
      absl::MutexLock l(&s.mu);
      s.latency.Record(latency);
    }
    received.fetch_add(1);
  }
};

// Polls `done` until true or `timeout` passes; true if it became true.
template <typename Pred>
bool WaitFor(Clock* clock, absl::Duration timeout, Pred done) {
  const absl::Time deadline = clock->Monotonic() + timeout;
  while (!done()) {
    if (clock->Monotonic() >= deadline) return false;
    clock->SleepUntil(clock->Monotonic() + absl::Milliseconds(5));
  }
  return true;
}

absl::StatusOr<BenchResult> RunWatch(BenchTarget* target, const BenchSpec& spec,
                                     Clock* clock) {
  // Connections for the watchers, plus the putter's own.
  auto clients = MakeClients(target, spec.clients + 1);
  if (!clients.ok()) return clients.status();
  BenchClient& putter = *clients->back();
  const std::string prefix = absl::StrCat(spec.key_prefix, "watch/");
  auto sink = std::make_unique<WatchSink>();
  sink->clock = clock;

  // The key each watcher's events come from: one shared key, or (distinct)
  // one per watcher.
  auto prefix_of = [&](int w) {
    return spec.distinct_watch_keys ? absl::StrCat(prefix, "w", w, "/")
                                    : prefix;
  };
  const int keys = spec.distinct_watch_keys ? spec.watchers : 1;
  std::vector<std::string> put_keys;
  for (int k = 0; k < keys; ++k) {
    put_keys.push_back(absl::StrCat(prefix_of(k), kWatchLeaf));
  }
  std::vector<std::unique_ptr<BenchWatch>> watches;
  for (int w = 0; w < spec.watchers; ++w) {
    auto watch = (*clients)[w % spec.clients]->Watch(
        prefix_of(w), [s = sink.get(), w](absl::StatusOr<absl::string_view> v) {
          s->OnEvent(w, v);
        });
    if (!watch.ok()) return watch.status();
    watches.push_back(*std::move(watch));
  }
  // A watch may start streaming after Watch() returns: put a marker and
  // wait until every watcher has seen it, so none misses the first events.
  const int64_t want = spec.watchers;
  bool ready = false;
  for (int attempt = 0; attempt < 5 && !ready; ++attempt) {
    sink->synced.store(0);
    for (const std::string& key : put_keys) {
      absl::Status st = putter.Put(key, "sync");
      if (!st.ok()) return st;
    }
    ready = WaitFor(clock, absl::Seconds(10),
                    [&] { return sink->synced.load() >= want; });
  }
  if (!ready) {
    return absl::DeadlineExceededError(
        absl::StrCat("only ", sink->synced.load(), " of ", want,
                     " watchers were streaming after 5 marker puts"));
  }

  const absl::Time start = clock->Monotonic();
  sink->measure_from = start + spec.warmup;
  sink->end = sink->measure_from + spec.duration;
  BenchSpec one = spec;
  one.clients = 1;  // a single putter: the schedule is the whole rate
  Schedule schedule(one, 0, start);
  int64_t puts = 0;
  int64_t next_key = 0;
  ErrorLog put_errors;
  while (schedule.Peek(clock) < sink->end) {
    const absl::Time due = schedule.Next(clock);
    absl::Status st = putter.Put(put_keys[next_key++ % keys],
                                 StampedValue(due, spec.value_size));
    if (due < sink->measure_from) continue;
    if (st.ok()) {
      ++puts;
    } else {
      put_errors.Add(st);
    }
  }
  // A put to a distinct key reaches its one watcher; to the shared key,
  // all of them.
  const int64_t expected =
      spec.distinct_watch_keys ? puts : puts * spec.watchers;
  WaitFor(clock, spec.drain_timeout,
          [&] { return sink->received.load() >= expected; });
  watches.clear();  // joins the watch threads: the sink is quiet after this

  BenchResult r;
  r.workload = Workload::kWatch;
  r.clients = spec.clients;
  r.measured = spec.duration;
  r.ops = puts;
  r.events = sink->received.load();
  for (WatchSink::Shard& s : sink->shards) {
    absl::MutexLock l(&s.mu);
    r.latency.Merge(s.latency);
  }
  put_errors.CopyTo(&r);
  BenchResult watch_errors;
  sink->errors.CopyTo(&watch_errors);
  if (r.first_error.empty()) r.first_error = watch_errors.first_error;
  r.errors += watch_errors.errors;
  if (r.events < expected) {
    r.errors += expected - r.events;
    if (r.first_error.empty()) {
      r.first_error = absl::StrCat(expected - r.events,
                                   " watch events did not arrive within ",
                                   absl::FormatDuration(spec.drain_timeout));
    }
  }
  return r;
}

}  // namespace

const char* WorkloadName(Workload w) {
  switch (w) {
    case Workload::kPut:
      return "put";
    case Workload::kGet:
      return "get";
    case Workload::kLock:
      return "lock";
    case Workload::kWatch:
      return "watch";
    case Workload::kCas:
      return "cas";
    case Workload::kSessions:
      return "sessions";
  }
  return "?";
}

double BenchResult::ops_per_second() const {
  double s = absl::ToDoubleSeconds(measured);
  return s > 0 ? static_cast<double>(ops) / s : 0;
}

double BenchResult::events_per_second() const {
  double s = absl::ToDoubleSeconds(measured);
  return s > 0 ? static_cast<double>(events) / s : 0;
}

std::string StampedValue(absl::Time due, int64_t size) {
  std::string v =
      absl::StrCat(absl::ToInt64Nanoseconds(due - absl::UnixEpoch()), "|");
  if (static_cast<int64_t>(v.size()) < size) {
    v.append(static_cast<size_t>(size) - v.size(), 'x');
  }
  return v;
}

bool ParseStamp(absl::string_view value, absl::Time* due) {
  size_t bar = value.find('|');
  if (bar == absl::string_view::npos) return false;
  int64_t ns = 0;
  if (!absl::SimpleAtoi(value.substr(0, bar), &ns)) return false;
  *due = absl::UnixEpoch() + absl::Nanoseconds(ns);
  return true;
}

absl::StatusOr<BenchResult> RunBench(BenchTarget* target, const BenchSpec& spec,
                                     Clock* clock) {
  if (spec.clients < 1) {
    return absl::InvalidArgumentError("clients must be at least 1");
  }
  if (spec.key_space < 1) {
    return absl::InvalidArgumentError("key space must be at least 1");
  }
  if (spec.workload == Workload::kWatch) {
    if (spec.watchers < 1) {
      return absl::InvalidArgumentError("watchers must be at least 1");
    }
    return RunWatch(target, spec, clock);
  }
  if (spec.workload == Workload::kSessions) {
    if (spec.sessions < 1) {
      return absl::InvalidArgumentError("sessions must be at least 1");
    }
    if (spec.keepalive_interval <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("keepalive interval must be positive");
    }
    return RunSessions(target, spec, clock);
  }
  return RunRequests(target, spec, clock);
}

}  // namespace berth::cli
