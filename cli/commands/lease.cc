// berth lease grant TTL | revoke ID | ttl ID
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "lockservice/client/client.h"

namespace berth::cli {

namespace {

int Grant(Context& ctx) {
  absl::StatusOr<absl::Duration> ttl = ParseTtlFlag("TTL", ctx.Arg("TTL"));
  if (!ttl.ok()) return ctx.UsageError(ttl.status());
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  auto g = (*client)->GrantLease(*ttl);
  if (!g.ok()) return ctx.Fail(g.status());
  if (ctx.json()) {
    absl::Status st = PrintJson(
        *ctx.out, JObj({{"id", JId(g->id)}, {"ttl", JNum(g->ttl_seconds)}}));
    return st.ok() ? kExitOk : ctx.Fail(st);
  }
  *ctx.out << "lease " << g->id << " granted with TTL " << g->ttl_seconds
           << "s\n";
  return kExitOk;
}

int Revoke(Context& ctx) {
  absl::StatusOr<int64_t> id = ParseLeaseId("ID", ctx.Arg("ID"));
  if (!id.ok()) return ctx.UsageError(id.status());
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  absl::Status st = (*client)->RevokeLease(*id);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) {
    st =
        PrintJson(*ctx.out, JObj({{"id", JId(*id)}, {"revoked", JBool(true)}}));
    return st.ok() ? kExitOk : ctx.Fail(st);
  }
  *ctx.out << "lease " << *id << " revoked\n";
  return kExitOk;
}

int Ttl(Context& ctx) {
  absl::StatusOr<int64_t> id = ParseLeaseId("ID", ctx.Arg("ID"));
  if (!id.ok()) return ctx.UsageError(id.status());
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  auto info = (*client)->LeaseTimeToLive(*id, ctx.Has("keys"));
  if (!info.ok()) return ctx.Fail(info.status());
  if (ctx.json()) {
    std::vector<Json> keys;
    for (const std::string& k : info->keys) keys.push_back(JStr(k));
    absl::Status st = PrintJson(
        *ctx.out, JObj({{"id", JId(*id)},
                        {"ttl", JNum(info->ttl_seconds)},
                        {"granted_ttl", JNum(info->granted_ttl_seconds)},
                        {"keys", JList(keys)}}));
    return st.ok() ? kExitOk : ctx.Fail(st);
  }
  if (info->ttl_seconds < 0) {
    *ctx.out << "lease " << *id << " does not exist (expired or revoked)\n";
    return kExitFailure;
  }
  *ctx.out << "lease " << *id << ": " << info->ttl_seconds << "s left of "
           << info->granted_ttl_seconds << "s\n";
  if (!info->keys.empty()) {
    *ctx.out << "keys: " << absl::StrJoin(info->keys, ", ") << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddLeaseCommands(std::vector<Command>* table) {
  table->push_back({"lease grant",
                    "create a lease (e.g. TTL 30s)",
                    {{"TTL"}},
                    false,
                    nullptr,
                    Grant});
  table->push_back({"lease revoke",
                    "revoke a lease and delete its keys",
                    {{"ID"}},
                    false,
                    nullptr,
                    Revoke});
  table->push_back({"lease ttl",
                    "show a lease's remaining time",
                    {{"ID"}},
                    false,
                    [](po::options_description& d) {
                      d.add_options()("keys", "list the keys bound to it");
                    },
                    Ttl});
}

}  // namespace berth::cli
