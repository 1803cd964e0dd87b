// RunBench: drives one workload against a BenchTarget from N client threads
// and measures throughput and latency.
//
// Closed loop (rate 0): each client sends its next request when the last one
// returns; latency is the request's own service time.
// Open loop (rate R > 0): requests are due at a fixed schedule, R/s over all
// clients, and latency counts from when a request was *due*, not when it was
// sent. A stalled server therefore shows up as the queueing it causes
// instead of as fewer, faster samples (coordinated-omission correction).
//
// Workloads:
//   put    values of `value_size` bytes to random keys in `key_space`;
//   get    reads of random keys (pre-populated), linearizable by default;
//   lock   acquire-then-release of ONE lock shared by all clients; latency is
//          from the Lock call to the grant, so it includes waiting in line;
//   watch  `watchers` prefix watches spread over `clients` connections and
//          one putter; latency is from the put's due time (stamped in the
//          value) to the event reaching each watcher.
//   cas    every client compare-and-swaps ONE key (read, then write if
//          unchanged), retrying until its swap wins; an op is a won swap,
//          its latency spans all the retries, lost attempts are `conflicts`;
//   sessions  `sessions` sessions spread over the clients, each renewed
//          every `keepalive_interval` on a fixed schedule (always open
//          loop); an op is one keepalive, latency counts from its due time,
//          a failed keepalive (a lost session) is an error. Opening and
//          closing the sessions is not measured.
//
// Time comes only from the injected Clock, so tests can drive a SimClock.
// Thread safety: RunBench blocks the calling thread and joins all it starts.
#ifndef BERTH_CLI_COMMANDS_BENCH_RUNNER_H_
#define BERTH_CLI_COMMANDS_BENCH_RUNNER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/commands/bench_histogram.h"
#include "cli/commands/bench_target.h"
#include "common/clock.h"

namespace berth::cli {

enum class Workload { kPut, kGet, kLock, kWatch, kCas, kSessions };

const char* WorkloadName(Workload w);

struct BenchSpec {
  Workload workload = Workload::kPut;
  int clients = 1;
  absl::Duration duration = absl::Seconds(10);
  absl::Duration warmup = absl::Seconds(1);
  int64_t key_space = 1000;
  int64_t value_size = 256;
  double rate = 0;  // requests/s over all clients; 0 = closed loop
  bool serializable = false;
  int watchers = 1000;
  // Watch: each watcher watches its own key and the puts go round-robin
  // over those keys, so the server holds `watchers` distinct watches
  // (berth's client library cannot merge them) and each event reaches one.
  bool distinct_watch_keys = false;
  int sessions = 1000;
  absl::Duration session_ttl = absl::Seconds(10);
  // ttl/3, as berth's and etcd's own clients renew.
  absl::Duration keepalive_interval = absl::Seconds(10) / 3;
  // Every key the run touches starts with this.
  std::string key_prefix = "/bench/";
  // How long a watch run waits for events still in flight at the end.
  absl::Duration drain_timeout = absl::Seconds(10);
};

struct BenchResult {
  Workload workload = Workload::kPut;
  int clients = 0;
  absl::Duration measured;   // the measurement window
  int64_t ops = 0;           // successful requests (puts, for watch)
  int64_t errors = 0;        // failed requests, plus missing watch events
  std::string first_error;   // empty when errors == 0
  int64_t events = 0;        // watch only: events delivered in the window
  int64_t conflicts = 0;     // cas only: attempts another client won
  LatencyHistogram latency;  // nanoseconds

  double ops_per_second() const;
  double events_per_second() const;
};

absl::StatusOr<BenchResult> RunBench(BenchTarget* target, const BenchSpec& spec,
                                     Clock* clock);

// The watch value for a put due at `due`: "<monotonic ns>|" padded with
// 'x' to `size` bytes (longer if the stamp does not fit). Exposed for tests.
std::string StampedValue(absl::Time due, int64_t size);
// The stamp back, or nullopt-like false if `value` carries none.
bool ParseStamp(absl::string_view value, absl::Time* due);

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMANDS_BENCH_RUNNER_H_
