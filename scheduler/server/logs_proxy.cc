#include "scheduler/server/logs_proxy.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace berth::sched {
namespace {

// Errors a restarting or briefly unreachable agent produces.
bool Transient(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return true;
    default:
      return false;
  }
}

absl::Status NodeGone(const LogsTarget& t) {
  return absl::FailedPreconditionError(
      absl::StrCat("node ", t.node,
                   " is gone (its agent is no longer registered); the logs "
                   "of allocation ",
                   t.alloc_id, " stay on that host"));
}

absl::Status Unreachable(const LogsTarget& t, const std::string& address,
                         const grpc::Status& s) {
  return absl::UnavailableError(
      absl::StrCat("agent of node ", t.node, " at ", address,
                   " is unreachable: ", s.error_message()));
}

absl::Status FromAgent(const LogsTarget& t, const std::string& address,
                       const grpc::Status& s) {
  if (Transient(s.error_code())) return Unreachable(t, address, s);
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat("node ", t.node, ": ", s.error_message()));
}

}  // namespace

absl::Status ProxyLogs(const schedpb::AllocLogsRequest& req,
                       const LogsTarget& target, const LogsProxyDeps& deps,
                       const LogsProxyOptions& options) {
  schedpb::AllocLogsChunk header;
  header.set_alloc_id(target.alloc_id);
  header.set_node(target.node);
  header.set_job_allocations(target.job_allocations);
  if (!deps.send(header)) return absl::OkStatus();

  agentpb::LogsRequest agent_req;
  agent_req.set_alloc_id(target.alloc_id);
  agent_req.set_stream(req.stream());
  agent_req.set_tail_lines(req.tail_lines());
  agent_req.set_follow(req.follow());
  agent_req.set_offset(req.offset());
  agent_req.set_since_unix_ms(req.since_unix_ms());

  absl::Duration backoff = options.first_backoff;
  absl::Duration waited;  // since the agent last answered
  bool noticed = false;   // told the caller we are reconnecting
  bool told_waiting = false;
  while (true) {
    std::optional<std::string> address = deps.node_address(target.node);
    if (!address.has_value()) return NodeGone(target);
    std::unique_ptr<AgentLogStream> stream = deps.open(*address, agent_req);
    agentpb::LogChunk in;
    bool answered = false;
    while (stream->Read(&in)) {
      answered = true;
      schedpb::AllocLogsChunk out;
      out.set_data(std::move(*in.mutable_data()));
      out.set_offset(in.offset());
      out.set_next_offset(in.next_offset());
      out.set_skipped(in.skipped());
      if (noticed) {
        out.set_notice(absl::StrCat("reconnected to the agent of node ",
                                    target.node, " at ", *address));
        noticed = false;
      }
      if (!deps.send(out)) return absl::OkStatus();
      // A reconnect continues right after what was forwarded.
      agent_req.set_tail_lines(0);
      agent_req.set_since_unix_ms(0);
      agent_req.set_offset(in.next_offset());
    }
    grpc::Status s = stream->Finish();
    if (s.ok()) return absl::OkStatus();
    // Before any output, NOT_FOUND under follow means the task has not
    // started yet (its log directory is made at launch): wait for it.
    const bool not_started = s.error_code() == grpc::StatusCode::NOT_FOUND &&
                             agent_req.offset() == 0 && !answered;
    if (!req.follow() || !(Transient(s.error_code()) || not_started)) {
      return FromAgent(target, *address, s);
    }
    if (answered) {
      waited = absl::ZeroDuration();
      backoff = options.first_backoff;
    }
    if (waited >= options.reconnect_window) {
      return not_started ? FromAgent(target, *address, s)
                         : Unreachable(target, *address, s);
    }
    std::string notice;
    if (not_started && !told_waiting) {
      notice = absl::StrCat("allocation ", target.alloc_id,
                            " has no output on node ", target.node,
                            " yet; waiting for it to start");
      told_waiting = true;
    } else if (!not_started && !noticed) {
      notice = absl::StrCat("agent of node ", target.node, " at ", *address,
                            " is unreachable (", s.error_message(),
                            "); reconnecting");
      noticed = true;
    }
    if (!notice.empty()) {
      schedpb::AllocLogsChunk out;
      out.set_notice(std::move(notice));
      if (!deps.send(out)) return absl::OkStatus();
    }
    if (!deps.wait(backoff)) return absl::OkStatus();
    waited += backoff;
    backoff = std::min(backoff * 2, options.max_backoff);
  }
}

}  // namespace berth::sched
