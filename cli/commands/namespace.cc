// berth namespace create|delete|list: the scheduler's namespaces, the unit
// its ACLs grant rights in (berth acl).
#include <ostream>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "cli/output.h"
#include "cli/sched_client.h"
#include "proto/scheduler.grpc.pb.h"

namespace berth::cli {
namespace {

SchedClient NsClient(const Context& ctx) {
  return SchedClient(ctx.global.scheduler_endpoints, ctx.global.timeout,
                     ctx.global.credentials.channel());
}

int NsPrint(Context& ctx, const google::protobuf::Message& m) {
  absl::Status st = PrintProtoJson(*ctx.out, m);
  return st.ok() ? kExitOk : ctx.Fail(st);
}

int NamespaceCreate(Context& ctx) {
  schedpb::CreateNamespaceRequest req;
  req.set_name(ctx.Arg("NAME"));
  schedpb::CreateNamespaceResponse resp;
  absl::Status st = NsClient(ctx).Run([&](auto* stub, auto* c) {
    return stub->CreateNamespace(c, req, &resp);
  });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) return NsPrint(ctx, resp);
  *ctx.out << "namespace " << req.name() << " created\n";
  return kExitOk;
}

int NamespaceDelete(Context& ctx) {
  schedpb::DeleteNamespaceRequest req;
  req.set_name(ctx.Arg("NAME"));
  schedpb::DeleteNamespaceResponse resp;
  absl::Status st = NsClient(ctx).Run([&](auto* stub, auto* c) {
    return stub->DeleteNamespace(c, req, &resp);
  });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) return NsPrint(ctx, resp);
  *ctx.out << resp.message() << "\n";
  return kExitOk;
}

int NamespaceList(Context& ctx) {
  schedpb::ListNamespacesRequest req;
  schedpb::ListNamespacesResponse resp;
  absl::Status st = NsClient(ctx).Run(
      [&](auto* stub, auto* c) { return stub->ListNamespaces(c, req, &resp); });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) return NsPrint(ctx, resp);
  std::vector<std::vector<std::string>> rows = {{"NAMESPACE", "JOBS"}};
  for (const auto& n : resp.namespaces()) {
    rows.push_back({n.name(), absl::StrCat(n.jobs())});
  }
  PrintTable(*ctx.out, rows);
  return kExitOk;
}

}  // namespace

void AddNamespaceCommands(std::vector<Command>* table) {
  table->push_back({"namespace create",
                    "create a namespace for jobs",
                    {{"NAME"}},
                    false,
                    nullptr,
                    NamespaceCreate});
  table->push_back({"namespace delete",
                    "delete an empty namespace and its ACL grants",
                    {{"NAME"}},
                    false,
                    nullptr,
                    NamespaceDelete});
  table->push_back({"namespace list",
                    "list namespaces with their job counts",
                    {},
                    false,
                    nullptr,
                    NamespaceList});
}

}  // namespace berth::cli
