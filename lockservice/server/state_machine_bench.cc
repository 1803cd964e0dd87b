// Apply throughput of the state machine on a real SQLite file (WAL,
// synchronous=NORMAL; one transaction per applied entry, as in production).
#include <unistd.h>

#include <filesystem>
#include <string>

#include "benchmark/benchmark.h"
#include "lockservice/server/state_machine.h"

namespace berth::lock {
namespace {

std::filesystem::path TempDir(const char* tag) {
  return std::filesystem::temp_directory_path() /
         (std::string("berth_sm_bench_") + tag + "_" +
          std::to_string(getpid()));
}

// Removes a benchmark's files when the benchmark function returns.
struct TempCleanup {
  std::filesystem::path dir;
  ~TempCleanup() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

std::unique_ptr<StateMachine> OpenTemp(const char* tag) {
  std::filesystem::path dir = TempDir(tag);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  StateMachine::Options opts;
  opts.path = (dir / "bench.db").string();
  absl::StatusOr<std::unique_ptr<StateMachine>> sm = StateMachine::Open(opts);
  return sm.ok() ? *std::move(sm) : nullptr;
}

void BM_ApplyPut(benchmark::State& state) {
  TempCleanup cleanup{TempDir("put")};
  std::unique_ptr<StateMachine> sm = OpenTemp("put");
  if (!sm) {
    state.SkipWithError("open failed");
    return;
  }
  std::string value(state.range(0), 'v');
  int64_t i = 0;
  for (auto _ : state) {
    lockpb::Command c;
    c.set_leader_time_unix_ms(1'700'000'000'000 + i);
    c.mutable_put()->set_key("key/" + std::to_string(i % 10'000));
    c.mutable_put()->set_value(value);
    absl::StatusOr<ApplyResult> r = sm->Apply(sm->applied_index() + 1, c);
    if (!r.ok() || !r->status.ok()) {
      state.SkipWithError("apply failed");
      return;
    }
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ApplyPut)->Arg(64)->Arg(4096);

// 256 B puts applied 64 per batch (one SQLite transaction per batch, as
// lockd's driver applies them). Arg 1 adds a WriteId to every put, as the
// client library sends (one client, acked_below trailing by 16 seqs, like
// 16 pipelining threads): the cost of exactly-once dedupe.
void BM_ApplyPutBatch(benchmark::State& state) {
  TempCleanup cleanup{TempDir("batch")};
  std::unique_ptr<StateMachine> sm = OpenTemp("batch");
  if (!sm) {
    state.SkipWithError("open failed");
    return;
  }
  const bool write_ids = state.range(0) != 0;
  std::string value(256, 'v');
  int64_t i = 0;
  for (auto _ : state) {
    if (!sm->BeginBatch().ok()) {
      state.SkipWithError("begin batch failed");
      return;
    }
    for (int n = 0; n < 64; ++n, ++i) {
      lockpb::Command c;
      c.set_leader_time_unix_ms(1'700'000'000'000 + i);
      c.mutable_put()->set_key("key/" + std::to_string(i % 10'000));
      c.mutable_put()->set_value(value);
      if (write_ids) {
        lockpb::WriteId* id = c.mutable_put()->mutable_write_id();
        id->set_client_id(42);
        id->set_seq(i + 1);
        id->set_acked_below(i + 1 > 16 ? i + 1 - 16 : 1);
      }
      absl::StatusOr<ApplyResult> r = sm->Apply(sm->applied_index() + 1, c);
      if (!r.ok() || !r->status.ok()) {
        state.SkipWithError("apply failed");
        return;
      }
    }
    if (!sm->CommitBatch().ok()) {
      state.SkipWithError("commit batch failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_ApplyPutBatch)->Arg(0)->Arg(1);

// One acquire plus one release per iteration, with a standing queue of
// waiters so every release also grants.
void BM_LockHandoff(benchmark::State& state) {
  TempCleanup cleanup{TempDir("lock")};
  std::unique_ptr<StateMachine> sm = OpenTemp("lock");
  if (!sm) {
    state.SkipWithError("open failed");
    return;
  }
  int64_t now = 1'700'000'000'000;
  auto apply = [&](lockpb::Command c) {
    c.set_leader_time_unix_ms(now);
    return sm->Apply(sm->applied_index() + 1, c);
  };
  constexpr int kLeases = 8;
  for (int i = 1; i <= kLeases; ++i) {
    lockpb::Command g;
    g.mutable_lease_grant()->set_id(i);
    g.mutable_lease_grant()->set_ttl_ms(int64_t{3600} * 1000);
    (void)apply(g);
    lockpb::Command a;
    a.mutable_lock_acquire()->set_name("bench");
    a.mutable_lock_acquire()->set_lease(i);
    a.mutable_lock_acquire()->set_lock_delay_ms(0);
    (void)apply(a);
  }
  int64_t token = sm->Holder("bench")->token();
  int64_t holder = sm->Holder("bench")->lease();
  for (auto _ : state) {
    lockpb::Command rel;
    rel.mutable_lock_release()->set_name("bench");
    rel.mutable_lock_release()->set_token(token);
    absl::StatusOr<ApplyResult> r = apply(rel);
    if (!r.ok() || r->locks.grants.size() != 1) {
      state.SkipWithError("handoff failed");
      return;
    }
    token = r->locks.grants[0].token;
    // The old holder queues again at the back.
    lockpb::Command a;
    a.mutable_lock_acquire()->set_name("bench");
    a.mutable_lock_acquire()->set_lease(holder);
    a.mutable_lock_acquire()->set_lock_delay_ms(0);
    (void)apply(a);
    holder = r->locks.grants[0].lease;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LockHandoff);

}  // namespace
}  // namespace berth::lock

BENCHMARK_MAIN();
