// berth job suspend|resume: pause a job without deleting it. Services and
// batch jobs stop their allocations and keep their version and history;
// cron jobs record their ticks as skipped (reason "suspended").
#include <ostream>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "cli/sched_client.h"
#include "google/protobuf/util/json_util.h"
#include "proto/scheduler.grpc.pb.h"

namespace berth::cli {
namespace {

int SetSuspended(Context& ctx, bool suspend) {
  schedpb::SuspendJobRequest req;
  std::string ns = ctx.Arg("namespace");
  req.set_namespace_(ns.empty() ? "default" : ns);
  req.set_job(ctx.Arg("JOB"));
  schedpb::SuspendJobResponse resp;
  SchedClient client(ctx.global.scheduler_endpoints, ctx.global.timeout,
                     ctx.global.credentials.channel());
  absl::Status st = client.Run([&](auto* stub, auto* c) {
    return suspend ? stub->SuspendJob(c, req, &resp)
                   : stub->ResumeJob(c, req, &resp);
  });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) {
    google::protobuf::util::JsonPrintOptions o;
    o.preserve_proto_field_names = true;
    o.always_print_primitive_fields = true;
    std::string out;
    auto js = google::protobuf::util::MessageToJsonString(resp, &out, o);
    if (!js.ok()) return ctx.Fail(absl::InternalError(js.ToString()));
    *ctx.out << out << "\n";
    return kExitOk;
  }
  *ctx.out << req.namespace_() << "/" << req.job() << ": " << resp.message()
           << "\n";
  return kExitOk;
}

void NamespaceFlag(po::options_description& d) {
  d.add_options()("namespace,n", po::value<std::string>(),
                  "the job's namespace (default \"default\")");
}

}  // namespace

void AddJobSuspendCommands(std::vector<Command>* table) {
  table->push_back(
      {"job suspend",
       "pause a job: stop its allocations (cron: skip its ticks), keep it",
       {{"JOB"}},
       false,
       NamespaceFlag,
       [](Context& ctx) { return SetSuspended(ctx, true); }});
  table->push_back({"job resume",
                    "undo job suspend: place the job again (cron: run ticks)",
                    {{"JOB"}},
                    false,
                    NamespaceFlag,
                    [](Context& ctx) { return SetSuspended(ctx, false); }});
}

}  // namespace berth::cli
