// ProxyLogs: forwards one allocation's output from the agent that runs it
// to a caller of the scheduler's AllocLogs RPC (berth job logs, berth alloc
// logs), so the CLI never needs an agent's address.
//
// With follow it survives an agent restart: when the agent's stream breaks
// it looks the node up again (the restarted agent may listen elsewhere) and
// reconnects with backoff, asking for the output after the last
// next_offset it forwarded, so nothing is repeated or lost. It gives up when
// the node is gone (its registration lapsed) or after
// LogsProxyOptions::reconnect_window of failed attempts. The agent ends a
// follow once the task has exited and its output is drained; that ends the
// proxy too.
//
// Every side effect is a dependency (LogsProxyDeps), so the reconnect logic
// is tested without gRPC, processes or sleeps (logs_proxy_test.cc).
//
// Thread safety: ProxyLogs runs on the caller's thread; the dependencies are
// called only from it.
#ifndef BERTH_SCHEDULER_SERVER_LOGS_PROXY_H_
#define BERTH_SCHEDULER_SERVER_LOGS_PROXY_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "proto/agent.pb.h"
#include "proto/scheduler.pb.h"

namespace berth::sched {

// One open AgentLogs.Logs call.
class AgentLogStream {
 public:
  virtual ~AgentLogStream() = default;
  // False at the end of the stream; then Finish tells why.
  virtual bool Read(agentpb::LogChunk* chunk) = 0;
  virtual grpc::Status Finish() = 0;
};

// What the logs are read from: found in the scheduler's mirror.
struct LogsTarget {
  std::string alloc_id;
  std::string node;
  int job_allocations = 0;  // > 0 when the caller named only the job
};

struct LogsProxyDeps {
  // Starts the agent's Logs call at `address`.
  std::function<std::unique_ptr<AgentLogStream>(const std::string& address,
                                                const agentpb::LogsRequest&)>
      open;
  // The node's registered agent address; nullopt once the node is gone.
  std::function<std::optional<std::string>(const std::string& node)>
      node_address;
  // Sends to the caller; false when the caller went away.
  std::function<bool(const schedpb::AllocLogsChunk&)> send;
  // Waits before the next attempt; false when the caller went away.
  std::function<bool(absl::Duration)> wait;
};

struct LogsProxyOptions {
  absl::Duration first_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
  // Follow gives up after waiting this long in total without reaching the
  // agent (reset whenever the agent answers).
  absl::Duration reconnect_window = absl::Seconds(60);
};

// OK when the stream ended (all output read; with follow, the task
// finished and drained) or the caller went away. Errors name the problem:
// FailedPrecondition when the node is gone, Unavailable when its agent
// cannot be reached, NotFound when the agent has no logs for the
// allocation.
absl::Status ProxyLogs(const schedpb::AllocLogsRequest& req,
                       const LogsTarget& target, const LogsProxyDeps& deps,
                       const LogsProxyOptions& options = {});

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_SERVER_LOGS_PROXY_H_
