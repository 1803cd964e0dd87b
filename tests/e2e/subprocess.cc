#include "tests/e2e/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::e2e {

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    const std::vector<std::string>& argv, const std::string& log_prefix,
    const std::map<std::string, std::string>& env) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  std::string out = log_prefix + ".out";
  std::string err = log_prefix + ".err";
  // Everything the child needs is prepared before fork: only
  // async-signal-safe calls may run between fork and exec.
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (std::string& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    std::string name = entry.substr(0, entry.find('='));
    if (!env.contains(name)) envs.push_back(entry);
  }
  for (const auto& [k, v] : env) envs.push_back(absl::StrCat(k, "=", v));
  std::vector<char*> cenv;
  for (std::string& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  int out_fd =
      open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err_fd =
      open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out_fd < 0 || err_fd < 0) {
    if (out_fd >= 0) close(out_fd);
    if (err_fd >= 0) close(err_fd);
    return absl::InternalError(
        absl::StrCat("cannot create ", log_prefix, ".out/.err"));
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(out_fd);
    close(err_fd);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    execve(cargv[0], cargv.data(), cenv.data());
    _exit(127);
  }
  close(out_fd);
  close(err_fd);
  return std::unique_ptr<Subprocess>(new Subprocess(pid, out, err));
}

Subprocess::~Subprocess() {
  if (!exit_code_.has_value()) {
    kill(pid_, SIGCONT);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void Subprocess::Signal(int sig) {
  if (!exit_code_.has_value()) kill(pid_, sig);
}

std::optional<int> Subprocess::Wait(absl::Duration timeout) {
  if (exit_code_.has_value()) return exit_code_;
  WaitFor(
      [&] {
        int status = 0;
        pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r != pid_) return false;
        exit_code_ = WIFEXITED(status)     ? WEXITSTATUS(status)
                     : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                           : -1;
        return true;
      },
      timeout);
  return exit_code_;
}

std::string Subprocess::Stdout() const { return ReadFileOrEmpty(out_); }
std::string Subprocess::Stderr() const { return ReadFileOrEmpty(err_); }

RunResult RunToExit(const std::vector<std::string>& argv,
                    const std::string& log_prefix, absl::Duration timeout,
                    const std::map<std::string, std::string>& env) {
  RunResult r;
  auto p = Subprocess::Start(argv, log_prefix, env);
  if (!p.ok()) {
    r.err = std::string(p.status().message());
    return r;
  }
  std::optional<int> code = (*p)->Wait(timeout);
  if (!code.has_value()) {
    (*p)->Signal(SIGKILL);
    (*p)->Wait(absl::Seconds(10));
  }
  r.exit_code = code.value_or(-1);
  r.out = (*p)->Stdout();
  r.err = (*p)->Stderr();
  return r;
}

}  // namespace berth::e2e
