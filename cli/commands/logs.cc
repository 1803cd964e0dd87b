// berth job logs / berth alloc logs: a task's captured stdout or stderr,
// read through the scheduler (which proxies the agent's log stream, see
// scheduler/server/logs_proxy.h), so the CLI needs no agent address.
#include <ostream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/command.h"
#include "cli/sched_client.h"
#include "google/protobuf/util/json_util.h"
#include "proto/scheduler.grpc.pb.h"

namespace berth::cli {
namespace {

// "10m" (that long ago) or an RFC 3339 time.
absl::StatusOr<absl::Time> ParseSince(const std::string& text) {
  absl::Duration d;
  if (absl::ParseDuration(text, &d) && d >= absl::ZeroDuration()) {
    return absl::Now() - d;
  }
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  return absl::InvalidArgumentError(absl::StrCat(
      "--since \"", text,
      "\": want a duration (\"10m\", \"1h30m\") or an RFC 3339 time "
      "(\"2026-12-05T07:00:00Z\")"));
}

absl::Status PrintChunkJson(std::ostream& out,
                            const schedpb::AllocLogsChunk& c) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  std::string line;
  auto st = google::protobuf::util::MessageToJsonString(c, &line, o);
  if (!st.ok()) return absl::InternalError(st.ToString());
  out << line << "\n";
  return absl::OkStatus();
}

int Logs(Context& ctx, const std::string& job, const std::string& alloc) {
  schedpb::AllocLogsRequest req;
  std::string ns = ctx.Arg("namespace");
  req.set_namespace_(ns.empty() ? "default" : ns);
  req.set_job(job);
  req.set_alloc_id(alloc);
  req.set_follow(ctx.Has("follow"));
  req.set_stream(ctx.Has("stderr") ? agentpb::STDERR : agentpb::STDOUT);
  if (ctx.Has("tail")) {
    int n = 0;
    if (!absl::SimpleAtoi(ctx.Arg("tail"), &n) || n < 0) {
      return ctx.UsageError(absl::InvalidArgumentError(
          absl::StrCat("--tail \"", ctx.Arg("tail"),
                       "\": want a number of lines (0 or more)")));
    }
    req.set_tail_lines(n);
  }
  if (ctx.Has("since")) {
    absl::StatusOr<absl::Time> since = ParseSince(ctx.Arg("since"));
    if (!since.ok()) return ctx.UsageError(since.status());
    req.set_since_unix_ms(std::max<int64_t>(1, absl::ToUnixMillis(*since)));
  }
  const std::string who = absl::StrCat("berth ", ctx.command_path, ": ");
  bool announced = false;
  absl::Status print_error;
  SchedClient client(ctx.global.scheduler_endpoints, ctx.global.timeout,
                     ctx.global.credentials.channel());
  absl::Status st = client.Stream(
      [&](schedpb::Scheduler::Stub* stub, grpc::ClientContext* c) {
        std::unique_ptr<grpc::ClientReader<schedpb::AllocLogsChunk>> reader =
            stub->AllocLogs(c, req);
        schedpb::AllocLogsChunk chunk;
        while (reader->Read(&chunk)) {
          if (!chunk.alloc_id().empty() && !announced) {
            announced = true;
            if (req.alloc_id().empty()) {
              *ctx.err << who << "showing allocation " << chunk.alloc_id()
                       << " on node " << chunk.node() << ", the most recent of "
                       << chunk.job_allocations() << " (choose another with "
                       << "--alloc)\n";
            }
            // A retry on another scheduler must show the same allocation.
            req.set_alloc_id(chunk.alloc_id());
          }
          if (!chunk.notice().empty())
            *ctx.err << who << chunk.notice() << "\n";
          if (chunk.skipped() > 0) {
            *ctx.err << who << chunk.skipped()
                     << " bytes were rotated away before they were read\n";
          }
          if (ctx.json()) {
            if (absl::Status s = PrintChunkJson(*ctx.out, chunk); !s.ok()) {
              print_error = s;
            }
          } else {
            ctx.out->write(chunk.data().data(),
                           static_cast<std::streamsize>(chunk.data().size()));
          }
          ctx.out->flush();
          if (!chunk.data().empty() || chunk.skipped() > 0) {
            // Resume point for a retry on another scheduler.
            req.set_offset(chunk.next_offset());
            req.set_tail_lines(0);
            req.set_since_unix_ms(0);
          }
        }
        return reader->Finish();
      });
  if (!print_error.ok()) return ctx.Fail(print_error);
  if (!st.ok()) return ctx.Fail(st);
  return kExitOk;
}

void LogFlags(po::options_description& d) {
  d.add_options()("follow,f",
                  "keep printing new output until the task exits (survives "
                  "agent restarts and log rotation)")(
      "stderr", "show stderr instead of stdout")(
      "tail", po::value<std::string>(), "start with the last N lines")(
      "since", po::value<std::string>(),
      "start with output written since a duration ago (\"10m\") or an RFC "
      "3339 time");
}

}  // namespace

void AddLogsCommands(std::vector<Command>* table) {
  table->push_back({"job logs",
                    "print a job's task output (its most recent allocation "
                    "unless --alloc)",
                    {{"JOB"}},
                    false,
                    [](po::options_description& d) {
                      d.add_options()("namespace,n", po::value<std::string>(),
                                      "the job's namespace (default "
                                      "\"default\")")(
                          "alloc", po::value<std::string>(),
                          "this allocation of the job");
                      LogFlags(d);
                    },
                    [](Context& ctx) {
                      return Logs(ctx, ctx.Arg("JOB"), ctx.Arg("alloc"));
                    }});
  table->push_back({"alloc logs",
                    "print an allocation's task output",
                    {{"ID"}},
                    false,
                    LogFlags,
                    [](Context& ctx) { return Logs(ctx, "", ctx.Arg("ID")); }});
}

}  // namespace berth::cli
