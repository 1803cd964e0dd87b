// berth acl grant|revoke|list|enable|disable|status: namespace ACLs in the
// scheduler (docs/security.md, "Namespace ACLs"). The scheduler checks
// everything (principals, rights, namespaces, who may ask); the CLI only
// splits RIGHTS and prints.
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cli/command.h"
#include "cli/output.h"
#include "cli/sched_client.h"
#include "proto/scheduler.grpc.pb.h"

namespace berth::cli {
namespace {

SchedClient AclClient(const Context& ctx) {
  return SchedClient(ctx.global.scheduler_endpoints, ctx.global.timeout,
                     ctx.global.credentials.channel());
}

int AclPrint(Context& ctx, const google::protobuf::Message& m) {
  absl::Status st = PrintProtoJson(*ctx.out, m);
  return st.ok() ? kExitOk : ctx.Fail(st);
}

// "read,submit" -> {"read", "submit"}; an empty item stays, so that the
// scheduler names it instead of ignoring it.
template <typename Req>
void SetAclRights(const std::string& csv, Req* req) {
  if (csv.empty()) return;
  for (absl::string_view r : absl::StrSplit(csv, ',')) {
    req->add_rights(std::string(r));
  }
}

int AclGrantCmd(Context& ctx) {
  schedpb::AclGrantRequest req;
  req.set_principal(ctx.Arg("PRINCIPAL"));
  req.set_namespace_(ctx.Arg("NAMESPACE"));
  SetAclRights(ctx.Arg("RIGHTS"), &req);
  if (req.rights().empty()) req.add_rights("");
  schedpb::AclChangeResponse resp;
  absl::Status st = AclClient(ctx).Run(
      [&](auto* stub, auto* c) { return stub->AclGrant(c, req, &resp); });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) return AclPrint(ctx, resp);
  *ctx.out << resp.message() << "\n";
  return kExitOk;
}

int AclRevokeCmd(Context& ctx) {
  schedpb::AclRevokeRequest req;
  req.set_principal(ctx.Arg("PRINCIPAL"));
  req.set_namespace_(ctx.Arg("NAMESPACE"));
  SetAclRights(ctx.Arg("RIGHTS"), &req);
  schedpb::AclChangeResponse resp;
  absl::Status st = AclClient(ctx).Run(
      [&](auto* stub, auto* c) { return stub->AclRevoke(c, req, &resp); });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) return AclPrint(ctx, resp);
  *ctx.out << resp.message() << "\n";
  return kExitOk;
}

int AclListCmd(Context& ctx) {
  schedpb::AclListRequest req;
  req.set_namespace_(ctx.Arg("namespace"));
  schedpb::AclListResponse resp;
  absl::Status st = AclClient(ctx).Run(
      [&](auto* stub, auto* c) { return stub->AclList(c, req, &resp); });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) return AclPrint(ctx, resp);
  *ctx.out << "ACLs are " << (resp.enabled() ? "enabled" : "disabled") << "\n";
  std::vector<std::vector<std::string>> rows = {
      {"NAMESPACE", "PRINCIPAL", "RIGHTS"}};
  for (const auto& e : resp.entries()) {
    rows.push_back({e.namespace_(), e.principal(),
                    e.rights().empty() ? std::string("-")
                                       : absl::StrJoin(e.rights(), ",")});
  }
  PrintTable(*ctx.out, rows);
  return kExitOk;
}

void AclPrintStatus(Context& ctx, const schedpb::AclStatusResponse& s) {
  *ctx.out << "ACLs are " << (s.enabled() ? "enabled" : "disabled");
  if (!s.changed_by().empty()) {
    *ctx.out << " (since "
             << absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                                 absl::FromUnixMillis(s.changed_unix_ms()),
                                 absl::UTCTimeZone())
             << ", by " << s.changed_by() << ")";
  }
  *ctx.out << "\nyou are " << s.caller()
           << (s.caller_is_admin() ? " (an ACL admin)" : "") << "\n";
}

int AclSwitchCmd(Context& ctx, bool enable) {
  schedpb::AclSwitchRequest req;
  req.set_enable(enable);
  schedpb::AclStatusResponse resp;
  absl::Status st = AclClient(ctx).Run(
      [&](auto* stub, auto* c) { return stub->AclSwitch(c, req, &resp); });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) return AclPrint(ctx, resp);
  if (!resp.changed()) {
    *ctx.out << "ACLs were already " << (enable ? "enabled" : "disabled")
             << "\n";
  }
  AclPrintStatus(ctx, resp);
  return kExitOk;
}

int AclStatusCmd(Context& ctx) {
  schedpb::AclStatusRequest req;
  schedpb::AclStatusResponse resp;
  absl::Status st = AclClient(ctx).Run(
      [&](auto* stub, auto* c) { return stub->AclStatus(c, req, &resp); });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) return AclPrint(ctx, resp);
  AclPrintStatus(ctx, resp);
  return kExitOk;
}

}  // namespace

void AddAclCommands(std::vector<Command>* table) {
  table->push_back({"acl grant",
                    "give a user (or * for all) rights in a namespace",
                    {{"PRINCIPAL"}, {"NAMESPACE"}, {"RIGHTS"}},
                    false,
                    nullptr,
                    AclGrantCmd});
  table->push_back({"acl revoke",
                    "take rights (all without RIGHTS) in a namespace away",
                    {{"PRINCIPAL"}, {"NAMESPACE"}, {"RIGHTS", false}},
                    false,
                    nullptr,
                    AclRevokeCmd});
  table->push_back({"acl list",
                    "list namespace ACL grants",
                    {},
                    false,
                    [](po::options_description& d) {
                      d.add_options()("namespace,n", po::value<std::string>(),
                                      "only this namespace");
                    },
                    AclListCmd});
  table->push_back({"acl enable",
                    "enforce namespace ACLs (needs the root user)",
                    {},
                    false,
                    nullptr,
                    [](Context& ctx) { return AclSwitchCmd(ctx, true); }});
  table->push_back({"acl disable",
                    "stop enforcing namespace ACLs (needs the root user)",
                    {},
                    false,
                    nullptr,
                    [](Context& ctx) { return AclSwitchCmd(ctx, false); }});
  table->push_back({"acl status",
                    "whether ACLs are enforced, and who you are to them",
                    {},
                    false,
                    nullptr,
                    AclStatusCmd});
}

}  // namespace berth::cli
