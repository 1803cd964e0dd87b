#include "tests/e2e/agent_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "lockservice/client/kv.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::e2e {

std::string AgentBinary() {
  const char* env = getenv("BERTH_AGENT_BIN");
  return env ? env : BERTH_AGENT_BIN;
}

AgentProcess::AgentProcess(std::string node, std::string endpoints,
                           std::string listen, std::string data_dir,
                           std::string runtime,
                           std::vector<std::string> extra_flags)
    : node_(std::move(node)),
      endpoints_(std::move(endpoints)),
      listen_(std::move(listen)),
      data_dir_(std::move(data_dir)),
      runtime_(std::move(runtime)),
      extra_flags_(std::move(extra_flags)) {}

AgentProcess::~AgentProcess() { Kill9(); }

absl::Status AgentProcess::Start() {
  if (pid_ > 0) return absl::FailedPreconditionError("agent already running");
  std::vector<std::string> args = {
      AgentBinary(), "--lock-endpoints", endpoints_, "--node-id",
      node_,         "--listen",         listen_,    "--data-dir",
      data_dir_,     "--runtime",        runtime_};
  args.insert(args.end(), extra_flags_.begin(), extra_flags_.end());
  AddInsecureUnlessTls(&args);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log =
      absl::StrCat(data_dir_, "/../agent-", node_, "-", ++starts_, ".log");
  pid_t pid = fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  return absl::OkStatus();
}

void AgentProcess::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = 0;
}

int AgentProcess::Term() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  pid_t r;
  while ((r = waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  pid_ = 0;
  return r < 0 ? -1 : status;
}

absl::Status AllocWriter::Put(const std::string& node,
                              const agentpb::AllocationSpec& spec) {
  absl::StatusOr<lock::PutResult> r = client_->kv().Put(
      absl::StrCat("/berth/allocs/", node, "/", spec.alloc_id()),
      spec.SerializeAsString());
  return r.status();
}

absl::Status AllocWriter::Delete(const std::string& node,
                                 const std::string& alloc_id) {
  return client_->kv()
      .Delete(absl::StrCat("/berth/allocs/", node, "/", alloc_id))
      .status();
}

std::optional<agentpb::AllocationStatus> AllocWriter::Status(
    const std::string& alloc_id) {
  absl::StatusOr<std::optional<lock::KeyValue>> kv =
      client_->kv().Get(absl::StrCat("/berth/status/", alloc_id));
  if (!kv.ok() || !kv->has_value()) return std::nullopt;
  agentpb::AllocationStatus st;
  if (!st.ParseFromString((*kv)->value)) return std::nullopt;
  return st;
}

std::optional<agentpb::NodeInfo> AllocWriter::Node(const std::string& node) {
  absl::StatusOr<std::optional<lock::KeyValue>> kv =
      client_->kv().Get(absl::StrCat("/berth/nodes/", node));
  if (!kv.ok() || !kv->has_value()) return std::nullopt;
  agentpb::NodeInfo info;
  if (!info.ParseFromString((*kv)->value)) return std::nullopt;
  return info;
}

agentpb::AllocationSpec ShellSpec(const std::string& id,
                                  const std::string& script,
                                  int64_t kill_timeout_ms) {
  agentpb::AllocationSpec s;
  s.set_alloc_id(id);
  s.set_job("e2e");
  s.add_command("/bin/sh");
  s.add_command("-c");
  s.add_command(script);
  s.set_kill_timeout_ms(kill_timeout_ms);
  s.set_attempt(1);
  return s;
}

bool ProcessAlive(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(in, line)) return false;
  // The state follows the parenthesised command name.
  size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() &&
         line[close + 2] != 'Z' && line[close + 2] != 'X';
}

}  // namespace berth::e2e
