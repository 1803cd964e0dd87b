// berth top: nodes and tasks with their CPU and memory, redrawn every
// --interval from the scheduler's ListNodes (with the allocations and the
// agents' latest usage). On a terminal each refresh clears the screen; to
// a pipe or file every refresh is appended as plain text, so scripts can
// use `--once` or `-n N`.
#include <unistd.h>

#include <iostream>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/command.h"
#include "cli/commands/top_view.h"
#include "cli/flags.h"
#include "cli/sched_client.h"
#include "google/protobuf/util/json_util.h"
#include "proto/scheduler.grpc.pb.h"

namespace berth::cli {
namespace {

// ANSI: cursor home, then clear the screen.
constexpr char kRedraw[] = "\033[H\033[2J";

int Top(Context& ctx) {
  absl::StatusOr<absl::Duration> interval =
      ParseDurationFlag("--interval", ctx.Arg("interval"));
  if (!interval.ok()) return ctx.UsageError(interval.status());
  int64_t iterations = 0;  // 0 = until interrupted
  if (ctx.Has("iterations")) {
    absl::StatusOr<int64_t> n =
        ParseCount("--iterations", ctx.Arg("iterations"));
    if (!n.ok()) return ctx.UsageError(n.status());
    iterations = *n;
  }
  if (ctx.Has("once")) iterations = 1;
  TopSort sort = TopSort::kCpu;
  if (const std::string s = ctx.Arg("sort"); s == "mem") {
    sort = TopSort::kMem;
  } else if (s != "cpu") {
    return ctx.UsageError(absl::InvalidArgumentError(absl::StrCat(
        "invalid value \"", s, "\" for --sort: expected cpu or mem")));
  }
  const bool redraw = ctx.out == &std::cout && isatty(STDOUT_FILENO) &&
                      iterations != 1 && !ctx.json();
  SchedClient client(ctx.global.scheduler_endpoints, ctx.global.timeout,
                     ctx.global.credentials.channel());
  for (int64_t i = 0; iterations == 0 || i < iterations; ++i) {
    if (i > 0) absl::SleepFor(*interval);
    schedpb::ListNodesRequest req;
    req.set_include_allocations(true);
    schedpb::ListNodesResponse resp;
    absl::Status st = client.Run(
        [&](auto* stub, auto* c) { return stub->ListNodes(c, req, &resp); });
    // On a terminal a failover is shown and outlived; a script gets the
    // error and a failing exit code.
    if (!st.ok() && !redraw) return ctx.Fail(st);
    std::string text;
    if (!st.ok()) {
      text = absl::StrCat("berth top: ", st.message(), "\n");
    } else if (ctx.json()) {
      google::protobuf::util::JsonPrintOptions o;
      o.preserve_proto_field_names = true;
      auto js = google::protobuf::util::MessageToJsonString(resp, &text, o);
      if (!js.ok()) return ctx.Fail(absl::InternalError(js.ToString()));
      text += "\n";
    } else {
      text = RenderTop(resp, sort, absl::Now());
    }
    if (redraw) {
      *ctx.out << kRedraw << text << std::flush;
    } else {
      *ctx.out << (i > 0 && !ctx.json() ? "\n" : "") << text << std::flush;
    }
  }
  return kExitOk;
}

}  // namespace

void AddTopCommands(std::vector<Command>* table) {
  table->push_back(
      {"top",
       "nodes and tasks with their CPU and memory, refreshed live",
       {},
       false,
       [](po::options_description& d) {
         d.add_options()("interval",
                         po::value<std::string>()->default_value("1s"),
                         "time between refreshes")(
             "once", "print one refresh and exit (same as -n 1)")(
             "iterations,n", po::value<std::string>(),
             "exit after N refreshes (default: until interrupted)")(
             "sort", po::value<std::string>()->default_value("cpu"),
             "order tasks by cpu or mem, busiest first");
       },
       Top});
}

}  // namespace berth::cli
