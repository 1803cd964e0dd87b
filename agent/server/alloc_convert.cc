#include "agent/server/alloc_convert.h"

#include <pwd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/server/health_checker.h"

namespace berth::agent {
namespace {

constexpr char kNodesPrefix[] = "/berth/nodes/";
constexpr char kAllocsPrefix[] = "/berth/allocs/";
constexpr char kStatusPrefix[] = "/berth/status/";
constexpr absl::Duration kDefaultKillTimeout = absl::Seconds(5);

int64_t UnixMillisOrZero(absl::Time t) {
  if (t == absl::InfinitePast()) return 0;
  return absl::ToUnixMillis(t);
}

}  // namespace

std::string NodeKey(absl::string_view node) {
  return absl::StrCat(kNodesPrefix, node);
}

std::string AllocPrefix(absl::string_view node) {
  return absl::StrCat(kAllocsPrefix, node, "/");
}

std::string StatusKey(absl::string_view alloc_id) {
  return absl::StrCat(kStatusPrefix, alloc_id);
}

absl::StatusOr<std::string> AllocIdFromKey(absl::string_view node,
                                           absl::string_view key) {
  const std::string prefix = AllocPrefix(node);
  if (!absl::StartsWith(key, prefix) || key.size() == prefix.size() ||
      key.substr(prefix.size()).find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("key \"", key, "\" is not an allocation key under ",
                     prefix, "<alloc_id>"));
  }
  return std::string(key.substr(prefix.size()));
}

absl::StatusOr<agentpb::AllocationSpec> ParseAllocationSpec(
    absl::string_view node, absl::string_view key, absl::string_view value) {
  absl::StatusOr<std::string> id = AllocIdFromKey(node, key);
  if (!id.ok()) return id.status();
  agentpb::AllocationSpec spec;
  if (!spec.ParseFromString(std::string(value))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "allocation ", key, ": value is not a serialized AllocationSpec"));
  }
  if (spec.alloc_id() != *id) {
    return absl::InvalidArgumentError(
        absl::StrCat("allocation ", key, ": alloc_id \"", spec.alloc_id(),
                     "\" does not match the key"));
  }
  if (spec.kill_timeout_ms() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("allocation ", key, ": kill_timeout_ms is negative"));
  }
  return spec;
}

absl::Status CheckRunnable(const agentpb::AllocationSpec& spec,
                           const agentpb::NodeInfo& capacity) {
  if (spec.command().empty() || spec.command(0).empty()) {
    return absl::InvalidArgumentError("command is empty");
  }
  if (absl::Status s = ValidateHealthCheck(spec); !s.ok()) return s;
  if (!spec.rootfs().empty()) {
    std::error_code ec;
    if (spec.rootfs()[0] != '/' ||
        !std::filesystem::is_directory(spec.rootfs(), ec)) {
      return absl::InvalidArgumentError(
          absl::StrCat("rootfs \"", spec.rootfs(),
                       "\" is not an existing absolute directory"));
    }
  }
  const agentpb::Resources& r = spec.resources();
  struct Limit {
    const char* field;
    int64_t value;
    int64_t capacity;
  };
  for (const Limit& l :
       {Limit{"cpu_limit_millicores", r.cpu_limit_millicores(),
              capacity.cpu_millicores()},
        Limit{"cpu_request_millicores", r.cpu_request_millicores(),
              capacity.cpu_millicores()},
        Limit{"memory_bytes", r.memory_bytes(), capacity.memory_bytes()},
        Limit{"pids_max", r.pids_max(), capacity.pids()}}) {
    if (l.value < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("resources.", l.field, " is negative (", l.value, ")"));
    }
    if (l.capacity > 0 && l.value > l.capacity) {
      return absl::InvalidArgumentError(
          absl::StrCat("resources.", l.field, " = ", l.value,
                       " exceeds the node's capacity of ", l.capacity));
    }
  }
  if (r.cpu_limit_millicores() > 0 &&
      r.cpu_request_millicores() > r.cpu_limit_millicores()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resources.cpu_request_millicores = ", r.cpu_request_millicores(),
        " exceeds resources.cpu_limit_millicores = ",
        r.cpu_limit_millicores()));
  }
  return absl::OkStatus();
}

absl::StatusOr<TaskSpec> ToTaskSpec(const agentpb::AllocationSpec& spec,
                                    const std::string& sandbox_dir) {
  TaskSpec task;
  if (!spec.user().empty()) {
    absl::StatusOr<std::pair<uid_t, gid_t>> ids = LookupUser(spec.user());
    if (!ids.ok()) return ids.status();
    task.uid = ids->first;
    task.gid = ids->second;
  }
  task.rootfs = spec.rootfs();
  task.alloc_id = spec.alloc_id();
  task.argv.assign(spec.command().begin(), spec.command().end());
  // Sorted, so that the environment does not depend on map order.
  for (const auto& [k, v] : spec.env()) task.env.push_back(k + "=" + v);
  for (const auto& [name, port] : spec.ports()) {
    task.env.push_back(
        absl::StrCat("BERTH_PORT_", absl::AsciiStrToUpper(name), "=", port));
  }
  task.env.push_back("BERTH_ALLOC_ID=" + spec.alloc_id());
  task.env.push_back("BERTH_JOB=" + spec.job());
  if (std::none_of(task.env.begin(), task.env.end(), [](const auto& e) {
        return absl::StartsWith(e, "PATH=");
      })) {
    task.env.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
  }
  std::sort(task.env.begin(), task.env.end());
  task.sandbox_dir = sandbox_dir;
  task.resources.cpu_limit_millicores = spec.resources().cpu_limit_millicores();
  task.resources.cpu_request_millicores =
      spec.resources().cpu_request_millicores();
  task.resources.memory_bytes = spec.resources().memory_bytes();
  task.resources.pids_max = spec.resources().pids_max();
  return task;
}

absl::Duration KillTimeout(const agentpb::AllocationSpec& spec) {
  if (spec.kill_timeout_ms() <= 0) return kDefaultKillTimeout;
  return absl::Milliseconds(spec.kill_timeout_ms());
}

absl::StatusOr<std::pair<uid_t, gid_t>> LookupUser(const std::string& user) {
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  uid_t uid = 0;
  int err;
  if (absl::SimpleAtoi(user, &uid)) {
    err = getpwuid_r(uid, &pw, buf.data(), buf.size(), &found);
  } else {
    err = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  }
  if (err != 0) {
    return absl::ErrnoToStatus(err, absl::StrCat("user \"", user, "\""));
  }
  if (found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "user \"", user, "\" is not known on this node (no passwd entry)"));
  }
  return std::make_pair(pw.pw_uid, pw.pw_gid);
}

agentpb::AllocState ToProtoState(AllocState state) {
  switch (state) {
    case AllocState::kPending:
      return agentpb::PENDING;
    case AllocState::kStarting:
      return agentpb::STARTING;
    case AllocState::kRunning:
      return agentpb::RUNNING;
    case AllocState::kExited:
      return agentpb::EXITED;
    case AllocState::kFailed:
      return agentpb::FAILED;
    case AllocState::kOomKilled:
      return agentpb::OOM_KILLED;
    case AllocState::kKilled:
      return agentpb::KILLED;
    case AllocState::kLost:
      return agentpb::LOST;
  }
  return agentpb::ALLOC_STATE_UNSPECIFIED;
}

agentpb::AllocationStatus ToStatus(const AllocRecord& record,
                                   absl::string_view node,
                                   const std::optional<Usage>& usage,
                                   int64_t observed_revision, absl::Time now) {
  agentpb::AllocationStatus st;
  st.set_alloc_id(record.alloc_id);
  st.set_node(std::string(node));
  st.set_state(ToProtoState(record.state));
  st.set_exit_code(record.exit_code);
  st.set_signal(record.exit_signal);
  st.set_reason(record.exit_reason);
  st.set_attempt(record.attempt);
  st.set_start_unix_ms(UnixMillisOrZero(record.start_time));
  st.set_finish_unix_ms(UnixMillisOrZero(record.finish_time));
  if (usage.has_value()) {
    st.mutable_usage()->set_cpu_ns(usage->cpu_ns);
    st.mutable_usage()->set_memory_bytes(usage->memory_bytes);
    st.mutable_usage()->set_memory_peak_bytes(usage->memory_peak_bytes);
    st.mutable_usage()->set_pids(usage->pids);
  }
  st.set_observed_revision(observed_revision);
  agentpb::AllocationSpec spec;
  if (spec.ParseFromString(record.spec)) st.set_job_version(spec.job_version());
  if (record.task.has_value()) st.set_pid(record.task->pid);
  st.set_report_unix_ms(absl::ToUnixMillis(now));
  return st;
}

}  // namespace berth::agent
