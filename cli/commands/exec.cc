// berth alloc exec ID [-i] [-t] -- CMD ARGS...: runs a command inside an
// allocation's running task (its namespaces and cgroups on the linux
// runtime), through the scheduler, which relays the stream to the agent.
// The command's exit code becomes berth's.
//
// Threads: this one prints the output; with -i a second one forwards
// stdin. The second may still be blocked reading stdin when the command
// has exited, so it shares only a small guarded state with this one and
// never touches the stream after the exit was seen.
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "cli/sched_client.h"
#include "proto/scheduler.grpc.pb.h"

namespace berth::cli {
namespace {

using ExecStream =
    grpc::ClientReaderWriter<agentpb::ExecInput, agentpb::ExecOutput>;

// The stream as the stdin thread may use it: only while `open`.
struct Shared {
  std::mutex mu;
  ExecStream* stream = nullptr;  // null once closed
  bool Write(const agentpb::ExecInput& in) {
    std::lock_guard<std::mutex> l(mu);
    return stream != nullptr && stream->Write(in);
  }
  // Half-closes and detaches; later Writes do nothing.
  void Close() {
    std::lock_guard<std::mutex> l(mu);
    if (stream != nullptr) stream->WritesDone();
    stream = nullptr;
  }
};

// Puts the local terminal in raw mode for the lifetime of the object, so
// keys (^C, ^D, arrows) go to the remote command instead of acting here.
class RawTerminal {
 public:
  RawTerminal() {
    if (tcgetattr(0, &saved_) != 0) return;
    termios raw = saved_;
    cfmakeraw(&raw);
    active_ = tcsetattr(0, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) tcsetattr(0, TCSANOW, &saved_);
  }

 private:
  termios saved_{};
  bool active_ = false;
};

agentpb::TerminalSize LocalSize() {
  agentpb::TerminalSize size;
  winsize ws{};
  if (ioctl(0, TIOCGWINSZ, &ws) == 0) {
    size.set_rows(ws.ws_row);
    size.set_cols(ws.ws_col);
  }
  return size;
}

int Exec(Context& ctx) {
  if (ctx.trailing.empty()) {
    return ctx.UsageError(absl::InvalidArgumentError(
        "name the command after \"--\": berth alloc exec ID -- CMD ARGS..."));
  }
  const bool tty = ctx.Has("tty");
  const bool interactive = ctx.Has("interactive") || tty;
  if (tty && !isatty(0)) {
    return ctx.UsageError(absl::InvalidArgumentError(
        "-t needs a terminal on stdin (drop -t to stream stdout and stderr "
        "separately)"));
  }
  agentpb::ExecInput first;
  agentpb::ExecStart* start = first.mutable_start();
  start->set_alloc_id(ctx.Arg("ID"));
  for (const std::string& a : ctx.trailing) start->add_command(a);
  start->set_tty(tty);
  start->set_stdin(interactive);
  if (tty) *start->mutable_size() = LocalSize();

  std::optional<int> exit_code;
  absl::Status failure;  // the exec could not run or broke off
  bool sent = false;
  auto shared = std::make_shared<Shared>();
  SchedClient client(ctx.global.scheduler_endpoints, ctx.global.timeout,
                     ctx.global.credentials.channel());
  absl::Status st = client.Stream(
      [&](schedpb::Scheduler::Stub* stub, grpc::ClientContext* c) {
        if (sent) {
          // Never a second time: the command may already have run.
          return grpc::Status(grpc::StatusCode::ABORTED,
                              "the connection to the scheduler was lost during "
                              "the exec");
        }
        std::unique_ptr<ExecStream> stream = stub->AllocExec(c);
        if (!stream->Write(first)) return stream->Finish();  // try the next one
        sent = true;
        {
          std::lock_guard<std::mutex> l(shared->mu);
          shared->stream = stream.get();
        }
        std::optional<RawTerminal> raw;
        if (tty) raw.emplace();
        if (interactive) {
          std::thread([shared] {
            char buf[16 << 10];
            while (true) {
              ssize_t n = read(0, buf, sizeof(buf));
              if (n < 0 && errno == EINTR) continue;
              agentpb::ExecInput in;
              if (n <= 0) {
                in.set_stdin_eof(true);
                shared->Write(in);
                return;
              }
              in.set_stdin(std::string(buf, static_cast<size_t>(n)));
              if (!shared->Write(in)) return;
            }
          }).detach();
        }
        agentpb::ExecOutput out;
        while (stream->Read(&out)) {
          if (!out.stdout().empty()) {
            ctx.out->write(out.stdout().data(),
                           static_cast<std::streamsize>(out.stdout().size()));
            ctx.out->flush();
          }
          if (!out.stderr().empty()) {
            ctx.err->write(out.stderr().data(),
                           static_cast<std::streamsize>(out.stderr().size()));
            ctx.err->flush();
          }
          if (out.exited()) {
            exit_code = out.exit_code();
            shared->Close();
          }
          if (!out.error().empty()) {
            failure = absl::Status(
                static_cast<absl::StatusCode>(out.error_code()), out.error());
            shared->Close();
          }
        }
        shared->Close();
        return stream->Finish();
      });
  if (!st.ok()) return ctx.Fail(st);
  if (!failure.ok()) return ctx.Fail(failure);
  if (!exit_code.has_value()) {
    return ctx.Fail(absl::UnknownError("the command's exit status was lost"));
  }
  return *exit_code;
}

}  // namespace

void AddExecCommands(std::vector<Command>* table) {
  table->push_back(
      {"alloc exec",
       "run a command inside an allocation's running task (its namespaces "
       "and cgroups)",
       {{"ID"}},
       true,
       [](po::options_description& d) {
         d.add_options()("interactive,i", "forward stdin to the command")(
             "tty,t", "run it on a terminal (needs one on stdin; implies -i)");
       },
       Exec});
}

}  // namespace berth::cli
