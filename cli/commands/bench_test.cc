// `berth bench`: the load driver against a fake target on a simulated clock
// (each fake operation advances the clock by a fixed cost, so latencies and
// counts follow from the schedule exactly), and its command-line checks.
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "cli/command.h"
#include "cli/commands/bench_runner.h"
#include "cli/commands/bench_target.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMs = 1'000'000;

struct FakeCosts {
  absl::Duration put = absl::Milliseconds(1);
  absl::Duration lock_wait = absl::Milliseconds(3);
  absl::Duration lock_release = absl::Milliseconds(1);
  int fail_every = 0;         // every n-th put fails; 0 = never
  int cas_lose_every = 0;     // every n-th CAS attempt loses; 0 = never
  int64_t lost_session = -1;  // KeepAlive of this session fails
};

class FakeTarget;

class FakeWatch : public BenchWatch {
 public:
  FakeWatch(FakeTarget* target, int id) : target_(target), id_(id) {}
  ~FakeWatch() override;

 private:
  FakeTarget* target_;
  int id_;
};

class FakeTarget : public BenchTarget {
 public:
  FakeTarget(SimClock* clock, FakeCosts costs) : clock_(clock), costs_(costs) {}
  std::string name() const override { return "fake"; }
  absl::StatusOr<std::unique_ptr<BenchClient>> NewClient() override;

  absl::Status Put(absl::string_view key, absl::string_view value) {
    clock_->Advance(costs_.put);
    std::vector<WatchEventFn> watchers;
    {
      absl::MutexLock l(&mu_);
      ++puts_;
      if (costs_.fail_every > 0 && puts_ % costs_.fail_every == 0) {
        return absl::UnavailableError("fake put failure");
      }
      keys_.insert(std::string(key));
      for (auto& w : watches_) {
        if (absl::StartsWith(key, w.prefix)) watchers.push_back(w.fn);
      }
    }
    for (WatchEventFn& fn : watchers) fn(value);
    return absl::OkStatus();
  }
  absl::Status Get(absl::string_view key) {
    clock_->Advance(costs_.put);
    absl::MutexLock l(&mu_);
    if (!keys_.contains(std::string(key))) {
      return absl::NotFoundError("get of a key that was never written");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<absl::Time> LockHandoff() {
    clock_->Advance(costs_.lock_wait);
    absl::Time granted = clock_->Monotonic();
    clock_->Advance(costs_.lock_release);
    return granted;
  }
  absl::StatusOr<bool> Cas() {
    clock_->Advance(costs_.put);
    absl::MutexLock l(&mu_);
    ++cas_attempts_;
    return !(costs_.cas_lose_every > 0 &&
             cas_attempts_ % costs_.cas_lose_every == 0);
  }
  int64_t OpenSession() {
    absl::MutexLock l(&mu_);
    open_sessions_.insert(next_session_);
    return next_session_++;
  }
  absl::Status KeepAlive(int64_t id) {
    clock_->Advance(costs_.put);
    absl::MutexLock l(&mu_);
    if (!open_sessions_.contains(id)) {
      return absl::NotFoundError("keepalive of a closed session");
    }
    if (id == costs_.lost_session) return absl::NotFoundError("lease expired");
    return absl::OkStatus();
  }
  void CloseSession(int64_t id) {
    absl::MutexLock l(&mu_);
    open_sessions_.erase(id);
  }
  size_t open_sessions() {
    absl::MutexLock l(&mu_);
    return open_sessions_.size();
  }
  int AddWatch(absl::string_view prefix, WatchEventFn fn) {
    absl::MutexLock l(&mu_);
    watches_.push_back({next_id_, std::string(prefix), std::move(fn)});
    return next_id_++;
  }
  void RemoveWatch(int id) {
    absl::MutexLock l(&mu_);
    std::erase_if(watches_, [id](auto& w) { return w.id == id; });
  }
  int64_t puts() {
    absl::MutexLock l(&mu_);
    return puts_;
  }

 private:
  SimClock* clock_;
  FakeCosts costs_;
  absl::Mutex mu_;
  int64_t puts_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> keys_ ABSL_GUARDED_BY(mu_);
  struct Watcher {
    int id;
    std::string prefix;
    WatchEventFn fn;
  };
  std::vector<Watcher> watches_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t cas_attempts_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<int64_t> open_sessions_ ABSL_GUARDED_BY(mu_);
  int64_t next_session_ ABSL_GUARDED_BY(mu_) = 1;
};

FakeWatch::~FakeWatch() { target_->RemoveWatch(id_); }

class FakeClient : public BenchClient {
 public:
  explicit FakeClient(FakeTarget* t) : t_(t) {}
  absl::Status Put(absl::string_view key, absl::string_view value) override {
    return t_->Put(key, value);
  }
  absl::Status Get(absl::string_view key, bool) override {
    return t_->Get(key);
  }
  absl::StatusOr<absl::Time> LockHandoff(absl::string_view, Clock*) override {
    return t_->LockHandoff();
  }
  absl::StatusOr<std::unique_ptr<BenchWatch>> Watch(absl::string_view prefix,
                                                    WatchEventFn fn) override {
    return std::make_unique<FakeWatch>(t_, t_->AddWatch(prefix, std::move(fn)));
  }
  absl::StatusOr<bool> CompareAndSwap(absl::string_view,
                                      absl::string_view) override {
    return t_->Cas();
  }
  absl::StatusOr<int64_t> OpenSession(absl::Duration) override {
    return t_->OpenSession();
  }
  absl::Status KeepAlive(int64_t id) override { return t_->KeepAlive(id); }
  absl::Status CloseSession(int64_t id) override {
    t_->CloseSession(id);
    return absl::OkStatus();
  }

 private:
  FakeTarget* t_;
};

absl::StatusOr<std::unique_ptr<BenchClient>> FakeTarget::NewClient() {
  return std::make_unique<FakeClient>(this);
}

BenchSpec Spec(Workload w) {
  BenchSpec s;
  s.workload = w;
  s.clients = 1;
  s.warmup = absl::ZeroDuration();
  s.duration = absl::Milliseconds(100);
  return s;
}

TEST(BenchRunnerTest, ClosedLoopMeasuresServiceTime) {
  SimClock clock;
  FakeTarget target(&clock, {});
  auto r = RunBench(&target, Spec(Workload::kPut), &clock);
  ASSERT_TRUE(r.ok()) << r.status();
  // 100ms of back-to-back 1ms puts.
  EXPECT_EQ(r->ops, 100);
  EXPECT_EQ(r->errors, 0);
  EXPECT_EQ(r->latency.Percentile(50), 1 * kMs);
  EXPECT_EQ(r->latency.max(), 1 * kMs);
  EXPECT_DOUBLE_EQ(r->ops_per_second(), 1000.0);
}

// Requests due every 10ms on a server that takes 25ms: request i is due at
// 10i but starts when request i-1 ends (25i), so it waits 15i longer than
// its own service time. A closed loop would report 25ms throughout.
TEST(BenchRunnerTest, OpenLoopCountsFromDueTime) {
  SimClock clock;
  FakeCosts costs;
  costs.put = absl::Milliseconds(25);
  FakeTarget target(&clock, costs);
  BenchSpec spec = Spec(Workload::kPut);
  spec.rate = 100;
  auto r = RunBench(&target, spec, &clock);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->ops, 10);  // due at 0, 10, ..., 90ms
  EXPECT_EQ(r->latency.min(), 25 * kMs);
  EXPECT_EQ(r->latency.max(), (25 + 15 * 9) * kMs);

  SimClock closed_clock;
  FakeTarget closed_target(&closed_clock, costs);
  auto closed = RunBench(&closed_target, Spec(Workload::kPut), &closed_clock);
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->latency.max(), 25 * kMs);
}

TEST(BenchRunnerTest, WarmupIsNotMeasured) {
  SimClock clock;
  FakeTarget target(&clock, {});
  BenchSpec spec = Spec(Workload::kPut);
  spec.warmup = absl::Milliseconds(20);
  spec.duration = absl::Milliseconds(50);
  auto r = RunBench(&target, spec, &clock);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(target.puts(), 70);
  EXPECT_EQ(r->ops, 50);
  EXPECT_EQ(r->latency.count(), 50);
}

TEST(BenchRunnerTest, ErrorsAreCountedNotTimed) {
  SimClock clock;
  FakeCosts costs;
  costs.fail_every = 2;
  FakeTarget target(&clock, costs);
  auto r = RunBench(&target, Spec(Workload::kPut), &clock);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ops, 50);
  EXPECT_EQ(r->errors, 50);
  EXPECT_EQ(r->latency.count(), 50);
  EXPECT_THAT(r->first_error, HasSubstr("fake put failure"));
}

TEST(BenchRunnerTest, GetPopulatesTheKeySpaceFirst) {
  SimClock clock;
  FakeTarget target(&clock, {});
  BenchSpec spec = Spec(Workload::kGet);
  spec.key_space = 10;
  spec.clients = 3;
  auto r = RunBench(&target, spec, &clock);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(target.puts(), 10);
  EXPECT_GT(r->ops, 0);
  EXPECT_EQ(r->errors, 0) << r->first_error;
}

TEST(BenchRunnerTest, LockLatencyEndsAtTheGrant) {
  SimClock clock;
  FakeTarget target(&clock, {});
  auto r = RunBench(&target, Spec(Workload::kLock), &clock);
  ASSERT_TRUE(r.ok()) << r.status();
  // Each handoff is 3ms of waiting then 1ms to release: 25 in 100ms.
  EXPECT_EQ(r->ops, 25);
  EXPECT_EQ(r->latency.min(), 3 * kMs);
  EXPECT_EQ(r->latency.max(), 3 * kMs);
}

TEST(BenchRunnerTest, WatchEventsReachEveryWatcher) {
  SimClock clock;
  FakeTarget target(&clock, {});
  BenchSpec spec = Spec(Workload::kWatch);
  spec.clients = 2;
  spec.watchers = 10;
  spec.duration = absl::Milliseconds(50);
  auto r = RunBench(&target, spec, &clock);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ops, 50);
  EXPECT_EQ(r->events, 500);
  EXPECT_EQ(r->errors, 0) << r->first_error;
  EXPECT_EQ(r->latency.max(), 1 * kMs);
}

// Distinct keys: each watcher has its own key, so a put is one event, and
// every watcher (10 of them, 50 puts round-robin) must see its share.
TEST(BenchRunnerTest, DistinctKeyWatchesGetOneEventPerPut) {
  SimClock clock;
  FakeTarget target(&clock, {});
  BenchSpec spec = Spec(Workload::kWatch);
  spec.clients = 2;
  spec.watchers = 10;
  spec.distinct_watch_keys = true;
  spec.duration = absl::Milliseconds(50);
  auto r = RunBench(&target, spec, &clock);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ops, 50);
  EXPECT_EQ(r->events, 50);
  EXPECT_EQ(r->errors, 0) << r->first_error;
}

// Every 3rd attempt loses: a won swap takes 1ms, or 2ms after a loss.
TEST(BenchRunnerTest, CasRetriesLostAttemptsAndTimesTheWholeSwap) {
  SimClock clock;
  FakeCosts costs;
  costs.cas_lose_every = 3;
  FakeTarget target(&clock, costs);
  BenchSpec spec = Spec(Workload::kCas);
  spec.duration = absl::Milliseconds(90);
  auto r = RunBench(&target, spec, &clock);
  ASSERT_TRUE(r.ok()) << r.status();
  // The last swap starts at 89ms: attempt 90 loses, 91 wins. Of attempts
  // 1..91, 30 were lost and 61 won.
  EXPECT_EQ(r->ops, 61);
  EXPECT_EQ(r->conflicts, 30);
  EXPECT_EQ(r->errors, 0) << r->first_error;
  EXPECT_EQ(r->latency.min(), 1 * kMs);
  EXPECT_EQ(r->latency.max(), 2 * kMs);
}

// 5 sessions renewed every 5ms by one client: one keepalive due per ms,
// each taking exactly 1ms, so the schedule never waits and every renewal
// is 1ms late at most.
TEST(BenchRunnerTest, SessionsAreRenewedOnScheduleThenClosed) {
  SimClock clock;
  FakeCosts costs;
  costs.lost_session = 3;
  FakeTarget target(&clock, costs);
  BenchSpec spec = Spec(Workload::kSessions);
  spec.sessions = 5;
  spec.keepalive_interval = absl::Milliseconds(5);
  auto r = RunBench(&target, spec, &clock);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ops + r->errors, 100);
  EXPECT_EQ(r->errors, 20);  // every renewal of session 3
  EXPECT_THAT(r->first_error, HasSubstr("lease expired"));
  EXPECT_EQ(r->latency.max(), 1 * kMs);
  EXPECT_EQ(target.open_sessions(), 0u);
}

TEST(BenchRunnerTest, RejectsBadSpecs) {
  SimClock clock;
  FakeTarget target(&clock, {});
  BenchSpec spec = Spec(Workload::kPut);
  spec.clients = 0;
  EXPECT_THAT(RunBench(&target, spec, &clock).status().message(),
              HasSubstr("clients"));
  spec = Spec(Workload::kWatch);
  spec.watchers = 0;
  EXPECT_THAT(RunBench(&target, spec, &clock).status().message(),
              HasSubstr("watchers"));
}

TEST(BenchStampTest, RoundTripsAndPads) {
  absl::Time t = absl::UnixEpoch() + absl::Nanoseconds(123456789012345);
  std::string v = StampedValue(t, 256);
  EXPECT_EQ(v.size(), 256u);
  absl::Time back;
  ASSERT_TRUE(ParseStamp(v, &back));
  EXPECT_EQ(back, t);
  EXPECT_FALSE(ParseStamp("sync", &back));
  EXPECT_FALSE(ParseStamp("abc|def", &back));
  // Too small a size still carries the whole stamp.
  EXPECT_TRUE(ParseStamp(StampedValue(t, 1), &back));
}

struct CliResult {
  int code;
  std::string out;
  std::string err;
};

CliResult Invoke(std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = RunCli(args, out, err);
  return {code, out.str(), err.str()};
}

// Each of these fails before connecting to anything.
TEST(BenchCliTest, BadFlagsAreUsageErrorsNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{"bench", "put", "--clients", "0"}, "--clients"},
      {{"bench", "put", "--clients", "many"}, "--clients"},
      {{"bench", "get", "--duration", "10"}, "--duration"},
      {{"bench", "lock", "--warmup", "-1s"}, "--warmup"},
      {{"bench", "put", "--rate", "-5"}, "--rate"},
      {{"bench", "put", "--rate", "fast"}, "--rate"},
      {{"bench", "put", "--value-size", "0"}, "--value-size"},
      {{"bench", "put", "--key-space", "0"}, "--key-space"},
      {{"bench", "watch", "--watchers", "0"}, "--watchers"},
      {{"bench", "put", "--target", "mongo"}, "unsupported --target \"mongo\""},
      {{"bench", "put", "--target", "etcd"}, "--endpoints"},
      {{"bench", "put", "--server-pids", "12,x"}, "--server-pids"},
      {{"bench", "sessions", "--sessions", "0"}, "--sessions"},
      {{"bench", "sessions", "--session-ttl", "1ms"}, "--session-ttl"},
      {{"bench", "failover", "--max-wait", "soon"}, "--max-wait"},
      {{"bench", "failover", "--kill-pid", "0"}, "--kill-pid"},
  };
  for (const Case& c : cases) {
    CliResult r = Invoke(c.args);
    EXPECT_EQ(r.code, kExitUsage) << c.args[1] << " " << c.message;
    EXPECT_THAT(r.err, HasSubstr(c.message));
  }
}

TEST(BenchCliTest, GetAloneTakesSerializable) {
  EXPECT_THAT(Invoke({"bench", "get", "--help"}).out,
              HasSubstr("--serializable"));
  CliResult r = Invoke({"bench", "put", "--serializable"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("serializable"));
}

}  // namespace
}  // namespace berth::cli
