// berth audit: the scheduler's record of writes to its API (who, what,
// when, and the answer), oldest first. See scheduler/server/audit_log.h.
// With --lockd: lockd's record of permission changes (lockd_audit.h).
#include <ostream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/command.h"
#include "cli/commands/lockd_audit.h"
#include "cli/output.h"
#include "cli/sched_client.h"
#include "grpcpp/grpcpp.h"
#include "proto/scheduler.grpc.pb.h"

namespace berth::cli {
namespace {

std::string Who(const schedpb::AuditRecord& r) {
  if (r.authenticated()) return r.principal();
  std::string who = r.principal();
  if (!r.claimed_user().empty()) {
    absl::StrAppend(&who, " (claims ", r.claimed_user(), ")");
  }
  return who;
}

std::string What(const schedpb::AuditRecord& r) {
  std::string target = r.target();
  if (!r.namespace_().empty() && r.namespace_() != r.target()) {
    target = absl::StrCat(r.namespace_(), "/", r.target());
  }
  if (!r.detail().empty()) absl::StrAppend(&target, " (", r.detail(), ")");
  return target;
}

std::string Result(const schedpb::AuditRecord& r) {
  if (r.code() == 0) return "OK";
  return absl::StrCat(
      absl::StatusCodeToString(static_cast<absl::StatusCode>(r.code())), ": ",
      r.message());
}

Json RecordJson(const schedpb::AuditRecord& r) {
  return JObj({{"time_unix_ms", JNum(r.time_unix_ms())},
               {"principal", JStr(r.principal())},
               {"authenticated", JBool(r.authenticated())},
               {"peer", JStr(r.peer())},
               {"claimed_user", JStr(r.claimed_user())},
               {"method", JStr(r.method())},
               {"namespace", JStr(r.namespace_())},
               {"target", JStr(r.target())},
               {"detail", JStr(r.detail())},
               {"code", JNum(r.code())},
               {"message", JStr(r.message())},
               {"scheduler", JStr(r.scheduler())}});
}

int Audit(Context& ctx) {
  if (ctx.Has("lockd")) {
    if (ctx.Has("since")) {
      return ctx.UsageError(absl::InvalidArgumentError(
          "--since applies to the scheduler's records, not to --lockd"));
    }
    int limit = ctx.args["limit"].as<int>();
    if (limit <= 0) {
      return ctx.UsageError(
          absl::InvalidArgumentError("--limit must be positive"));
    }
    return PrintLockdAudit(ctx, limit);
  }
  schedpb::AuditRequest req;
  if (ctx.Has("since")) {
    absl::Duration d;
    if (!absl::ParseDuration(ctx.Arg("since"), &d) ||
        d < absl::ZeroDuration()) {
      return ctx.UsageError(absl::InvalidArgumentError(
          absl::StrCat("--since: \"", ctx.Arg("since"),
                       "\" is not a duration such as 30m or 24h")));
    }
    req.set_since_unix_ms(absl::ToUnixMillis(absl::Now() - d));
  }
  int limit = ctx.args["limit"].as<int>();
  if (limit <= 0) {
    return ctx.UsageError(
        absl::InvalidArgumentError("--limit must be positive"));
  }
  req.set_limit(limit);
  schedpb::AuditResponse resp;
  absl::Status st =
      SchedClient(ctx.global.scheduler_endpoints, ctx.global.timeout,
                  ctx.global.credentials.channel())
          .Run([&](auto* stub, auto* c) { return stub->Audit(c, req, &resp); });
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) {
    std::vector<Json> items;
    for (const auto& r : resp.records()) items.push_back(RecordJson(r));
    absl::Status p = PrintJson(*ctx.out, JList(std::move(items)));
    return p.ok() ? kExitOk : ctx.Fail(p);
  }
  std::vector<std::vector<std::string>> rows = {
      {"TIME", "WHO", "FROM", "METHOD", "TARGET", "RESULT"}};
  for (const auto& r : resp.records()) {
    rows.push_back({absl::FormatTime("%Y-%m-%d %H:%M:%E3S",
                                     absl::FromUnixMillis(r.time_unix_ms()),
                                     absl::UTCTimeZone()),
                    Who(r), r.peer(), r.method(), What(r), Result(r)});
  }
  PrintTable(*ctx.out, rows);
  return kExitOk;
}

}  // namespace

void AddAuditCommands(std::vector<Command>* table) {
  table->push_back(
      {"audit",
       "show who wrote to the scheduler API (or, with --lockd, changed "
       "lockd's users and roles), what, when, and the answer",
       {},
       false,
       [](po::options_description& d) {
         d.add_options()("since", po::value<std::string>(),
                         "only records this recent, e.g. 1h (default: all "
                         "kept, see berth-scheduler --audit-retention)")(
             "limit", po::value<int>()->default_value(100),
             "at most this many, the newest")(
             "lockd", "lockd's permission changes (berth auth audit) instead");
       },
       Audit});
}

}  // namespace berth::cli
