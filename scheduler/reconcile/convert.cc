#include "scheduler/reconcile/convert.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace berth::sched {

agentpb::AllocationSpec ToAgentSpec(const jobpb::Job& job,
                                    const jobpb::Allocation& alloc,
                                    int64_t job_version) {
  agentpb::AllocationSpec spec;
  const jobpb::TaskTemplate& task = job.task();
  spec.set_alloc_id(alloc.id());
  spec.set_job(job.name());
  spec.set_namespace_(job.namespace_());
  for (const std::string& arg : task.command()) spec.add_command(arg);
  auto& env = *spec.mutable_env();
  for (const auto& [k, v] : task.env()) env[k] = v;
  env["BERTH_ALLOC_ID"] = alloc.id();
  env["BERTH_JOB"] = job.name();
  env["BERTH_NAMESPACE"] = job.namespace_();
  for (const jobpb::Allocation::AssignedPort& p : alloc.ports()) {
    std::string name = absl::AsciiStrToUpper(p.name());
    absl::StrReplaceAll({{"-", "_"}}, &name);
    env[absl::StrCat("BERTH_PORT_", name)] = std::to_string(p.port());
    (*spec.mutable_ports())[p.name()] = p.port();
  }
  agentpb::Resources* r = spec.mutable_resources();
  r->set_cpu_limit_millicores(alloc.resources().cpu_millicores());
  r->set_cpu_request_millicores(alloc.resources().cpu_millicores());
  r->set_memory_bytes(alloc.resources().memory_bytes());
  r->set_pids_max(alloc.resources().pids());
  spec.set_kill_timeout_ms(task.kill_timeout_ms());
  spec.set_desired(WantsRun(alloc) ? agentpb::DESIRED_RUN
                                   : agentpb::DESIRED_STOP);
  spec.set_attempt(alloc.attempt());
  spec.set_job_version(job_version);
  if (task.has_health()) {
    const jobpb::HealthCheck& h = task.health();
    agentpb::HealthCheck* out = spec.mutable_health();
    out->set_interval_ms(h.interval_ms());
    out->set_timeout_ms(h.timeout_ms());
    if (h.has_exec()) {
      for (const std::string& a : h.exec().argv()) {
        out->mutable_exec()->add_argv(a);
      }
    } else if (h.has_http()) {
      out->mutable_http()->set_port(h.http().port());
      out->mutable_http()->set_path(h.http().path());
    } else {
      out->set_tcp_port(h.tcp_port());
    }
  }
  return spec;
}

bool IsTerminal(const agentpb::AllocationStatus& status) {
  switch (status.state()) {
    case agentpb::EXITED:
    case agentpb::FAILED:
    case agentpb::OOM_KILLED:
    case agentpb::KILLED:
    case agentpb::LOST:
      return true;
    default:
      return false;
  }
}

jobpb::AllocOutcome OutcomeFromStatus(const jobpb::Allocation& alloc,
                                      const agentpb::AllocationStatus& status) {
  jobpb::AllocOutcome o;
  o.set_node(alloc.node());
  o.set_start_unix_ms(status.start_unix_ms());
  o.set_finish_unix_ms(status.finish_unix_ms());
  o.set_exit_code(status.exit_code());
  if (!WantsRun(alloc)) {
    o.set_state(jobpb::AllocOutcome::STOPPED);
    o.set_reason(alloc.stop_reason().empty() ? "stopped" : alloc.stop_reason());
    return o;
  }
  switch (status.state()) {
    case agentpb::EXITED:
      if (status.exit_code() == 0) {
        o.set_state(jobpb::AllocOutcome::SUCCEEDED);
      } else {
        o.set_state(jobpb::AllocOutcome::FAILED);
        o.set_reason(absl::StrCat("exited with code ", status.exit_code()));
      }
      break;
    case agentpb::OOM_KILLED:
      o.set_state(jobpb::AllocOutcome::FAILED);
      o.set_reason("oom_killed");
      break;
    case agentpb::KILLED:
      o.set_state(jobpb::AllocOutcome::FAILED);
      o.set_reason(absl::StrCat("killed by signal ", status.signal()));
      break;
    case agentpb::LOST:
      o.set_state(jobpb::AllocOutcome::LOST);
      o.set_reason(status.reason().empty() ? "lost" : status.reason());
      break;
    default:
      o.set_state(jobpb::AllocOutcome::FAILED);
      o.set_reason(status.reason().empty() ? "failed" : status.reason());
      break;
  }
  return o;
}

std::string JobName(const jobpb::Job& job) {
  return absl::StrCat(job.namespace_(), "/", job.name());
}

}  // namespace berth::sched
