#include "agent/runtime/namespaces.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/runtime/exec_args.h"
#include "agent/runtime/proc.h"

namespace berth::agent {
namespace {

enum Step : int {
  kSync,
  kJoinCgroup,
  kSetsid,
  kOpenStdin,
  kOpenStdout,
  kOpenStderr,
  kMountPrivate,
  kHostname,
  kLoopback,
  kBindRootfs,
  kBindSandbox,
  kBind,
  kRemountReadOnly,
  kPivotRoot,
  kMountProc,
  kChdir,
  kSetgroups,
  kSetgid,
  kSetuid,
  kExec,
};

struct ChildError {
  int step;
  int index;  // which bind mount (kBind, kRemountReadOnly) or join file
  int err;
};

// Everything the child touches, as C strings that outlive the clone.
struct Prepared {
  ExecArgs exec;
  std::string sandbox_in_rootfs;          // <rootfs>/sandbox
  std::vector<std::string> bind_targets;  // <rootfs><target>
  std::string workdir;
};

Prepared Prepare(const ChildConfig& c) {
  Prepared p;
  p.exec = PrepareExec(c.argv, c.env);
  if (!c.rootfs.empty()) {
    p.sandbox_in_rootfs = c.rootfs + kSandboxMount;
    for (const BindMount& b : c.binds)
      p.bind_targets.push_back(c.rootfs + b.target);
    p.workdir = kSandboxMount;
  } else {
    p.workdir = c.sandbox_dir;
  }
  return p;
}

[[noreturn]] void Fail(int fd, int step, int index = 0) {
  ChildError e{step, index, errno};
  (void)!write(fd, &e, sizeof(e));
  _exit(127);
}

int OpenFile(const std::string& path) {
  return open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
}

// Brings up "lo" in a fresh network namespace; otherwise even 127.0.0.1 is
// unreachable inside.
bool LoopbackUp() {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  memcpy(ifr.ifr_name, "lo", 3);
  bool ok = ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  ok = ok && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
  close(s);
  return ok;
}

// Runs in the cloned child, which shares the agent's memory (CLONE_VM, see
// Spawn) until it execs: only raw system calls and async-signal-safe libc
// wrappers that keep no process-wide state, no allocation, nothing that
// writes the agent's memory but this child's own stack and errno.
[[noreturn]] void ChildMain(const ChildConfig& c, const Prepared& p,
                            int sync_fd, int err_fd) {
  char go;
  if (read(sync_fd, &go, 1) != 1) _exit(127);  // parent gave up on us
  close(sync_fd);
  // First, so that all the set-up below is charged to the task's groups.
  for (size_t i = 0; i < c.join_fds.size(); ++i) {
    if (write(c.join_fds[i], "0", 1) != 1) {
      Fail(err_fd, kJoinCgroup, static_cast<int>(i));
    }
  }

  // Nothing the agent holds open may leak into the task. err_fd is already
  // close-on-exec.
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  // Spawn cloned us with every signal blocked, so no handler of the
  // agent's can run here on shared memory; default them, then unblock.
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  if (setsid() < 0) Fail(err_fd, kSetsid);
  int in = open("/dev/null", O_RDONLY);
  if (in < 0) Fail(err_fd, kOpenStdin);
  // dup() of an inherited descriptor drops nothing the parent still needs:
  // the child's copies are closed on exec anyway.
  int out = c.stdout_fd >= 0 ? dup(c.stdout_fd) : OpenFile(c.stdout_path);
  if (out < 0) Fail(err_fd, kOpenStdout);
  int err = c.stderr_fd >= 0 ? dup(c.stderr_fd) : OpenFile(c.stderr_path);
  if (err < 0) Fail(err_fd, kOpenStderr);
  if (c.uid.has_value()) {
    (void)!fchown(out, *c.uid, c.gid.value_or(-1));
    (void)!fchown(err, *c.uid, c.gid.value_or(-1));
  }
  dup2(in, 0);
  dup2(out, 1);
  dup2(err, 2);
  if (in > 2) close(in);
  if (out > 2) close(out);
  if (err > 2) close(err);

  if (c.clone_flags & CLONE_NEWNS) {
    // Keep our mounts (and the host's later ones) from propagating.
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) {
      Fail(err_fd, kMountPrivate);
    }
  }
  if (c.clone_flags & CLONE_NEWUTS) {
    if (sethostname(c.hostname.data(), c.hostname.size()) < 0) {
      Fail(err_fd, kHostname);
    }
  }
  if ((c.clone_flags & CLONE_NEWNET) && !LoopbackUp()) Fail(err_fd, kLoopback);

  if (!c.rootfs.empty()) {
    const char* root = c.rootfs.c_str();
    // pivot_root needs the new root to be a mount point.
    if (mount(root, root, nullptr, MS_BIND | MS_REC, nullptr) < 0) {
      Fail(err_fd, kBindRootfs);
    }
    mkdir(p.sandbox_in_rootfs.c_str(), 0755);
    if (mount(c.sandbox_dir.c_str(), p.sandbox_in_rootfs.c_str(), nullptr,
              MS_BIND | MS_REC, nullptr) < 0) {
      Fail(err_fd, kBindSandbox);
    }
    for (size_t i = 0; i < c.binds.size(); ++i) {
      const char* target = p.bind_targets[i].c_str();
      struct stat st;
      if (stat(c.binds[i].source.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        mkdir(target, 0755);
      } else {
        int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) close(fd);
      }
      if (mount(c.binds[i].source.c_str(), target, nullptr, MS_BIND | MS_REC,
                nullptr) < 0) {
        Fail(err_fd, kBind, static_cast<int>(i));
      }
      // A bind mount ignores MS_RDONLY until it is remounted.
      if (c.binds[i].read_only &&
          mount(nullptr, target, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY,
                nullptr) < 0) {
        Fail(err_fd, kRemountReadOnly, static_cast<int>(i));
      }
    }
    // pivot_root(".", ".") stacks the old root under the new one; detaching
    // it leaves only the rootfs.
    if (chdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
        umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
      Fail(err_fd, kPivotRoot);
    }
  }
  if (c.mount_proc) {
    mkdir("/proc", 0555);
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              nullptr) < 0) {
      Fail(err_fd, kMountProc);
    }
  }
  if (chdir(p.workdir.c_str()) < 0) Fail(err_fd, kChdir);
  // Raw calls: glibc's set*id signal every thread it knows of to change
  // credentials too, and the threads it knows of are the agent's.
  if (c.gid.has_value() || c.uid.has_value()) {
    if (syscall(SYS_setgroups, 0, nullptr) < 0) Fail(err_fd, kSetgroups);
  }
  if (c.gid.has_value() && syscall(SYS_setgid, *c.gid) < 0) {
    Fail(err_fd, kSetgid);
  }
  if (c.uid.has_value() && syscall(SYS_setuid, *c.uid) < 0) {
    Fail(err_fd, kSetuid);
  }

  ExecFirst(p.exec);
  Fail(err_fd, kExec);
}

std::string Describe(const ChildConfig& c, const ChildError& e) {
  switch (e.step) {
    case kSync:
      return "waiting for the agent";
    case kJoinCgroup:
      return "join its cgroup (write 0 to a tasks file)";
    case kSetsid:
      return "setsid";
    case kOpenStdin:
      return "open /dev/null";
    case kOpenStdout:
      return absl::StrCat("open stdout ", c.stdout_path);
    case kOpenStderr:
      return absl::StrCat("open stderr ", c.stderr_path);
    case kMountPrivate:
      return "make mounts private";
    case kHostname:
      return absl::StrCat("sethostname ", c.hostname);
    case kLoopback:
      return "bring up loopback";
    case kBindRootfs:
      return absl::StrCat("bind rootfs ", c.rootfs);
    case kBindSandbox:
      return absl::StrCat("bind sandbox ", c.sandbox_dir);
    case kBind:
      return absl::StrCat("bind ", c.binds[e.index].source, " to ",
                          c.binds[e.index].target);
    case kRemountReadOnly:
      return absl::StrCat("remount read-only ", c.binds[e.index].target);
    case kPivotRoot:
      return absl::StrCat("pivot_root into ", c.rootfs);
    case kMountProc:
      return "mount /proc";
    case kChdir:
      return "chdir to the sandbox";
    case kSetgroups:
      return "setgroups";
    case kSetgid:
      return absl::StrCat("setgid ", c.gid.value_or(0));
    case kSetuid:
      return absl::StrCat("setuid ", c.uid.value_or(0));
    case kExec:
      return absl::StrCat("exec ", c.argv[0]);
  }
  return "child setup";
}

ChildConfig Common(const TaskSpec& spec) {
  TaskSpec s = WithDefaults(spec);
  ChildConfig c;
  c.argv = s.argv;
  c.env = s.env;
  c.sandbox_dir = s.sandbox_dir;
  c.hostname = s.hostname;
  c.uid = s.uid;
  c.gid = s.gid;
  c.stdout_path = s.stdout_path;
  c.stderr_path = s.stderr_path;
  c.stdout_fd = s.stdout_fd;
  c.stderr_fd = s.stderr_fd;
  return c;
}

}  // namespace

ChildConfig NamespacedChild(const TaskSpec& spec) {
  ChildConfig c = Common(spec);
  c.clone_flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
  if (spec.new_net_namespace) c.clone_flags |= CLONE_NEWNET;
  c.mount_proc = true;
  c.rootfs = spec.rootfs;
  c.binds = spec.binds;
  return c;
}

ChildConfig PlainChild(const TaskSpec& spec) { return Common(spec); }

namespace {

struct ChildArgs {
  const ChildConfig* config;
  const Prepared* prepared;
  int sync_fd;
  int err_fd;
};

int ChildEntry(void* arg) {
  const ChildArgs* a = static_cast<const ChildArgs*>(arg);
  ChildMain(*a->config, *a->prepared, a->sync_fd, a->err_fd);
}

// The cloned child's stack, with a guard page below it.
class ChildStack {
 public:
  ChildStack() {
    void* p = mmap(nullptr, kSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) return;
    base_ = static_cast<char*>(p);
    mprotect(base_, kGuard, PROT_NONE);
  }
  ~ChildStack() {
    if (base_ != nullptr) munmap(base_, kSize);
  }
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;
  bool ok() const { return base_ != nullptr; }
  void* top() const { return base_ + kSize; }  // stacks grow down

 private:
  static constexpr size_t kGuard = 4096;
  static constexpr size_t kSize = 256 * 1024;
  char* base_ = nullptr;
};

}  // namespace

absl::StatusOr<pid_t> Spawn(const ChildConfig& config,
                            absl::FunctionRef<absl::Status(pid_t)> isolate) {
  if (config.argv.empty()) {
    return absl::InvalidArgumentError("spawn: empty argv");
  }
  Prepared prepared = Prepare(config);
  int sync[2], errp[2];
  if (pipe2(sync, O_CLOEXEC) < 0) {
    return absl::ErrnoToStatus(errno, "pipe2");
  }
  Fd sync_r(sync[0]), sync_w(sync[1]);
  if (pipe2(errp, O_CLOEXEC) < 0) {
    return absl::ErrnoToStatus(errno, "pipe2");
  }
  Fd err_r(errp[0]), err_w(errp[1]);

  // The child shares our memory until it execs (CLONE_VM) and runs on a
  // stack of its own. A fork-like clone would copy the page tables of this
  // large, many-threaded process and then fault and shoot down TLBs on
  // every page either side touched; in a burst of launches that was about
  // a tenth of the busy machine (docs/benchmarks.md, "Task start latency").
  // Not CLONE_VFORK: the child waits for us to put it into its cgroups.
  ChildStack stack;
  if (!stack.ok()) return absl::ErrnoToStatus(errno, "mmap child stack");
  ChildArgs args{&config, &prepared, sync_r.get(), err_w.get()};
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  long pid = clone(&ChildEntry, stack.top(),
                   config.clone_flags | CLONE_VM | SIGCHLD, &args);
  const int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return absl::ErrnoToStatus(clone_errno, "clone");

  sync_r = Fd();
  err_w = Fd();
  // After this the child no longer runs on its stack (ChildStack's
  // destructor frees it): it has exec'd, or it is reaped.
  auto reap = [&] {
    while (waitpid(static_cast<pid_t>(pid), nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  if (absl::Status s = isolate(static_cast<pid_t>(pid)); !s.ok()) {
    kill(static_cast<pid_t>(pid), SIGKILL);
    reap();
    return s;
  }
  char go = 1;
  if (write(sync_w.get(), &go, 1) != 1) {
    int e = errno;
    kill(static_cast<pid_t>(pid), SIGKILL);
    reap();
    return absl::ErrnoToStatus(e, "release child");
  }
  sync_w = Fd();

  ChildError e;
  ssize_t n;
  while ((n = read(err_r.get(), &e, sizeof(e))) < 0 && errno == EINTR) {
  }
  if (n == 0) return static_cast<pid_t>(pid);  // exec closed the pipe
  reap();
  if (n != sizeof(e)) {
    return absl::InternalError("spawn: child died before exec");
  }
  return absl::ErrnoToStatus(e.err, Describe(config, e));
}

}  // namespace berth::agent
