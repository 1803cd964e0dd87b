// berth lock NAME [--ttl 10s] [--timeout 30s] -- CMD ARGS...
//
// Runs CMD while holding the lock. CMD gets BERTH_LOCK_TOKEN (the fencing
// token), BERTH_LOCK_NAME, BERTH_LOCK_KEY and BERTH_LOCK_LEASE. The exit
// code is CMD's (128+N if a signal N killed it). If the session is lost
// while CMD runs, CMD gets SIGTERM (SIGKILL 10s later) and berth exits 1.
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/signals.h"
#include "lockservice/client/client.h"
#include "lockservice/client/mutex.h"
#include "lockservice/client/session.h"

extern char** environ;

namespace berth::cli {

namespace {

constexpr absl::Duration kKillGrace = absl::Seconds(10);

// Built before fork: the child may only make async-signal-safe calls.
struct ExecPlan {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

ExecPlan MakePlan(const std::vector<std::string>& cmd, const lock::Mutex& mutex,
                  int64_t lease) {
  ExecPlan p;
  p.argv_storage = cmd;
  for (char** e = environ; *e != nullptr; ++e) {
    if (strncmp(*e, "BERTH_LOCK_", 11) != 0 ||
        strncmp(*e, "BERTH_LOCK_ENDPOINTS=", 21) == 0) {
      p.env_storage.push_back(*e);
    }
  }
  p.env_storage.push_back(absl::StrCat("BERTH_LOCK_TOKEN=", mutex.token()));
  p.env_storage.push_back(absl::StrCat("BERTH_LOCK_NAME=", mutex.name()));
  p.env_storage.push_back(absl::StrCat("BERTH_LOCK_KEY=", mutex.key()));
  p.env_storage.push_back(absl::StrCat("BERTH_LOCK_LEASE=", lease));
  for (std::string& s : p.argv_storage) p.argv.push_back(s.data());
  p.argv.push_back(nullptr);
  for (std::string& s : p.env_storage) p.envp.push_back(s.data());
  p.envp.push_back(nullptr);
  return p;
}

int ExitCodeOf(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return kExitFailure;
}

int Run(Context& ctx) {
  std::string name = ctx.Arg("NAME");
  absl::StatusOr<absl::Duration> ttl =
      ParseTtlFlag("--ttl", ctx.args["ttl"].as<std::string>());
  if (!ttl.ok()) return ctx.UsageError(ttl.status());
  // For this command the global --timeout bounds the wait for the lock.
  const absl::Duration wait =
      ctx.args["timeout"].defaulted() ? absl::Seconds(30) : ctx.global.timeout;

  SignalWaiter signals;  // before any thread starts
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  std::atomic<bool> lost{false};
  lock::SessionOptions so;
  so.ttl = *ttl;
  so.on_lost = [&lost](const absl::Status&) {
    lost.store(true);
    SignalWaiter::Notify(SIGUSR1);
  };
  auto session = lock::Session::Create(client->get(), so);
  if (!session.ok()) return ctx.Fail(session.status());
  lock::Mutex mutex(session->get(), name);

  absl::Status locked;
  int sig = RunInterruptible(signals, [&] { locked = mutex.Lock(wait); });
  if (sig != 0) {
    *ctx.err << "berth lock: interrupted while waiting for lock " << name
             << "\n";
    (*session)->Close().IgnoreError();  // leaves the wait queue
    std::cerr.flush();
    _exit(128 + sig);
  }
  if (!locked.ok()) {
    if (locked.code() == absl::StatusCode::kDeadlineExceeded) {
      *ctx.err << "berth lock: timed out after " << absl::FormatDuration(wait)
               << " waiting for lock " << name << "\n";
      return kExitFailure;
    }
    return ctx.Fail(locked);
  }

  ExecPlan plan = MakePlan(ctx.trailing, mutex, (*session)->lease_id());
  pid_t pid = fork();
  if (pid < 0) {
    return ctx.Fail(
        absl::InternalError(absl::StrCat("fork failed: ", strerror(errno))));
  }
  if (pid == 0) {
    pthread_sigmask(SIG_SETMASK, &signals.original_mask(), nullptr);
    execvpe(plan.argv[0], plan.argv.data(), plan.envp.data());
    const char msg[] = "berth lock: cannot run the command\n";
    ssize_t ignored = write(2, msg, sizeof(msg) - 1);
    (void)ignored;
    _exit(127);
  }

  int wstatus = 0;
  bool terminated = false;
  absl::Time term_at;
  while (true) {
    pid_t done = waitpid(pid, &wstatus, WNOHANG);
    if (done == pid) break;
    if (lost.load() && !terminated) {
      *ctx.err << "berth lock: lost lock " << name << " ("
               << (*session)->lost_reason().message()
               << "); sending SIGTERM to the command\n";
      kill(pid, SIGTERM);
      terminated = true;
      term_at = absl::Now();
    }
    if (terminated && absl::Now() - term_at > kKillGrace) kill(pid, SIGKILL);
    int s = signals.Wait(absl::Seconds(1));
    if (s == SIGINT || s == SIGTERM) kill(pid, s);
  }
  if (terminated || lost.load()) {
    if (!terminated) {
      *ctx.err << "berth lock: lost lock " << name
               << " while the command ran; its work may not be protected\n";
    }
    return kExitFailure;
  }
  absl::Status st = mutex.Unlock();
  if (!st.ok()) *ctx.err << "berth lock: warning: " << st.message() << "\n";
  st = (*session)->Close();
  if (!st.ok()) *ctx.err << "berth lock: warning: " << st.message() << "\n";
  return ExitCodeOf(wstatus);
}

}  // namespace

void AddLockCommands(std::vector<Command>* table) {
  table->push_back({"lock",
                    "run a command while holding a lock (--timeout: wait for "
                    "it, default 30s)",
                    {{"NAME"}},
                    true,
                    [](po::options_description& d) {
                      // --timeout (global) is the wait for the lock here,
                      // default 30s.
                      d.add_options()(
                          "ttl", po::value<std::string>()->default_value("10s"),
                          "session TTL: how soon a crash frees the lock");
                    },
                    Run});
}

}  // namespace berth::cli
