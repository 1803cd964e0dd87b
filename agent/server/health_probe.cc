#include "agent/server/health_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/runtime/proc.h"

namespace berth::agent {
namespace {

int RemainingMs(absl::Time deadline) {
  return static_cast<int>(std::max<int64_t>(
      0, absl::ToInt64Milliseconds(deadline - absl::Now()) + 1));
}

// Connects to 127.0.0.1:port before `deadline`; the socket stays
// non-blocking.
absl::StatusOr<Fd> Connect(int port, absl::Time deadline) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string where = absl::StrCat("127.0.0.1:", port);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) ==
      0) {
    return fd;
  }
  if (errno != EINPROGRESS) {
    return absl::ErrnoToStatus(errno, absl::StrCat("connect ", where));
  }
  pollfd p{fd.get(), POLLOUT, 0};
  int n = poll(&p, 1, RemainingMs(deadline));
  if (n == 0) {
    return absl::DeadlineExceededError(
        absl::StrCat("connect ", where, ": timed out"));
  }
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (n < 0 || err != 0) {
    return absl::ErrnoToStatus(n < 0 ? errno : err,
                               absl::StrCat("connect ", where));
  }
  return fd;
}

ProbeResult Tcp(int port, absl::Time deadline) {
  absl::StatusOr<Fd> fd = Connect(port, deadline);
  if (!fd.ok()) return {false, std::string(fd.status().message())};
  return {true, absl::StrCat("connected to 127.0.0.1:", port)};
}

ProbeResult Http(int port, const std::string& path_in, absl::Time deadline) {
  absl::StatusOr<Fd> fd = Connect(port, deadline);
  if (!fd.ok()) return {false, std::string(fd.status().message())};
  const std::string path = path_in.empty() ? "/" : path_in;
  const std::string req =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n",
                   "User-Agent: berth\r\n", "Connection: close\r\n\r\n");
  size_t sent = 0;
  while (sent < req.size()) {
    pollfd p{fd->get(), POLLOUT, 0};
    if (poll(&p, 1, RemainingMs(deadline)) <= 0) {
      return {false, absl::StrCat("GET ", path, ": timed out sending")};
    }
    ssize_t n =
        send(fd->get(), req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return {false, absl::StrCat("GET ", path, ": ", strerror(errno))};
    }
    if (n > 0) sent += n;
  }
  std::string got;
  char buf[512];
  while (got.find("\r\n") == std::string::npos && got.size() < 1024) {
    pollfd p{fd->get(), POLLIN, 0};
    if (poll(&p, 1, RemainingMs(deadline)) <= 0) {
      return {false, absl::StrCat("GET ", path, ": no answer in time")};
    }
    ssize_t n = recv(fd->get(), buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return {false, absl::StrCat("GET ", path, ": ", strerror(errno))};
    }
    got.append(buf, n);
  }
  const std::string line = got.substr(0, got.find("\r\n"));
  // "HTTP/1.x NNN reason"
  int code = 0;
  size_t sp = line.find(' ');
  if (sp == std::string::npos ||
      !absl::SimpleAtoi(line.substr(sp + 1, 3), &code)) {
    return {false,
            absl::StrCat("GET ", path, ": not an HTTP answer: \"", line, "\"")};
  }
  return {code >= 200 && code < 400, absl::StrCat("GET ", path, ": ", line)};
}

ProbeResult Exec(const ProbeTarget& t, absl::Time deadline, Runtime* runtime) {
  // Everything the child needs is built before fork: after fork only
  // async-signal-safe calls are allowed in a threaded process.
  std::vector<std::string> args(t.check.exec().argv().begin(),
                                t.check.exec().argv().end());
  std::vector<char*> argv, envp;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = t.env;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0) {
    return {false, absl::StrCat("exec probe: pipe: ", strerror(errno))};
  }
  Fd read_end(pipefd[0]), write_end(pipefd[1]);
  const char* cwd = t.cwd.empty() ? "/" : t.cwd.c_str();
  pid_t pid = -1;
  bool in_task = false;  // the helper of Runtime::Exec; else our own child
  if (runtime != nullptr && !t.alloc_id.empty()) {
    Fd devnull(open("/dev/null", O_RDONLY | O_CLOEXEC));
    ExecSpec spec;
    spec.argv = args;
    spec.workdirs = {t.cwd, kSandboxMount};
    spec.stdin_fd = devnull.get();
    spec.stdout_fd = write_end.get();
    spec.stderr_fd = write_end.get();
    absl::StatusOr<pid_t> p = runtime->Exec(t.alloc_id, spec);
    if (p.ok()) {
      pid = *p;
      in_task = true;
    } else if (!absl::IsUnimplemented(p.status())) {
      return {false, absl::StrCat("exec probe: ", p.status().message())};
    }
  }
  if (!in_task) {
    pid = fork();
    if (pid < 0) return {false, absl::StrCat("fork: ", strerror(errno))};
    if (pid == 0) {
      setpgid(0, 0);
      int devnull = open("/dev/null", O_RDONLY);
      if (devnull >= 0) dup2(devnull, 0);
      dup2(write_end.get(), 1);
      dup2(write_end.get(), 2);
      if (chdir(cwd) < 0) _exit(126);
      execvpe(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    setpgid(pid, pid);
  }
  write_end = Fd();
  std::string out;
  char buf[512];
  bool timed_out = false;
  while (true) {
    pollfd p{read_end.get(), POLLIN, 0};
    int n = poll(&p, 1, RemainingMs(deadline));
    if (n == 0) {
      timed_out = true;
      break;
    }
    if (n < 0 && errno == EINTR) continue;
    ssize_t r = read(read_end.get(), buf, sizeof(buf));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;  // EOF: every writer is gone
    if (out.size() < 4096) out.append(buf, r);
  }
  // The helper's command dies with it (PR_SET_PDEATHSIG).
  if (timed_out) kill(in_task ? pid : -pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return {false, absl::StrCat("exec ", args[0], ": timed out; ", out)};
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {true, out};
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && out.empty()) {
    return {false, absl::StrCat("exec ", args[0], ": cannot run it")};
  }
  return {false, absl::StrCat("exec ", args[0], ": ",
                              WIFEXITED(status)
                                  ? absl::StrCat("exit ", WEXITSTATUS(status))
                                  : absl::StrCat("signal ", WTERMSIG(status)),
                              out.empty() ? "" : "; ", out)};
}

}  // namespace

ProbeResult SystemProber::Probe(const ProbeTarget& target,
                                absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  switch (target.check.probe_case()) {
    case agentpb::HealthCheck::kTcpPort:
      return Tcp(target.port, deadline);
    case agentpb::HealthCheck::kHttp:
      return Http(target.port, target.check.http().path(), deadline);
    case agentpb::HealthCheck::kExec:
      return Exec(target, deadline, runtime_);
    case agentpb::HealthCheck::PROBE_NOT_SET:
      break;
  }
  return {false, "no probe configured"};
}

}  // namespace berth::agent
