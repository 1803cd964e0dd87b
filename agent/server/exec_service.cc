#include "agent/server/exec_service.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/runtime/proc.h"
#include "common/monotonic_wait.h"

namespace berth::agent {
namespace {

// How often the output loop checks whether the caller went away.
constexpr int kPollMs = 200;
// After the exit message, how long the caller has to half-close.
constexpr absl::Duration kCloseGrace = absl::Seconds(5);

// Waits until the caller half-closes (cancelling the call after a grace
// period), reading and dropping what it still sends.
void AwaitHalfClose(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<agentpb::ExecOutput, agentpb::ExecInput>* stream) {
  Notice done;
  std::thread drain([&] {
    agentpb::ExecInput ignored;
    while (stream->Read(&ignored)) {
    }
    done.Notify();
  });
  if (!done.WaitFor(kCloseGrace)) ctx->TryCancel();
  drain.join();
}

// The exec cannot run: the final message says why.
grpc::Status Refuse(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<agentpb::ExecOutput, agentpb::ExecInput>* stream,
    const absl::Status& why) {
  agentpb::ExecOutput out;
  out.set_error_code(static_cast<int>(why.code()));
  out.set_error(std::string(why.message()));
  stream->Write(out);
  AwaitHalfClose(ctx, stream);
  return grpc::Status::OK;
}

bool WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

absl::Status Pipe(Fd& r, Fd& w) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return absl::ErrnoToStatus(errno, "pipe2");
  r = Fd(p[0]);
  w = Fd(p[1]);
  return absl::OkStatus();
}

winsize Size(const agentpb::TerminalSize& s) {
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(s.rows() > 0 ? s.rows() : 24);
  ws.ws_col = static_cast<unsigned short>(s.cols() > 0 ? s.cols() : 80);
  return ws;
}

}  // namespace

grpc::Status ExecService::Exec(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<agentpb::ExecOutput, agentpb::ExecInput>* stream) {
  agentpb::ExecInput first;
  if (!stream->Read(&first) || !first.has_start()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first message must carry start");
  }
  const agentpb::ExecStart& start = first.start();
  if (start.command().empty()) {
    return Refuse(ctx, stream, absl::InvalidArgumentError("empty command"));
  }
  // The command's ends and ours. With a terminal, one master carries
  // everything; otherwise three pipes (stdin /dev/null unless forwarded).
  Fd in_w, out_r, err_r, child_in, child_out, child_err;
  const bool tty = start.tty();
  if (tty) {
    int master = -1, slave = -1;
    winsize ws = Size(start.size());
    if (openpty(&master, &slave, nullptr, nullptr, &ws) < 0) {
      return Refuse(ctx, stream, absl::ErrnoToStatus(errno, "openpty"));
    }
    fcntl(master, F_SETFD, FD_CLOEXEC);
    fcntl(slave, F_SETFD, FD_CLOEXEC);
    out_r = Fd(master);
    in_w = Fd(dup(master));
    child_in = Fd(slave);
  } else {
    if (start.stdin()) {
      if (absl::Status s = Pipe(child_in, in_w); !s.ok()) {
        return Refuse(ctx, stream, s);
      }
    } else {
      child_in = Fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    }
    if (absl::Status s = Pipe(out_r, child_out); !s.ok()) {
      return Refuse(ctx, stream, s);
    }
    if (absl::Status s = Pipe(err_r, child_err); !s.ok()) {
      return Refuse(ctx, stream, s);
    }
  }
  ExecSpec spec;
  spec.argv.assign(start.command().begin(), start.command().end());
  spec.tty = tty;
  spec.stdin_fd = child_in.get();
  spec.stdout_fd = tty ? child_in.get() : child_out.get();
  spec.stderr_fd = tty ? child_in.get() : child_err.get();
  if (tty) spec.env.push_back("TERM=xterm");
  absl::StatusOr<pid_t> pid = agent_->Exec(start.alloc_id(), spec);
  if (!pid.ok()) return Refuse(ctx, stream, pid.status());
  // Only the command holds its ends now: end-of-file once it is gone.
  child_in = Fd();
  child_out = Fd();
  child_err = Fd();

  Notice input_done;
  std::thread input([&] {
    agentpb::ExecInput msg;
    while (stream->Read(&msg)) {
      if (!msg.stdin().empty() && in_w.valid()) {
        WriteAll(in_w.get(), msg.stdin());
      }
      if (msg.stdin_eof() && in_w.valid()) {
        // A terminal has no end of input but ^D at the start of a line.
        if (tty) {
          WriteAll(in_w.get(), "\x04");
        } else {
          in_w = Fd();
        }
      }
      if (msg.has_resize() && tty) {
        winsize ws = Size(msg.resize());
        ioctl(in_w.get(), TIOCSWINSZ, &ws);
      }
    }
    input_done.Notify();
  });

  std::vector<pollfd> fds;
  fds.push_back({out_r.get(), POLLIN, 0});
  if (err_r.valid()) fds.push_back({err_r.get(), POLLIN, 0});
  size_t open_fds = fds.size();
  bool caller_gone = false;
  char buf[32 << 10];
  while (open_fds > 0) {
    if (ctx->IsCancelled()) {
      caller_gone = true;
      break;
    }
    int n = poll(fds.data(), fds.size(), kPollMs);
    if (n < 0 && errno != EINTR) break;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof(buf));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {  // end of file; EIO on a terminal whose slave closed
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      agentpb::ExecOutput out;
      (i == 0 ? out.mutable_stdout() : out.mutable_stderr())
          ->assign(buf, static_cast<size_t>(got));
      if (!stream->Write(out)) {
        caller_gone = true;
        open_fds = 0;
        break;
      }
    }
  }
  // The command dies with its helper (PR_SET_PDEATHSIG).
  if (caller_gone) kill(*pid, SIGKILL);
  int st = 0;
  while (waitpid(*pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!caller_gone) {
    agentpb::ExecOutput done;
    done.set_exited(true);
    if (WIFEXITED(st)) {
      done.set_exit_code(WEXITSTATUS(st));
    } else {
      done.set_signal(WTERMSIG(st));
      done.set_exit_code(128 + WTERMSIG(st));
    }
    stream->Write(done);
  }
  if (!input_done.WaitFor(kCloseGrace)) {
    ctx->TryCancel();
  }
  input.join();
  return grpc::Status::OK;
}

}  // namespace berth::agent
