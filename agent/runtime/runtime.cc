#include "agent/runtime/runtime.h"

#include <string.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::agent {
namespace {

bool ValidAllocId(const std::string& id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

absl::Status Invalid(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("task spec: ", field, ": ", why));
}

}  // namespace

absl::Status ValidateTaskSpec(const TaskSpec& spec) {
  if (!ValidAllocId(spec.alloc_id)) {
    return Invalid("alloc_id", absl::StrCat("\"", spec.alloc_id,
                                            "\" must be 1-128 characters of "
                                            "[A-Za-z0-9._-]"));
  }
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return Invalid("argv", "needs at least the program to run");
  }
  for (size_t i = 0; i < spec.env.size(); ++i) {
    size_t eq = spec.env[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      return Invalid(absl::StrCat("env[", i, "]"),
                     absl::StrCat("\"", spec.env[i], "\" is not KEY=VALUE"));
    }
  }
  if (spec.sandbox_dir.empty() || spec.sandbox_dir[0] != '/') {
    return Invalid("sandbox_dir", absl::StrCat("\"", spec.sandbox_dir,
                                               "\" must be an absolute path"));
  }
  const Resources& r = spec.resources;
  if (r.cpu_limit_millicores < 0 || r.cpu_request_millicores < 0 ||
      r.memory_bytes < 0 || r.pids_max < 0) {
    return Invalid("resources", "limits must not be negative");
  }
  if (r.cpu_limit_millicores > 0 &&
      r.cpu_request_millicores > r.cpu_limit_millicores) {
    return Invalid(
        "resources.cpu_request_millicores",
        absl::StrCat(r.cpu_request_millicores, " exceeds the cpu limit of ",
                     r.cpu_limit_millicores));
  }
  if (!spec.rootfs.empty() && spec.rootfs[0] != '/') {
    return Invalid("rootfs", absl::StrCat("\"", spec.rootfs,
                                          "\" must be an absolute path"));
  }
  if (spec.rootfs.empty() && !spec.binds.empty()) {
    return Invalid("binds", "bind mounts need a rootfs");
  }
  for (size_t i = 0; i < spec.binds.size(); ++i) {
    const BindMount& b = spec.binds[i];
    if (b.source.empty() || b.source[0] != '/' || b.target.empty() ||
        b.target[0] != '/') {
      return Invalid(absl::StrCat("binds[", i, "]"),
                     "source and target must be absolute paths");
    }
  }
  if (spec.hostname.size() > 64) {
    return Invalid("hostname", "longer than 64 characters");
  }
  return absl::OkStatus();
}

TaskSpec WithDefaults(TaskSpec spec) {
  if (spec.hostname.empty()) spec.hostname = spec.alloc_id.substr(0, 64);
  if (spec.stdout_path.empty()) spec.stdout_path = spec.sandbox_dir + "/stdout";
  if (spec.stderr_path.empty()) spec.stderr_path = spec.sandbox_dir + "/stderr";
  return spec;
}

ExitStatus ExitStatus::Exited(int code) {
  ExitStatus s;
  s.kind = Kind::kExited;
  s.code = code;
  return s;
}

ExitStatus ExitStatus::Killed(int signal) {
  ExitStatus s;
  s.kind = Kind::kKilled;
  s.signal = signal;
  return s;
}

ExitStatus ExitStatus::OomKilled(std::string reason) {
  ExitStatus s;
  s.kind = Kind::kOomKilled;
  s.reason = std::move(reason);
  return s;
}

ExitStatus ExitStatus::Failed(std::string reason) {
  ExitStatus s;
  s.kind = Kind::kFailed;
  s.reason = std::move(reason);
  return s;
}

std::string ExitStatus::ToString() const {
  switch (kind) {
    case Kind::kExited:
      return absl::StrCat("exited(", code, ")");
    case Kind::kKilled: {
      const char* abbrev = sigabbrev_np(signal);
      return abbrev ? absl::StrCat("killed(SIG", abbrev, ")")
                    : absl::StrCat("killed(", signal, ")");
    }
    case Kind::kOomKilled:
      return absl::StrCat("oom_killed(", reason, ")");
    case Kind::kFailed:
      return absl::StrCat("failed(", reason, ")");
  }
  return "unknown";
}

}  // namespace berth::agent
