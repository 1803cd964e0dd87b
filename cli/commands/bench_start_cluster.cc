#include "cli/commands/bench_start_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/ports.h"
#include "common/tls/tls_flags.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "proto/scheduler.grpc.pb.h"
#include "scheduler/state/keys.h"

namespace berth::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCgroupRoots[] = {
    "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/memory",
    "/sys/fs/cgroup/pids"};

bool Executable(const fs::path& p) {
  return !p.empty() && access(p.c_str(), X_OK) == 0 && !fs::is_directory(p);
}

// Where each server sits in the build tree, relative to the build root.
std::string BuildTreePath(const std::string& name) {
  if (name == "berth-lockd") return "lockservice/lockd/berth-lockd";
  if (name == "berth-scheduler") return "scheduler/server/berth-scheduler";
  if (name == "berth-agent") return "agent/server/berth-agent";
  if (name == "berth-agent-swarm") return "agent/server/berth-agent-swarm";
  return name;
}

}  // namespace

absl::StatusOr<std::string> FindBerthBinary(const std::string& name,
                                            const std::string& bin_dir) {
  std::vector<fs::path> tried;
  if (!bin_dir.empty()) {
    tried.push_back(fs::path(bin_dir) / name);
    tried.push_back(fs::path(bin_dir) / BuildTreePath(name));
  } else {
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
      tried.push_back(self.parent_path() / name);
      tried.push_back(self.parent_path().parent_path() / BuildTreePath(name));
    }
    if (const char* path = getenv("PATH"); path != nullptr) {
      for (absl::string_view d : absl::StrSplit(path, ':', absl::SkipEmpty())) {
        tried.push_back(fs::path(std::string(d)) / name);
      }
    }
  }
  for (const fs::path& p : tried) {
    if (Executable(p)) return p.string();
  }
  std::vector<std::string> names;
  for (const fs::path& p : tried) names.push_back(p.string());
  return absl::NotFoundError(absl::StrCat(name, " not found (tried ",
                                          absl::StrJoin(names, ", "),
                                          "); build it or pass --bin-dir"));
}

absl::StatusOr<std::unique_ptr<LocalCluster>> LocalCluster::Start(
    LocalClusterOptions options, std::ostream& log) {
  if (options.runtime != "linux" && options.runtime != "process") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--runtime \"", options.runtime, "\": want linux or process"));
  }
  if (options.runtime == "linux" && geteuid() != 0) {
    return absl::FailedPreconditionError(
        "--runtime linux needs root (cgroups and namespaces); use --runtime "
        "process");
  }
  if (options.schedulers < 1 || options.schedulers > 2) {
    return absl::InvalidArgumentError("--schedulers: want 1 or 2");
  }
  std::map<std::string, std::string> bins;
  for (const char* name : {"berth-lockd", "berth-scheduler", "berth-agent"}) {
    absl::StatusOr<std::string> b = FindBerthBinary(name, options.bin_dir);
    if (!b.ok()) return b.status();
    bins[name] = *b;
  }
  int base = options.port_base;
  if (base == 0) {
    absl::StatusOr<int> found = FindFreePortBlock(10, getpid());
    if (!found.ok()) return found.status();
    base = *found;
  }
  for (int p = base; p < base + 6; ++p) {
    if (!LoopbackPortFree(p)) {
      return absl::UnavailableError(absl::StrCat(
          "port 127.0.0.1:", p, " is in use; pass another --port-base"));
    }
  }
  std::unique_ptr<LocalCluster> c(new LocalCluster(std::move(options)));
  const LocalClusterOptions& o = c->opts_;
  if (o.work_dir.empty()) {
    const char* tmp = getenv("TMPDIR");
    std::string templ = absl::StrCat(tmp != nullptr && *tmp ? tmp : "/tmp",
                                     "/berth-bench-XXXXXX");
    if (mkdtemp(templ.data()) == nullptr) {
      return absl::InternalError(
          absl::StrCat("mkdtemp ", templ, ": ", std::strerror(errno)));
    }
    c->dir_ = templ;
  } else {
    std::error_code ec;
    fs::create_directories(o.work_dir, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("--work-dir ", o.work_dir, ": ", ec.message()));
    }
    c->dir_ = o.work_dir;
  }
  c->cgroup_parent_ = absl::StrCat("berth-bench-", getpid());
  std::string peers;
  for (int i = 0; i < 3; ++i) {
    std::string addr = absl::StrCat("127.0.0.1:", base + i);
    c->lockd_.push_back(addr);
    absl::StrAppend(&peers, peers.empty() ? "" : ",", i + 1, "=", addr);
  }
  const std::string endpoints = absl::StrJoin(c->lockd_, ",");
  for (int i = 0; i < 3; ++i) {
    std::string data = absl::StrCat(c->dir_, "/lockd", i + 1);
    fs::create_directories(data);
    std::vector<std::string> argv = {bins["berth-lockd"],
                                     "--id",
                                     absl::StrCat(i + 1),
                                     "--listen",
                                     c->lockd_[i],
                                     "--peers",
                                     peers,
                                     "--data-dir",
                                     data};
    for (std::string& f : tls::LocalDaemonTlsFlags()) argv.push_back(f);
    absl::Status s =
        c->Spawn("lockd", absl::StrCat("lockd", i + 1), std::move(argv));
    if (!s.ok()) return s;
  }
  for (int i = 0; i < o.schedulers; ++i) {
    std::string addr = absl::StrCat("127.0.0.1:", base + 3 + i);
    c->scheds_.push_back(addr);
    std::vector<std::string> argv = {
        bins["berth-scheduler"],        "--lock-endpoints", endpoints, "--id",
        absl::StrCat("bench-s", i + 1), "--listen",         addr};
    for (std::string& f : tls::LocalDaemonTlsFlags()) argv.push_back(f);
    absl::Status s = c->Spawn("scheduler", absl::StrCat("scheduler", i + 1),
                              std::move(argv));
    if (!s.ok()) return s;
  }
  std::string agent_dir = absl::StrCat(c->dir_, "/agent");
  fs::create_directories(agent_dir);
  std::vector<std::string> agent_argv = {bins["berth-agent"],
                                         "--lock-endpoints",
                                         endpoints,
                                         "--node-id",
                                         c->node_,
                                         "--listen",
                                         absl::StrCat("127.0.0.1:", base + 5),
                                         "--data-dir",
                                         agent_dir,
                                         "--runtime",
                                         o.runtime,
                                         "--cpu",
                                         o.agent_cpu,
                                         "--memory",
                                         o.agent_memory,
                                         "--cgroup-parent",
                                         c->cgroup_parent_,
                                         "--stop-tasks-on-exit"};
  for (std::string& f : tls::LocalDaemonTlsFlags()) agent_argv.push_back(f);
  absl::Status s = c->Spawn("agent", "agent", std::move(agent_argv));
  if (!s.ok()) return s;
  log << "bench start: cluster in " << c->dir_ << ": lockd " << endpoints
      << ", scheduler " << absl::StrJoin(c->scheds_, ",") << ", agent \""
      << c->node_ << "\" (runtime " << o.runtime << ")\n";
  if (absl::Status r = c->AwaitReady(log); !r.ok()) {
    c->opts_.keep_work_dir = true;  // the error points at its logs
    return r;
  }
  return c;
}

absl::Status LocalCluster::Spawn(const std::string& role,
                                 const std::string& name,
                                 const std::vector<std::string>& argv) {
  const std::string out = absl::StrCat(dir_, "/", name, ".log");
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // Die with the bench; SIGTERM lets the agent stop its tasks.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  procs_.push_back({role, name, pid});
  return absl::OkStatus();
}

std::string LocalCluster::ExitedEarly() const {
  for (const Proc& p : procs_) {
    int status = 0;
    if (p.pid > 0 && waitpid(p.pid, &status, WNOHANG) == p.pid) {
      return absl::StrCat(p.name, " exited (status ", status, "); see ", dir_,
                          "/", p.name, ".log");
    }
  }
  return "";
}

absl::Status LocalCluster::AwaitReady(std::ostream& log) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + opts_.ready_timeout;
  lock::ClientOptions co;
  co.request_timeout = absl::Seconds(2);
  co.dial_timeout = absl::Milliseconds(300);
  absl::StatusOr<std::unique_ptr<lock::Client>> client =
      lock::Client::Connect(lockd_, co);
  if (!client.ok()) return client.status();
  // Ready when the agent's node key exists (lockd has a leader, the agent
  // registered) and a scheduler says it leads.
  bool node = false;
  bool leader = false;
  std::vector<std::unique_ptr<schedpb::Scheduler::Stub>> stubs;
  for (const std::string& a : scheds_) {
    stubs.push_back(schedpb::Scheduler::NewStub(
        grpc::CreateChannel(a, grpc::InsecureChannelCredentials())));
  }
  std::string last;
  while (!(node && leader)) {
    if (std::string e = ExitedEarly(); !e.empty()) {
      return absl::InternalError(e);
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "cluster not ready within ",
          absl::FormatDuration(opts_.ready_timeout),
          " (node registered: ", node, ", scheduler leader: ", leader,
          last.empty() ? "" : absl::StrCat(", last error: ", last),
          "); logs in ", dir_));
    }
    if (!node) {
      absl::StatusOr<lock::RangeResult> r =
          (*client)->kv().Range(sched::NodeKey(node_), lock::RangeOptions{});
      if (r.ok()) {
        node = !r->kvs.empty();
      } else {
        last = r.status().ToString();
      }
    }
    for (auto& stub : stubs) {
      if (leader) break;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(1));
      schedpb::LeaderResponse resp;
      if (stub->Leader(&ctx, schedpb::LeaderRequest(), &resp).ok() &&
          resp.is_self()) {
        leader = true;
      }
    }
    if (!(node && leader)) absl::SleepFor(absl::Milliseconds(50));
  }
  log << "bench start: cluster ready in "
      << absl::FormatDuration(
             absl::Trunc(absl::Now() - start, absl::Milliseconds(1)))
      << "\n";
  return absl::OkStatus();
}

std::vector<pid_t> LocalCluster::Pids(const std::string& role) const {
  std::vector<pid_t> out;
  for (const Proc& p : procs_) {
    if (p.role == role && p.pid > 0) out.push_back(p.pid);
  }
  return out;
}

void LocalCluster::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // Agent first (it stops its tasks and revokes its session while lockd is
  // still up), then the schedulers, then the replicas.
  for (const char* role : {"agent", "scheduler", "lockd"}) {
    for (Proc& p : procs_) {
      if (p.role == role && p.pid > 0) kill(p.pid, SIGTERM);
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    for (Proc& p : procs_) {
      if (p.role != role || p.pid <= 0) continue;
      int status = 0;
      while (waitpid(p.pid, &status, WNOHANG) == 0) {
        if (absl::Now() > deadline) {
          kill(p.pid, SIGKILL);
          waitpid(p.pid, &status, 0);
          break;
        }
        absl::SleepFor(absl::Milliseconds(20));
      }
      p.pid = 0;
    }
  }
  if (opts_.runtime == "linux") {
    for (const char* root : kCgroupRoots) {
      std::error_code ec;
      fs::path dir = fs::path(root) / cgroup_parent_;
      for (const auto& child : fs::directory_iterator(dir, ec)) {
        if (child.is_directory()) rmdir(child.path().c_str());
      }
      rmdir(dir.c_str());
    }
  }
  if (!opts_.keep_work_dir && !dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

LocalCluster::~LocalCluster() { Stop(); }

}  // namespace berth::cli
