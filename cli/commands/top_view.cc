#include "cli/commands/top_view.h"

#include <algorithm>
#include <sstream>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/output.h"

namespace berth::cli {
namespace {

struct TaskRow {
  std::string id, job, node, state;
  int64_t cpu_millicores = 0;
  int64_t memory = 0;
  int64_t memory_limit = 0;
  uint64_t pids = 0;
};

std::string TaskState(const schedpb::AllocationView& v) {
  const jobpb::Allocation& a = v.alloc();
  if (a.desired_state() != jobpb::Allocation::RUN) return "stopping";
  if (!v.has_status()) return "placed";
  std::string s =
      absl::AsciiStrToLower(agentpb::AllocState_Name(v.status().state()));
  if (v.status().state() == agentpb::RUNNING && !v.status().healthy()) {
    absl::StrAppend(&s, " (unhealthy)");
  }
  return s;
}

std::string Percent(int64_t millicores) {
  return absl::StrFormat("%.1f%%", static_cast<double>(millicores) / 10.0);
}

}  // namespace

std::string FormatBytes(int64_t bytes) {
  constexpr int64_t kKi = 1024, kMi = kKi * 1024, kGi = kMi * 1024;
  if (bytes >= kGi) {
    return absl::StrFormat("%.1fGiB", static_cast<double>(bytes) / kGi);
  }
  if (bytes >= kMi) {
    return absl::StrFormat("%.1fMiB", static_cast<double>(bytes) / kMi);
  }
  if (bytes >= kKi) return absl::StrCat(bytes / kKi, "KiB");
  return absl::StrCat(bytes, "B");
}

std::string RenderTop(const schedpb::ListNodesResponse& nodes, TopSort sort,
                      absl::Time now) {
  std::vector<TaskRow> tasks;
  std::vector<std::vector<std::string>> node_rows = {
      {"NODE", "STATE", "TASKS", "CPU USED/CAP", "MEM USED/CAP",
       "RESERVED CPU/MEM"}};
  for (const schedpb::NodeView& n : nodes.nodes()) {
    int64_t cpu = 0, mem = 0;
    for (const schedpb::AllocationView& v : n.allocs()) {
      const agentpb::Usage& u = v.status().usage();
      TaskRow t;
      t.id = v.alloc().id();
      t.job = v.alloc().namespace_() == "default"
                  ? v.alloc().job()
                  : absl::StrCat(v.alloc().namespace_(), "/", v.alloc().job());
      t.node = n.info().name();
      t.state = TaskState(v);
      // Usage of a task that is not running any more is history.
      if (v.status().state() == agentpb::RUNNING) {
        t.cpu_millicores = u.cpu_millicores();
        t.memory = static_cast<int64_t>(u.memory_bytes());
        t.pids = u.pids();
      }
      t.memory_limit = v.alloc().resources().memory_bytes();
      cpu += t.cpu_millicores;
      mem += t.memory;
      tasks.push_back(std::move(t));
    }
    node_rows.push_back(
        {n.info().name(), n.draining() ? "draining" : "ready",
         absl::StrCat(n.allocations()),
         absl::StrCat(cpu, "m/", n.info().cpu_millicores(), "m"),
         absl::StrCat(FormatBytes(mem), "/",
                      FormatBytes(n.info().memory_bytes())),
         absl::StrCat(n.allocated().cpu_millicores(), "m/",
                      FormatBytes(n.allocated().memory_bytes()))});
  }
  std::sort(tasks.begin(), tasks.end(),
            [sort](const TaskRow& a, const TaskRow& b) {
              if (sort == TopSort::kMem) {
                return std::tie(b.memory, b.cpu_millicores, a.id) <
                       std::tie(a.memory, a.cpu_millicores, b.id);
              }
              return std::tie(b.cpu_millicores, b.memory, a.id) <
                     std::tie(a.cpu_millicores, a.memory, b.id);
            });
  std::vector<std::vector<std::string>> task_rows = {
      {"ALLOC", "JOB", "NODE", "STATE", "CPU", "MEM RSS/LIMIT", "PIDS"}};
  for (const TaskRow& t : tasks) {
    task_rows.push_back(
        {t.id, t.job, t.node, t.state, Percent(t.cpu_millicores),
         absl::StrCat(FormatBytes(t.memory), "/",
                      t.memory_limit > 0 ? FormatBytes(t.memory_limit) : "-"),
         absl::StrCat(t.pids)});
  }
  std::ostringstream out;
  out << "berth top  "
      << absl::FormatTime("%H:%M:%S UTC", now, absl::UTCTimeZone()) << "  "
      << nodes.nodes_size() << " node" << (nodes.nodes_size() == 1 ? "" : "s")
      << ", " << tasks.size() << " task" << (tasks.size() == 1 ? "" : "s")
      << ", sorted by " << (sort == TopSort::kMem ? "memory" : "cpu") << "\n\n";
  PrintTable(out, node_rows);
  out << "\n";
  PrintTable(out, task_rows);
  return out.str();
}

}  // namespace berth::cli
