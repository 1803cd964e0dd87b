// berth node drain|undrain: take a host out for maintenance and back.
// (berth node list lives with the other scheduler reads in job.cc.)
//
// The drain itself is the scheduler's (stored in lockd, carried out by the
// leader's reconciler); this command sets it and, unless --detach, follows
// it through `ListNodes` until the node is empty. Interrupting the wait
// leaves the drain running.
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/command.h"
#include "cli/sched_client.h"
#include "google/protobuf/util/json_util.h"
#include "proto/scheduler.grpc.pb.h"

namespace berth::cli {
namespace {

// Poll period while following a drain, and how long the schedulers may be
// unreachable (a leader failover) before the wait gives up.
constexpr absl::Duration kPoll = absl::Milliseconds(500);
constexpr absl::Duration kUnreachable = absl::Seconds(60);

SchedClient Client(const Context& ctx) {
  return SchedClient(ctx.global.scheduler_endpoints, ctx.global.timeout,
                     ctx.global.credentials.channel());
}

int PrintProto(Context& ctx, const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(m, &out, o);
  if (!st.ok()) return ctx.Fail(absl::InternalError(st.ToString()));
  *ctx.out << out << "\n";
  return kExitOk;
}

std::string Deadline(const jobpb::NodeDrain& d) {
  if (d.deadline_unix_ms() == 0) return "no deadline";
  return absl::StrCat(
      "deadline ", absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                                    absl::FromUnixMillis(d.deadline_unix_ms()),
                                    absl::UTCTimeZone()));
}

// Follows the drain of `node` until nothing is left for it to move.
int Follow(Context& ctx, const std::string& node) {
  int last_left = -1;
  bool seen_draining = false;
  const absl::Time visible_by = absl::Now() + kUnreachable;
  absl::Time failing_since = absl::InfiniteFuture();
  while (true) {
    schedpb::ListNodesRequest req;
    schedpb::ListNodesResponse resp;
    absl::Status st = Client(ctx).Run(
        [&](auto* stub, auto* c) { return stub->ListNodes(c, req, &resp); });
    if (!st.ok()) {
      // A scheduler failover is no reason to stop following.
      if (failing_since == absl::InfiniteFuture()) {
        failing_since = absl::Now();
        *ctx.err << "berth node drain: " << st.message() << " (retrying)\n";
      } else if (absl::Now() - failing_since > kUnreachable) {
        return ctx.Fail(st);
      }
      absl::SleepFor(kPoll);
      continue;
    }
    failing_since = absl::InfiniteFuture();
    const schedpb::NodeView* view = nullptr;
    for (const schedpb::NodeView& v : resp.nodes()) {
      if (v.info().name() == node) view = &v;
    }
    if (view == nullptr) {
      return ctx.Fail(absl::NotFoundError(
          absl::StrCat("node ", node,
                       " left the cluster while draining; its allocations are "
                       "rescheduled as lost")));
    }
    if (!view->draining()) {
      // A follower's mirror may not show the drain yet.
      if (!seen_draining && absl::Now() < visible_by) {
        absl::SleepFor(kPoll);
        continue;
      }
      return ctx.Fail(absl::AbortedError(
          absl::StrCat("node ", node, " was undrained while waiting")));
    }
    seen_draining = true;
    if (view->drain_remaining() == 0) {
      if (ctx.json()) return PrintProto(ctx, *view);
      if (view->allocations() == 0) {
        *ctx.out << "node " << node << " is empty\n";
      } else {
        *ctx.out << "node " << node << " is drained; " << view->allocations()
                 << " batch or cron allocations finish there "
                    "(--ignore-batch)\n";
      }
      return kExitOk;
    }
    if (view->drain_remaining() != last_left && !ctx.json()) {
      last_left = view->drain_remaining();
      *ctx.out << "node " << node << ": " << last_left
               << (last_left == 1 ? " allocation" : " allocations")
               << " left\n";
      ctx.out->flush();
    }
    absl::SleepFor(kPoll);
  }
}

int Drain(Context& ctx) {
  schedpb::DrainNodeRequest req;
  req.set_node(ctx.Arg("NODE"));
  req.set_enable(true);
  req.set_ignore_batch(ctx.Has("ignore-batch"));
  std::string deadline = ctx.Has("deadline") ? ctx.Arg("deadline") : "1h";
  absl::Duration d;
  if (!absl::ParseDuration(deadline, &d)) {
    return ctx.UsageError(absl::InvalidArgumentError(absl::StrCat(
        "--deadline: \"", deadline,
        "\" is not a duration such as 30s, 10m or 1h (0 = no deadline)")));
  }
  if (d < absl::ZeroDuration()) {
    return ctx.UsageError(absl::InvalidArgumentError(absl::StrCat(
        "--deadline: \"", deadline, "\" is negative (0 = no deadline)")));
  }
  req.set_deadline_ms(absl::ToInt64Milliseconds(d));
  schedpb::DrainNodeResponse resp;
  absl::Status st = Client(ctx).Run(
      [&](auto* stub, auto* c) { return stub->DrainNode(c, req, &resp); });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.Has("detach")) {
    if (ctx.json()) return PrintProto(ctx, resp);
    *ctx.out << resp.message() << " (" << Deadline(resp.drain())
             << (resp.drain().ignore_batch() ? ", batch left to finish" : "")
             << ")\n";
    return kExitOk;
  }
  if (!ctx.json()) {
    *ctx.out << resp.message() << " (" << Deadline(resp.drain())
             << (resp.drain().ignore_batch() ? ", batch left to finish" : "")
             << "); waiting for it to empty (Ctrl-C stops waiting, not the "
                "drain)\n";
    ctx.out->flush();
  }
  return Follow(ctx, req.node());
}

int Undrain(Context& ctx) {
  schedpb::DrainNodeRequest req;
  req.set_node(ctx.Arg("NODE"));
  req.set_enable(false);
  schedpb::DrainNodeResponse resp;
  absl::Status st = Client(ctx).Run(
      [&](auto* stub, auto* c) { return stub->DrainNode(c, req, &resp); });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) return PrintProto(ctx, resp);
  *ctx.out << resp.message() << "\n";
  return kExitOk;
}

}  // namespace

void AddNodeCommands(std::vector<Command>* table) {
  table->push_back(
      {"node drain",
       "move a node's allocations elsewhere and place nothing new on it",
       {{"NODE"}},
       false,
       [](po::options_description& d) {
         d.add_options()(
             "deadline", po::value<std::string>(),
             "stop what is still on the node after this long (default 1h; "
             "0 = no deadline)")("ignore-batch",
                                 "leave batch tasks and cron runs to finish")(
             "detach",
             "return at once instead of waiting for the node to "
             "empty");
       },
       Drain});
  table->push_back({"node undrain",
                    "let the scheduler place allocations on a node again",
                    {{"NODE"}},
                    false,
                    nullptr,
                    Undrain});
}

}  // namespace berth::cli
