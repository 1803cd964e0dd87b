// Test harness for berth-agent end-to-end tests: runs the real berth-agent
// binary against a LockdCluster on 127.0.0.1 and talks to lockd through the
// client library the way the scheduler will.
//
// Thread safety: none; use from the test thread.
#ifndef BERTH_TESTS_E2E_AGENT_HARNESS_H_
#define BERTH_TESTS_E2E_AGENT_HARNESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lockservice/client/client.h"
#include "proto/agent.pb.h"

namespace berth::e2e {

std::string AgentBinary();

// One berth-agent process. Its data directory survives restarts, so a
// restarted agent finds its AllocStore.
class AgentProcess {
 public:
  AgentProcess(std::string node, std::string endpoints, std::string listen,
               std::string data_dir, std::string runtime,
               std::vector<std::string> extra_flags = {});
  ~AgentProcess();  // SIGKILL if still running

  absl::Status Start();
  void Kill9();
  // SIGTERM; returns the exit status once it has exited (-1 on error).
  int Term();
  pid_t pid() const { return pid_; }
  const std::string& listen() const { return listen_; }
  const std::string& node() const { return node_; }
  const std::string& data_dir() const { return data_dir_; }

 private:
  const std::string node_, endpoints_, listen_, data_dir_, runtime_;
  const std::vector<std::string> extra_flags_;
  pid_t pid_ = 0;
  int starts_ = 0;
};

// The scheduler's side of the key layout, through the client library.
class AllocWriter {
 public:
  explicit AllocWriter(lock::Client* client) : client_(client) {}

  absl::Status Put(const std::string& node,
                   const agentpb::AllocationSpec& spec);
  absl::Status Delete(const std::string& node, const std::string& alloc_id);
  // nullopt when absent or unreadable.
  std::optional<agentpb::AllocationStatus> Status(const std::string& alloc_id);
  std::optional<agentpb::NodeInfo> Node(const std::string& node);

 private:
  lock::Client* client_;
};

agentpb::AllocationSpec ShellSpec(const std::string& id,
                                  const std::string& script,
                                  int64_t kill_timeout_ms = 2000);

// True while `pid` names a live (not zombie) process.
bool ProcessAlive(pid_t pid);

}  // namespace berth::e2e

#endif  // BERTH_TESTS_E2E_AGENT_HARNESS_H_
