#include "scheduler/server/dashboard/scheduler_source.h"

#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "proto/agent.grpc.pb.h"
#include "scheduler/server/logs_proxy.h"

namespace berth::sched::dashboard {
namespace {

// A page waits for the reply, so an agent that hangs costs at most this.
constexpr auto kAgentDeadline = std::chrono::seconds(5);
// Bounds the reply (and the browser's work) whatever N the page asks for.
constexpr size_t kMaxTailBytes = 256 << 10;

// One AgentLogs.Logs call with a deadline (api_logs.cc ties its call to the
// CLI's call instead; a page request has no gRPC parent).
class AgentTailStream final : public AgentLogStream {
 public:
  AgentTailStream(std::shared_ptr<grpc::Channel> channel,
                  const agentpb::LogsRequest& req)
      : stub_(agentpb::AgentLogs::NewStub(std::move(channel))) {
    ctx_.set_deadline(std::chrono::system_clock::now() + kAgentDeadline);
    reader_ = stub_->Logs(&ctx_, req);
  }

  bool Read(agentpb::LogChunk* chunk) override { return reader_->Read(chunk); }
  grpc::Status Finish() override { return reader_->Finish(); }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<agentpb::AgentLogs::Stub> stub_;
  std::unique_ptr<grpc::ClientReader<agentpb::LogChunk>> reader_;
};

}  // namespace

absl::StatusOr<LogTail> SchedulerSource::Logs(
    const schedpb::AllocLogsRequest& req) {
  absl::StatusOr<LogsTarget> target = s_->FindLogsTarget(req);
  if (!target.ok()) return target.status();
  LogTail tail;
  tail.alloc_id = target->alloc_id;
  tail.node = target->node;
  LogsProxyDeps deps;
  deps.open = [this](const std::string& address,
                     const agentpb::LogsRequest& r) {
    return std::make_unique<AgentTailStream>(s_->DialAgent(address), r);
  };
  deps.node_address = [this](const std::string& node) {
    return s_->NodeAddress(node);
  };
  deps.send = [&tail](const schedpb::AllocLogsChunk& c) {
    tail.text += c.data();
    if (tail.text.size() > kMaxTailBytes) {
      tail.text.erase(0, tail.text.size() - kMaxTailBytes);
      tail.truncated = true;
    }
    if (c.skipped() > 0) {
      tail.notice = absl::StrCat(c.skipped(), " bytes were rotated away");
    }
    if (!c.notice().empty()) tail.notice = c.notice();
    return true;
  };
  // Without follow the proxy never waits to reconnect.
  deps.wait = [](absl::Duration) { return false; };
  schedpb::AllocLogsRequest once = req;
  once.set_follow(false);
  if (absl::Status st = ProxyLogs(once, *target, deps); !st.ok()) return st;
  return tail;
}

}  // namespace berth::sched::dashboard
