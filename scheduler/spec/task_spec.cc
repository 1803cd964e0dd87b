#include "scheduler/spec/task_spec.h"

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace berth::sched::spec_internal {
namespace {

using jobpb::Constraint;
using jobpb::HealthCheck;
using jobpb::Kind;
using jobpb::RestartPolicy;

constexpr int64_t kMaxMs = int64_t{365} * 24 * 3600 * 1000;
constexpr int64_t kDefaultCpuMillis = 100;
constexpr int64_t kDefaultMemoryBytes = int64_t{64} << 20;
constexpr int64_t kDefaultKillTimeoutMs = 5000;
constexpr int64_t kDefaultRestartBackoffMs = 1000;
constexpr int64_t kDefaultHealthIntervalMs = 10000;
constexpr int64_t kDefaultHealthTimeoutMs = 2000;

const char* KindName(Kind k) {
  switch (k) {
    case jobpb::SERVICE:
      return "service";
    case jobpb::BATCH:
      return "batch";
    default:
      return "cron";
  }
}

bool IsEnvName(absl::string_view s) {
  if (s.empty() || absl::ascii_isdigit(s[0])) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

bool IsPortName(absl::string_view s) {
  if (s.empty() || s.size() > 32 || !absl::ascii_islower(s[0])) return false;
  for (char c : s) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') {
      return false;
    }
  }
  return s.back() != '-';
}

bool IsUserName(absl::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  bool numeric = s.find_first_not_of("0123456789") == absl::string_view::npos;
  if (numeric) return true;
  if (!absl::ascii_islower(s[0]) && s[0] != '_') return false;
  for (char c : s) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

bool IsLabelKey(absl::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '-' && c != '_' &&
        c != '/') {
      return false;
    }
  }
  return true;
}

absl::Status ParseCommand(
    const Value& v, absl::string_view what,
    google::protobuf::RepeatedPtrField<std::string>* out) {
  absl::StatusOr<std::vector<std::string>> argv = ReadStringList(v);
  if (!argv.ok()) return argv.status();
  if (argv->empty()) return Error(v, absl::StrCat(what, " must not be empty"));
  if ((*argv)[0].empty()) {
    return Error(v, absl::StrCat(what, "[0] (the program) must not be empty"));
  }
  for (std::string& a : *argv) out->Add(std::move(a));
  return absl::OkStatus();
}

absl::Status ParseResources(const Value& v, jobpb::Resources* out) {
  absl::StatusOr<MapReader> m = MapReader::Read(v, {"cpu", "memory", "pids"});
  if (!m.ok()) return m.status();
  out->set_cpu_millicores(kDefaultCpuMillis);
  out->set_memory_bytes(kDefaultMemoryBytes);
  if (auto f = m->Get("cpu")) {
    absl::StatusOr<int64_t> c = ReadCpu(*f);
    if (!c.ok()) return c.status();
    if (*c < 1) return Error(*f, "must be at least 1m");
    out->set_cpu_millicores(*c);
  }
  if (auto f = m->Get("memory")) {
    absl::StatusOr<int64_t> b = ReadMemory(*f);
    if (!b.ok()) return b.status();
    if (*b < (int64_t{1} << 20)) return Error(*f, "must be at least 1MiB");
    out->set_memory_bytes(*b);
  }
  if (auto f = m->Get("pids")) {
    absl::StatusOr<int64_t> p = ReadInt(*f, 1, 1 << 22);
    if (!p.ok()) return p.status();
    out->set_pids(*p);
  }
  return absl::OkStatus();
}

absl::Status ParsePorts(const Value& v, jobpb::TaskTemplate* out) {
  absl::StatusOr<std::vector<Value>> items = ReadSequence(v);
  if (!items.ok()) return items.status();
  std::set<std::string> seen;
  for (const Value& item : *items) {
    absl::StatusOr<MapReader> m = MapReader::Read(item, {"name"});
    if (!m.ok()) return m.status();
    auto f = m->Get("name");
    if (!f) return m->Missing("name");
    absl::StatusOr<std::string> name = ReadString(*f);
    if (!name.ok()) return name.status();
    if (!IsPortName(*name)) {
      return Error(*f, absl::StrCat("\"", *name,
                                    "\" is not a port name (lower-case "
                                    "letters, digits and '-', starting with a "
                                    "letter, at most 32)"));
    }
    if (!seen.insert(*name).second) {
      return Error(*f, absl::StrCat("duplicate port name \"", *name, "\""));
    }
    out->add_ports()->set_name(*name);
  }
  return absl::OkStatus();
}

absl::Status ParseRestart(const Value& v, Kind kind, RestartPolicy* out) {
  absl::StatusOr<MapReader> m =
      MapReader::Read(v, {"policy", "attempts", "backoff"});
  if (!m.ok()) return m.status();
  if (auto f = m->Get("policy")) {
    absl::StatusOr<RestartPolicy::Policy> p = ReadEnum<RestartPolicy::Policy>(
        *f, {{"always", RestartPolicy::ALWAYS},
             {"on-failure", RestartPolicy::ON_FAILURE},
             {"never", RestartPolicy::NEVER}});
    if (!p.ok()) return p.status();
    if (kind == jobpb::SERVICE && *p == RestartPolicy::NEVER) {
      return Error(*f,
                   "services are restarted; use kind batch for tasks that "
                   "run once to completion");
    }
    if (kind != jobpb::SERVICE && *p == RestartPolicy::ALWAYS) {
      return Error(*f, absl::StrCat("a ", KindName(kind),
                                    " task that always restarts never "
                                    "completes; use on-failure or never"));
    }
    out->set_policy(*p);
  }
  if (auto f = m->Get("attempts")) {
    absl::StatusOr<int64_t> a = ReadInt(*f, 0, 1000);
    if (!a.ok()) return a.status();
    if (out->policy() == RestartPolicy::NEVER && *a != 0) {
      return Error(*f, "must be 0 when policy is never");
    }
    out->set_attempts(static_cast<int32_t>(*a));
  }
  if (auto f = m->Get("backoff")) {
    absl::StatusOr<int64_t> b = ReadDurationMs(*f);
    if (!b.ok()) return b.status();
    if (*b > kMaxMs) return Error(*f, "must be at most 365 days");
    out->set_backoff_ms(*b);
  }
  return absl::OkStatus();
}

absl::Status CheckPortRef(const Value& v, const jobpb::TaskTemplate& task,
                          const std::string& name) {
  for (const auto& p : task.ports()) {
    if (p.name() == name) return absl::OkStatus();
  }
  return Error(
      v, absl::StrCat("port \"", name, "\" is not declared in task.ports"));
}

absl::Status ParseHealth(const Value& v, const jobpb::TaskTemplate& task,
                         HealthCheck* out) {
  absl::StatusOr<MapReader> m =
      MapReader::Read(v, {"tcp", "exec", "http", "interval", "timeout"});
  if (!m.ok()) return m.status();
  int kinds = m->Has("tcp") + m->Has("exec") + m->Has("http");
  if (kinds != 1) {
    return Error(v, "needs exactly one of tcp, exec or http");
  }
  if (auto f = m->Get("tcp")) {
    absl::StatusOr<std::string> port = ReadString(*f);
    if (!port.ok()) return port.status();
    if (absl::Status s = CheckPortRef(*f, task, *port); !s.ok()) return s;
    out->set_tcp_port(*port);
  }
  if (auto f = m->Get("exec")) {
    absl::Status s =
        ParseCommand(*f, "exec", out->mutable_exec()->mutable_argv());
    if (!s.ok()) return s;
  }
  if (auto f = m->Get("http")) {
    absl::StatusOr<MapReader> h = MapReader::Read(*f, {"port", "path"});
    if (!h.ok()) return h.status();
    auto port_v = h->Get("port");
    if (!port_v) return h->Missing("port");
    absl::StatusOr<std::string> port = ReadString(*port_v);
    if (!port.ok()) return port.status();
    if (absl::Status s = CheckPortRef(*port_v, task, *port); !s.ok()) return s;
    out->mutable_http()->set_port(*port);
    out->mutable_http()->set_path("/");
    if (auto p = h->Get("path")) {
      absl::StatusOr<std::string> path = ReadString(*p);
      if (!path.ok()) return path.status();
      if (!absl::StartsWith(*path, "/")) return Error(*p, "must start with /");
      out->mutable_http()->set_path(*path);
    }
  }
  out->set_interval_ms(kDefaultHealthIntervalMs);
  out->set_timeout_ms(kDefaultHealthTimeoutMs);
  Value timing_at = v;
  if (auto f = m->Get("interval")) {
    absl::StatusOr<int64_t> d = ReadDurationMs(*f);
    if (!d.ok()) return d.status();
    if (*d < 100 || *d > kMaxMs)
      return Error(*f, "must be between 100ms and 365 days");
    out->set_interval_ms(*d);
  }
  if (auto f = m->Get("timeout")) {
    absl::StatusOr<int64_t> d = ReadDurationMs(*f);
    if (!d.ok()) return d.status();
    if (*d < 1) return Error(*f, "must be positive");
    out->set_timeout_ms(*d);
    timing_at = *f;
  }
  if (out->timeout_ms() > out->interval_ms()) {
    return Error(timing_at, absl::StrCat("timeout (", out->timeout_ms(),
                                         "ms) must not exceed interval (",
                                         out->interval_ms(), "ms)"));
  }
  return absl::OkStatus();
}

absl::Status ParseEnv(const Value& v, jobpb::TaskTemplate* out) {
  absl::StatusOr<std::vector<std::pair<Value, std::string>>> env =
      ReadStringMap(v);
  if (!env.ok()) return env.status();
  for (const auto& [key, value] : *env) {
    std::string name = key.node.Scalar();
    if (!IsEnvName(name)) {
      return Error(key, absl::StrCat("\"", name,
                                     "\" is not a valid environment variable "
                                     "name ([A-Za-z_][A-Za-z0-9_]*)"));
    }
    if (absl::StartsWith(name, "BERTH_")) {
      return Error(key,
                   "the BERTH_ prefix is reserved for variables berth sets");
    }
    (*out->mutable_env())[name] = value;
  }
  return absl::OkStatus();
}

}  // namespace

bool IsDnsLabel(absl::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') {
      return false;
    }
  }
  return s.front() != '-' && s.back() != '-';
}

absl::Status ParseTask(const Value& v, Kind kind, jobpb::TaskTemplate* out) {
  absl::StatusOr<MapReader> m =
      MapReader::Read(v, {"command", "env", "resources", "ports", "restart",
                          "health", "kill_timeout", "timeout", "user"});
  if (!m.ok()) return m.status();
  auto cmd = m->Get("command");
  if (!cmd) return m->Missing("command");
  if (absl::Status s = ParseCommand(*cmd, "command", out->mutable_command());
      !s.ok()) {
    return s;
  }
  if (auto f = m->Get("env")) {
    if (absl::Status s = ParseEnv(*f, out); !s.ok()) return s;
  }
  if (auto f = m->Get("resources")) {
    if (absl::Status s = ParseResources(*f, out->mutable_resources());
        !s.ok()) {
      return s;
    }
  } else {
    out->mutable_resources()->set_cpu_millicores(kDefaultCpuMillis);
    out->mutable_resources()->set_memory_bytes(kDefaultMemoryBytes);
  }
  if (auto f = m->Get("ports")) {
    if (absl::Status s = ParsePorts(*f, out); !s.ok()) return s;
  }
  RestartPolicy* restart = out->mutable_restart();
  restart->set_backoff_ms(kDefaultRestartBackoffMs);
  if (kind == jobpb::SERVICE) {
    restart->set_policy(RestartPolicy::ALWAYS);
  } else if (kind == jobpb::BATCH) {
    restart->set_policy(RestartPolicy::ON_FAILURE);
    restart->set_attempts(3);
  } else {
    restart->set_policy(RestartPolicy::NEVER);
  }
  if (auto f = m->Get("restart")) {
    // An explicit policy resets the kind's default attempts.
    if (absl::Status s = ParseRestart(*f, kind, restart); !s.ok()) return s;
    if (restart->policy() == RestartPolicy::NEVER) restart->set_attempts(0);
  }
  if (auto f = m->Get("health")) {
    if (kind != jobpb::SERVICE) {
      return Error(*f, absl::StrCat("health checks are only for kind service "
                                    "(this job is kind ",
                                    KindName(kind), ")"));
    }
    if (absl::Status s = ParseHealth(*f, *out, out->mutable_health());
        !s.ok()) {
      return s;
    }
  }
  out->set_kill_timeout_ms(kDefaultKillTimeoutMs);
  if (auto f = m->Get("kill_timeout")) {
    absl::StatusOr<int64_t> d = ReadDurationMs(*f);
    if (!d.ok()) return d.status();
    if (*d > 3600 * 1000) return Error(*f, "must be at most 1h");
    out->set_kill_timeout_ms(*d);
  }
  if (auto f = m->Get("timeout")) {
    if (kind == jobpb::SERVICE) {
      return Error(*f,
                   "services run until stopped; timeout is only for "
                   "kinds batch and cron");
    }
    absl::StatusOr<int64_t> d = ReadDurationMs(*f);
    if (!d.ok()) return d.status();
    if (*d > kMaxMs) return Error(*f, "must be at most 365 days");
    out->set_timeout_ms(*d);
  }
  if (auto f = m->Get("user")) {
    absl::StatusOr<std::string> u = ReadString(*f);
    if (!u.ok()) return u.status();
    if (!IsUserName(*u)) {
      return Error(
          *f, absl::StrCat("\"", *u, "\" is not a user name or numeric uid"));
    }
    out->set_user(*u);
  }
  return absl::OkStatus();
}

absl::Status ParseConstraints(const Value& v, jobpb::Job* job) {
  absl::StatusOr<std::vector<Value>> items = ReadSequence(v);
  if (!items.ok()) return items.status();
  for (const Value& item : *items) {
    absl::StatusOr<MapReader> m =
        MapReader::Read(item, {"attribute", "operator", "value", "values"});
    if (!m.ok()) return m.status();
    Constraint* c = job->add_constraints();
    auto attr = m->Get("attribute");
    if (!attr) return m->Missing("attribute");
    absl::StatusOr<std::string> a = ReadString(*attr);
    if (!a.ok()) return a.status();
    bool label = absl::StartsWith(*a, "label.") && IsLabelKey(a->substr(6));
    if (!label && *a != "node.name") {
      return Error(*attr, absl::StrCat("\"", *a,
                                       "\" is not an attribute; use "
                                       "label.<key> or node.name"));
    }
    c->set_attribute(*a);
    auto op_v = m->Get("operator");
    if (!op_v) return m->Missing("operator");
    absl::StatusOr<Constraint::Operator> op =
        ReadEnum<Constraint::Operator>(*op_v, {{"=", Constraint::EQ},
                                               {"!=", Constraint::NE},
                                               {"in", Constraint::IN},
                                               {"not_in", Constraint::NOT_IN},
                                               {"exists", Constraint::EXISTS}});
    if (!op.ok()) return op.status();
    c->set_operator_(*op);
    bool single = *op == Constraint::EQ || *op == Constraint::NE;
    bool multi = *op == Constraint::IN || *op == Constraint::NOT_IN;
    std::string op_name = op_v->node.Scalar();
    if (auto f = m->Get("value")) {
      if (!single) {
        return Error(*f, absl::StrCat("operator ", op_name, " takes ",
                                      multi ? "values: [..]" : "no value"));
      }
      absl::StatusOr<std::string> s = ReadString(*f);
      if (!s.ok()) return s.status();
      c->add_values(*s);
    } else if (single) {
      return m->Missing("value");
    }
    if (auto f = m->Get("values")) {
      if (!multi) {
        return Error(*f, absl::StrCat("operator ", op_name, " takes ",
                                      single ? "value: x" : "no values"));
      }
      absl::StatusOr<std::vector<std::string>> vals = ReadStringList(*f);
      if (!vals.ok()) return vals.status();
      if (vals->empty()) return Error(*f, "must not be empty");
      for (std::string& s : *vals) c->add_values(std::move(s));
    } else if (multi) {
      return m->Missing("values");
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::sched::spec_internal
