#include "agent/server/health_checker.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/monotonic_wait.h"

namespace berth::agent {
namespace {

constexpr absl::Duration kDefaultInterval = absl::Seconds(10);
constexpr absl::Duration kDefaultTimeout = absl::Seconds(2);
constexpr size_t kMaxOutput = 512;

absl::Duration Interval(const agentpb::HealthCheck& c) {
  return c.interval_ms() > 0 ? absl::Milliseconds(c.interval_ms())
                             : kDefaultInterval;
}

absl::Duration Timeout(const agentpb::HealthCheck& c) {
  return c.timeout_ms() > 0 ? absl::Milliseconds(c.timeout_ms())
                            : kDefaultTimeout;
}

absl::Status NamedPort(const agentpb::AllocationSpec& spec,
                       const std::string& field, const std::string& name) {
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("health.", field, ": names no port"));
  }
  if (spec.ports().count(name) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "health.", field, " \"", name, "\" is not in the spec's ports"));
  }
  int port = spec.ports().at(name);
  if (port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "health.", field, " \"", name, "\": port ", port, " is out of range"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateHealthCheck(const agentpb::AllocationSpec& spec) {
  if (!spec.has_health()) return absl::OkStatus();
  const agentpb::HealthCheck& h = spec.health();
  if (h.interval_ms() < 0 || h.timeout_ms() < 0) {
    return absl::InvalidArgumentError(
        "health: interval_ms and timeout_ms must not be negative");
  }
  switch (h.probe_case()) {
    case agentpb::HealthCheck::kTcpPort:
      return NamedPort(spec, "tcp_port", h.tcp_port());
    case agentpb::HealthCheck::kHttp:
      if (!h.http().path().empty() && h.http().path()[0] != '/') {
        return absl::InvalidArgumentError(absl::StrCat(
            "health.http.path \"", h.http().path(), "\" must start with /"));
      }
      return NamedPort(spec, "http.port", h.http().port());
    case agentpb::HealthCheck::kExec:
      if (h.exec().argv().empty() || h.exec().argv(0).empty()) {
        return absl::InvalidArgumentError("health.exec.argv is empty");
      }
      return absl::OkStatus();
    case agentpb::HealthCheck::PROBE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "health: set one of tcp_port, exec or http");
}

ProbeTarget MakeProbeTarget(const agentpb::AllocationSpec& spec,
                            std::vector<std::string> env, std::string cwd) {
  ProbeTarget t;
  t.check = spec.health();
  std::string port_name;
  if (t.check.has_http()) port_name = t.check.http().port();
  if (t.check.probe_case() == agentpb::HealthCheck::kTcpPort) {
    port_name = t.check.tcp_port();
  }
  if (auto it = spec.ports().find(port_name); it != spec.ports().end()) {
    t.port = it->second;
  }
  t.env = std::move(env);
  t.cwd = std::move(cwd);
  return t;
}

HealthChecker::HealthChecker(Clock* clock, std::unique_ptr<Prober> prober,
                             std::function<void()> on_change)
    : clock_(clock),
      prober_(std::move(prober)),
      on_change_(std::move(on_change)) {}

HealthChecker::~HealthChecker() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void HealthChecker::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void HealthChecker::Watch(const std::string& id, ProbeTarget target) {
  absl::MutexLock l(&mu_);
  Entry& e = entries_[id];
  if (e.state.healthy) changed_.insert(id);
  e = Entry{};
  e.target = std::move(target);
  e.next_due = clock_->Monotonic();
  e.generation = next_generation_++;
  wake_ = true;
}

void HealthChecker::Forget(const std::string& id) {
  absl::MutexLock l(&mu_);
  entries_.erase(id);
  changed_.erase(id);
}

std::optional<HealthState> HealthChecker::Get(const std::string& id) const {
  absl::MutexLock l(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.state;
}

std::set<std::string> HealthChecker::TakeChanged() {
  absl::MutexLock l(&mu_);
  std::set<std::string> out;
  out.swap(changed_);
  return out;
}

absl::Time HealthChecker::RunDue() {
  struct Due {
    std::string id;
    uint64_t generation;
    ProbeTarget target;
  };
  std::vector<Due> due;
  bool flipped = false;
  {
    absl::MutexLock l(&mu_);
    const absl::Time now = clock_->Monotonic();
    for (const auto& [id, e] : entries_) {
      if (e.next_due <= now) due.push_back(Due{id, e.generation, e.target});
    }
  }
  for (const Due& d : due) {
    ProbeResult r = prober_->Probe(d.target, Timeout(d.target.check));
    if (r.output.size() > kMaxOutput) r.output.resize(kMaxOutput);
    absl::MutexLock l(&mu_);
    auto it = entries_.find(d.id);
    // Forgotten or re-watched while the probe ran: the result is stale.
    if (it == entries_.end() || it->second.generation != d.generation) {
      continue;
    }
    Entry& e = it->second;
    if (r.healthy != e.state.healthy) {
      changed_.insert(d.id);
      flipped = true;
      e.state.healthy_since = r.healthy ? clock_->Now() : absl::InfinitePast();
    }
    e.state.healthy = r.healthy;
    e.state.output = std::move(r.output);
    ++e.state.probes;
    e.next_due = clock_->Monotonic() + Interval(e.target.check);
  }
  if (flipped && on_change_) on_change_();
  absl::MutexLock l(&mu_);
  absl::Time next = absl::InfiniteFuture();
  for (const auto& [id, e] : entries_) next = std::min(next, e.next_due);
  return next;
}

void HealthChecker::Loop() {
  while (true) {
    const absl::Time next = RunDue();
    absl::MutexLock l(&mu_);
    auto woken = [this]()
                     ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || wake_; };
    // The checker's clock is real here; a SimClock never starts the thread.
    const absl::Duration wait = next == absl::InfiniteFuture()
                                    ? absl::Hours(1)
                                    : next - clock_->Monotonic();
    AwaitMonotonic(&mu_, absl::Condition(&woken),
                   std::max(wait, absl::ZeroDuration()));
    if (stop_) return;
    wake_ = false;
  }
}

}  // namespace berth::agent
