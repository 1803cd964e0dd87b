// berth-agent-swarm: N sim-runtime agents in one process against a real
// berth-lockd, for scale measurements (issue #4: 1,000 sim agents).
//
//   berth-agent-swarm --lock-endpoints 127.0.0.1:7401,... --agents 1000
//                     --data-dir /tmp/swarm [--allocs-per-agent 1]
//                     [--idle-s 30] [--lockd-pids 123,456,789]
//                     [--client-per-agent]
//
// The agents share one lockd client (one channel per replica, one watch
// stream, one keepalive stream carrying every agent's lease), as agents of
// one process should; each still has its own session and node key.
// --client-per-agent gives each agent its own client instead (how the
// swarm ran before the client was shared), for comparison.
//
// It starts the agents, writes `allocs-per-agent` allocations for each node
// (the scheduler's job, done here directly), waits until every node is
// registered and every allocation reports RUNNING, then measures its own
// RSS and CPU and those of the given lockd processes from /proc over an
// idle window, prints them, and shuts the agents down (revoking their
// leases). Exit status 0 when every node and allocation came up.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/runtime/sim_runtime.h"
#include "agent/server/agent.h"
#include "agent/server/alloc_convert.h"
#include "boost/program_options.hpp"
#include "common/fd_limit.h"
#include "common/futex_hash.h"

namespace po = boost::program_options;
using namespace berth::agent;

namespace {

struct ProcSample {
  uint64_t cpu_ticks = 0;  // utime + stime
  uint64_t rss_kb = 0;
  uint64_t threads = 0;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ProcSample Sample(const std::string& pid) {
  ProcSample s;
  const std::string stat = Slurp(absl::StrCat("/proc/", pid, "/stat"));
  size_t close = stat.rfind(')');
  if (close != std::string::npos) {
    std::vector<std::string> f =
        absl::StrSplit(stat.substr(close + 2), ' ', absl::SkipEmpty());
    // Fields 14 and 15 of stat(5); f[0] is field 3.
    uint64_t ut = 0, st = 0;
    if (f.size() > 13 && absl::SimpleAtoi(f[11], &ut) &&
        absl::SimpleAtoi(f[12], &st)) {
      s.cpu_ticks = ut + st;
    }
  }
  std::istringstream status(Slurp(absl::StrCat("/proc/", pid, "/status")));
  std::string line;
  while (std::getline(status, line)) {
    std::vector<std::string> kv =
        absl::StrSplit(line, absl::ByAnyChar(" \t:"), absl::SkipEmpty());
    if (kv.size() < 2) continue;
    if (kv[0] == "VmRSS") absl::SimpleAtoi(kv[1], &s.rss_kb);
    if (kv[0] == "Threads") absl::SimpleAtoi(kv[1], &s.threads);
  }
  return s;
}

// Keys under `prefix`, counted with a Range.
absl::StatusOr<std::vector<berth::lock::KeyValue>> List(
    berth::lock::Client* client, const std::string& prefix) {
  berth::lock::RangeOptions ro;
  ro.prefix = true;
  absl::StatusOr<berth::lock::RangeResult> r = client->kv().Range(prefix, ro);
  if (!r.ok()) return r.status();
  return r->kvs;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil keeps a lock graph on every Mutex acquisition
  // (deadlock detection); tests keep it, production binaries do not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Thousands of agents, each with its tasks' log FIFOs and files: see
  // common/fd_limit.h.
  if (absl::StatusOr<uint64_t> n = berth::RaiseOpenFileLimit(1 << 20);
      !n.ok()) {
    std::cerr << "warning: open-file limit: " << n.status() << "\n";
  }
  std::string endpoints_flag, data_dir, prefix, lockd_pids;
  int agents = 1000, allocs_per_agent = 1, idle_s = 30, ready_timeout_s = 600;
  int64_t session_ttl_s = 10, safety_ms = 5000;
  bool client_per_agent = false;
  po::options_description desc("berth-agent-swarm options");
  desc.add_options()("help", "show this help")(
      "lock-endpoints", po::value(&endpoints_flag)->required(),
      "berth-lockd replicas, host:port[,host:port...]")(
      "agents", po::value(&agents)->default_value(1000), "how many agents")(
      "data-dir", po::value(&data_dir)->required(),
      "one sub-directory (agent.db) per agent")(
      "node-prefix", po::value(&prefix)->default_value("swarm-"),
      "node names are <prefix><n>")(
      "allocs-per-agent", po::value(&allocs_per_agent)->default_value(1),
      "sim allocations written for each node")(
      "idle-s", po::value(&idle_s)->default_value(30),
      "length of the idle measurement window")(
      "ready-timeout-s", po::value(&ready_timeout_s)->default_value(600),
      "give up if not everything is up by then")(
      "session-ttl-s", po::value(&session_ttl_s)->default_value(10),
      "lease TTL of each agent")(
      "safety-ms", po::value(&safety_ms)->default_value(5000),
      "each agent's safety tick (its loop is otherwise event-driven)")(
      "client-per-agent", po::bool_switch(&client_per_agent),
      "one lockd client (and keepalive stream) per agent, not one shared")(
      "lockd-pids", po::value(&lockd_pids)->default_value(""),
      "lockd processes to measure too, pid[,pid...]");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc << std::endl;
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "berth-agent-swarm: " << e.what() << "\n" << desc << "\n";
    return 2;
  }
  if (agents <= 0 || allocs_per_agent < 0 || idle_s <= 0) {
    std::cerr << "berth-agent-swarm: --agents and --idle-s must be positive, "
                 "--allocs-per-agent not negative\n";
    return 2;
  }
  // About three parked threads per agent: common/futex_hash.h.
  if (absl::StatusOr<uint32_t> n = berth::SizeFutexHash(4 * agents); !n.ok()) {
    std::cerr << "warning: futex hash: " << n.status() << "\n";
  }
  absl::StatusOr<std::vector<std::string>> endpoints =
      berth::lock::ParseEndpoints(endpoints_flag);
  if (!endpoints.ok()) {
    std::cerr << "berth-agent-swarm: --lock-endpoints: "
              << endpoints.status().message() << "\n";
    return 2;
  }
  std::vector<std::string> lockd;
  for (absl::string_view p :
       absl::StrSplit(lockd_pids, ',', absl::SkipEmpty())) {
    lockd.emplace_back(p);
  }

  const ProcSample before_start = Sample("self");
  const absl::Time t_start = absl::Now();
  // Declared before the agents, which borrow it.
  absl::StatusOr<std::unique_ptr<berth::lock::Client>> shared =
      berth::lock::Client::Connect(*endpoints);
  if (!shared.ok()) {
    std::cerr << "berth-agent-swarm: " << shared.status() << "\n";
    return 1;
  }
  std::vector<std::unique_ptr<SimMachine>> machines;
  std::vector<std::unique_ptr<Agent>> swarm;
  for (int i = 0; i < agents; ++i) {
    const std::string node = absl::StrCat(prefix, i);
    const std::string dir = absl::StrCat(data_dir, "/", node);
    std::error_code ec;
    std::filesystem::create_directories(dir + "/allocs", ec);
    absl::StatusOr<std::unique_ptr<AllocStore>> store =
        AllocStore::Open(dir + "/agent.db");
    absl::StatusOr<std::unique_ptr<berth::lock::Client>> client =
        client_per_agent
            ? berth::lock::Client::Connect(*endpoints)
            : absl::StatusOr<std::unique_ptr<berth::lock::Client>>(nullptr);
    if (!store.ok() || !client.ok()) {
      std::cerr << "berth-agent-swarm: agent " << node << ": "
                << (store.ok() ? client.status() : store.status()) << "\n";
      return 1;
    }
    machines.push_back(std::make_unique<SimMachine>());
    AgentOptions o;
    o.node = node;
    o.data_dir = dir;
    o.session_ttl = absl::Seconds(session_ttl_s);
    o.safety_interval = absl::Milliseconds(safety_ms);
    o.usage_interval = absl::Seconds(60);
    o.capture_logs = false;  // sim tasks write nothing
    o.info.set_name(node);
    o.info.set_runtime("sim");
    o.info.set_cpu_millicores(4000);
    o.info.set_memory_bytes(8LL << 30);
    o.info.set_pids(4096);
    auto runtime = std::make_unique<SimRuntime>(berth::Clock::Real(),
                                                machines.back().get());
    absl::StatusOr<std::unique_ptr<Agent>> a =
        client_per_agent ? Agent::Create(std::move(o), std::move(runtime),
                                         std::move(*store), std::move(*client))
                         : Agent::Create(std::move(o), std::move(runtime),
                                         std::move(*store), shared->get());
    if (!a.ok()) {
      std::cerr << "berth-agent-swarm: agent " << node << ": " << a.status()
                << "\n";
      return 1;
    }
    swarm.push_back(std::move(*a));
  }
  std::cerr << "berth-agent-swarm: started " << agents << " agents in "
            << absl::Now() - t_start << "\n";

  absl::StatusOr<std::unique_ptr<berth::lock::Client>> sched =
      berth::lock::Client::Connect(*endpoints);
  if (!sched.ok()) {
    std::cerr << "berth-agent-swarm: " << sched.status() << "\n";
    return 1;
  }
  for (int i = 0; i < agents; ++i) {
    const std::string node = absl::StrCat(prefix, i);
    for (int j = 0; j < allocs_per_agent; ++j) {
      berth::agentpb::AllocationSpec spec;
      spec.set_alloc_id(absl::StrCat(node, "-a", j));
      spec.set_job("swarm");
      spec.add_command("sim");
      spec.set_attempt(1);
      absl::StatusOr<berth::lock::PutResult> put =
          (*sched)->kv().Put(absl::StrCat(AllocPrefix(node), spec.alloc_id()),
                             spec.SerializeAsString());
      if (!put.ok()) {
        std::cerr << "berth-agent-swarm: write alloc: " << put.status() << "\n";
        return 1;
      }
    }
  }

  // Ready: every node key and every allocation RUNNING.
  const size_t want_allocs = static_cast<size_t>(agents) * allocs_per_agent;
  size_t nodes = 0, running = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(ready_timeout_s);
  while (absl::Now() < deadline) {
    absl::StatusOr<std::vector<berth::lock::KeyValue>> n =
        List(sched->get(), absl::StrCat("/berth/nodes/", prefix));
    absl::StatusOr<std::vector<berth::lock::KeyValue>> s =
        List(sched->get(), absl::StrCat("/berth/status/", prefix));
    nodes = n.ok() ? n->size() : 0;
    running = 0;
    if (s.ok()) {
      for (const berth::lock::KeyValue& kv : *s) {
        berth::agentpb::AllocationStatus st;
        if (st.ParseFromString(kv.value) &&
            st.state() == berth::agentpb::RUNNING) {
          ++running;
        }
      }
    }
    if (nodes == static_cast<size_t>(agents) && running == want_allocs) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  const absl::Duration ready_after = absl::Now() - t_start;
  std::cout << "nodes registered: " << nodes << "/" << agents
            << ", allocations running: " << running << "/" << want_allocs
            << ", after " << ready_after << "\n";
  const bool ready =
      nodes == static_cast<size_t>(agents) && running == want_allocs;

  // Idle window: nothing changes, the agents only keep their leases alive
  // and tick.
  std::vector<ProcSample> lockd0;
  for (const std::string& p : lockd) lockd0.push_back(Sample(p));
  const ProcSample self0 = Sample("self");
  const absl::Time t0 = absl::Now();
  std::this_thread::sleep_for(std::chrono::seconds(idle_s));
  const double wall = absl::ToDoubleSeconds(absl::Now() - t0);
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  const ProcSample self1 = Sample("self");
  auto pct = [&](const ProcSample& a, const ProcSample& b) {
    return 100.0 * static_cast<double>(b.cpu_ticks - a.cpu_ticks) / hz / wall;
  };
  std::cout << "swarm process: RSS " << self1.rss_kb / 1024 << " MiB (before "
            << before_start.rss_kb / 1024 << " MiB), threads " << self1.threads
            << ", idle CPU " << pct(self0, self1) << "% of one core over "
            << wall << " s\n";
  uint64_t lockd_rss = 0;
  for (size_t i = 0; i < lockd.size(); ++i) {
    const ProcSample s1 = Sample(lockd[i]);
    lockd_rss += s1.rss_kb;
    std::cout << "lockd pid " << lockd[i] << ": RSS " << s1.rss_kb / 1024
              << " MiB, CPU " << pct(lockd0[i], s1) << "% of one core\n";
  }
  std::cout << std::flush;

  const absl::Time t_stop = absl::Now();
  swarm.clear();  // each Agent revokes its lease
  std::cerr << "berth-agent-swarm: stopped in " << absl::Now() - t_stop << "\n";
  for (int i = 0; i < agents; ++i) {
    for (int j = 0; j < allocs_per_agent; ++j) {
      const std::string node = absl::StrCat(prefix, i);
      (*sched)
          ->kv()
          .Delete(absl::StrCat(AllocPrefix(node), node, "-a", j))
          .IgnoreError();
      (*sched)
          ->kv()
          .Delete(StatusKey(absl::StrCat(node, "-a", j)))
          .IgnoreError();
    }
  }
  return ready ? 0 : 1;
}
