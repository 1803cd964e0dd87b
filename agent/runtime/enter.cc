#include "agent/runtime/enter.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/runtime/exec_args.h"
#include "agent/runtime/proc.h"

namespace berth::agent {
namespace {

// Joined in this order; mnt last, because it changes what /proc means.
constexpr const char* kNamespaces[] = {"ipc", "uts", "net", "pid", "mnt"};
constexpr int kNumNamespaces = 5;

enum Step : int {
  kSetns,
  kFork,
  kSetsid,
  kTty,
  kChdir,
  kSetgroups,
  kSetgid,
  kSetuid,
  kExec
};

struct ChildError {
  int step;
  int index;
  int err;
};

[[noreturn]] void Fail(int fd, int step, int index = 0) {
  ChildError e{step, index, errno};
  (void)!write(fd, &e, sizeof(e));
  _exit(127);
}

// The command, in the task's namespaces. Async-signal-safe calls only.
[[noreturn]] void CommandMain(const EnterConfig& c, const ExecArgs& p,
                              int err_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (setsid() < 0) Fail(err_fd, kSetsid);
  if (c.tty && ioctl(c.stdin_fd, TIOCSCTTY, 0) < 0) Fail(err_fd, kTty);
  dup2(c.stdin_fd, 0);
  dup2(c.stdout_fd, 1);
  dup2(c.stderr_fd, 2);
  bool in_dir = false;
  for (const std::string& dir : c.workdirs) {
    if (chdir(dir.c_str()) == 0) {
      in_dir = true;
      break;
    }
  }
  if (!in_dir) Fail(err_fd, kChdir);
  if (c.gid.has_value() || c.uid.has_value()) {
    if (setgroups(0, nullptr) < 0) Fail(err_fd, kSetgroups);
  }
  if (c.gid.has_value() && setgid(*c.gid) < 0) Fail(err_fd, kSetgid);
  if (c.uid.has_value() && setuid(*c.uid) < 0) Fail(err_fd, kSetuid);
  ExecFirst(p);
  Fail(err_fd, kExec);
}

// The helper: joins the namespaces, forks the command, passes its status on.
[[noreturn]] void HelperMain(const EnterConfig& c, const ExecArgs& p,
                             const int* ns_fds, int sync_fd, int err_fd) {
  char go;
  if (read(sync_fd, &go, 1) != 1) _exit(127);
  close(sync_fd);
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
  for (int i = 0; i < kNumNamespaces; ++i) {
    if (ns_fds[i] >= 0 && setns(ns_fds[i], 0) < 0) Fail(err_fd, kSetns, i);
  }
  pid_t cmd = fork();
  if (cmd < 0) Fail(err_fd, kFork);
  if (cmd == 0) CommandMain(c, p, err_fd);
  // Everything inherited from the agent, the command's stdin pipe among
  // them: held here it would never see end-of-file. err_fd goes too, so the
  // agent sees end-of-file there once the command execs.
  syscall(SYS_close_range, 0, ~0U, 0);
  int st = 0;
  while (waitpid(cmd, &st, 0) < 0) {
    if (errno != EINTR) _exit(127);
  }
  _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

std::string Describe(const EnterConfig& c, const ChildError& e) {
  switch (e.step) {
    case kSetns:
      return absl::StrCat("join the task's ",
                          kNamespaces[e.index % kNumNamespaces], " namespace");
    case kFork:
      return "fork inside the task's namespaces";
    case kSetsid:
      return "setsid";
    case kTty:
      return "make the terminal the controlling terminal";
    case kChdir:
      return "chdir to the task's working directory";
    case kSetgroups:
      return "setgroups";
    case kSetgid:
      return absl::StrCat("setgid ", c.gid.value_or(0));
    case kSetuid:
      return absl::StrCat("setuid ", c.uid.value_or(0));
    case kExec:
      return absl::StrCat("exec ", c.argv[0]);
  }
  return "exec setup";
}

}  // namespace

absl::StatusOr<pid_t> SpawnInside(
    const EnterConfig& config, absl::FunctionRef<absl::Status(pid_t)> isolate) {
  if (config.argv.empty())
    return absl::InvalidArgumentError("exec: no command");
  if (config.stdin_fd < 0 || config.stdout_fd < 0 || config.stderr_fd < 0) {
    return absl::InvalidArgumentError("exec: stdin, stdout and stderr needed");
  }
  ExecArgs prepared = PrepareExec(config.argv, config.env);
  // Opened here, before the helper enters the mount namespace (after which
  // /proc/<pid> would name a different process).
  Fd ns[kNumNamespaces];
  int ns_fds[kNumNamespaces];
  for (int i = 0; i < kNumNamespaces; ++i) {
    ns_fds[i] = -1;
    if (config.target_pid <= 0) continue;
    std::string path =
        absl::StrCat("/proc/", config.target_pid, "/ns/", kNamespaces[i]);
    ns[i] = Fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns[i].valid()) {
      return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
    }
    ns_fds[i] = ns[i].get();
  }
  int sync[2], errp[2];
  if (pipe2(sync, O_CLOEXEC) < 0) return absl::ErrnoToStatus(errno, "pipe2");
  Fd sync_r(sync[0]), sync_w(sync[1]);
  if (pipe2(errp, O_CLOEXEC) < 0) return absl::ErrnoToStatus(errno, "pipe2");
  Fd err_r(errp[0]), err_w(errp[1]);

  pid_t pid = fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    HelperMain(config, prepared, ns_fds, sync_r.get(), err_w.get());
  }
  sync_r = Fd();
  err_w = Fd();
  auto reap = [&] {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  if (absl::Status s = isolate(pid); !s.ok()) {
    kill(pid, SIGKILL);
    reap();
    return s;
  }
  char go = 1;
  if (write(sync_w.get(), &go, 1) != 1) {
    int e = errno;
    kill(pid, SIGKILL);
    reap();
    return absl::ErrnoToStatus(e, "release exec helper");
  }
  sync_w = Fd();
  ChildError e;
  ssize_t n;
  while ((n = read(err_r.get(), &e, sizeof(e))) < 0 && errno == EINTR) {
  }
  if (n == 0) return pid;  // the command exec'd and the helper let go
  kill(pid, SIGKILL);
  reap();
  if (n != sizeof(e)) return absl::InternalError("exec: helper died");
  return absl::ErrnoToStatus(e.err, Describe(config, e));
}

absl::StatusOr<ProcIdentity> ReadProcIdentity(pid_t pid) {
  ProcIdentity id;
  const std::string dir = absl::StrCat("/proc/", pid);
  std::ifstream status(dir + "/status");
  if (!status.good()) {
    return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
  }
  bool have_uid = false, have_gid = false;
  std::string line;
  while (std::getline(status, line)) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.size() < 2) continue;
    // "Uid: real effective saved fs": the effective id is what it runs as.
    const absl::string_view v = f.size() > 2 ? f[2] : f[1];
    if (f[0] == "Uid:") have_uid = absl::SimpleAtoi(v, &id.uid);
    if (f[0] == "Gid:") have_gid = absl::SimpleAtoi(v, &id.gid);
  }
  if (!have_uid || !have_gid) {
    return absl::DataLossError(absl::StrCat(dir, "/status has no Uid/Gid"));
  }
  std::ifstream environ(dir + "/environ", std::ios::binary);
  std::stringstream ss;
  ss << environ.rdbuf();
  for (absl::string_view kv :
       absl::StrSplit(ss.str(), '\0', absl::SkipEmpty())) {
    id.env.emplace_back(kv);
  }
  return id;
}

}  // namespace berth::agent
