// berth kv get|put|del|list
#include "lockservice/client/kv.h"

#include <ostream>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "lockservice/client/client.h"

namespace berth::cli {

namespace {

int PrintRange(Context& ctx, const lock::RangeResult& r) {
  if (ctx.json()) {
    std::vector<Json> kvs;
    for (const lock::KeyValue& kv : r.kvs) kvs.push_back(KeyValueJson(kv));
    absl::Status st = PrintJson(*ctx.out, JObj({{"revision", JNum(r.revision)},
                                                {"count", JNum(r.count)},
                                                {"more", JBool(r.more)},
                                                {"kvs", JList(kvs)}}));
    return st.ok() ? kExitOk : ctx.Fail(st);
  }
  std::vector<std::vector<std::string>> rows = {
      {"KEY", "VALUE", "VERSION", "MOD_REV", "LEASE"}};
  for (const lock::KeyValue& kv : r.kvs) {
    rows.push_back({kv.key, kv.value, absl::StrCat(kv.version),
                    absl::StrCat(kv.mod_revision),
                    kv.lease == 0 ? "-" : absl::StrCat(kv.lease)});
  }
  PrintTable(*ctx.out, rows);
  if (r.more)
    *ctx.out << "(" << r.count - static_cast<int64_t>(r.kvs.size())
             << " more keys not shown)\n";
  return kExitOk;
}

absl::StatusOr<int64_t> LimitFlag(Context& ctx) {
  if (!ctx.Has("limit")) return 0;
  return ParseCount("--limit", ctx.Arg("limit"));
}

int Get(Context& ctx) {
  lock::RangeOptions opts;
  opts.prefix = ctx.Has("prefix");
  opts.serializable = ctx.Has("serializable");
  absl::StatusOr<int64_t> limit = LimitFlag(ctx);
  if (!limit.ok()) return ctx.UsageError(limit.status());
  opts.limit = *limit;
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  std::string key = ctx.Arg("KEY");
  auto r = (*client)->kv().Range(key, opts);
  if (!r.ok()) return ctx.Fail(r.status());
  int code = PrintRange(ctx, *r);
  if (code == kExitOk && !opts.prefix && r->kvs.empty()) {
    *ctx.err << "berth kv get: key \"" << key << "\" not found\n";
    return kExitFailure;
  }
  return code;
}

int List(Context& ctx) {
  lock::RangeOptions opts;
  opts.prefix = true;
  opts.serializable = ctx.Has("serializable");
  opts.keys_only = ctx.Has("keys-only");
  absl::StatusOr<int64_t> limit = LimitFlag(ctx);
  if (!limit.ok()) return ctx.UsageError(limit.status());
  opts.limit = *limit;
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  auto r = (*client)->kv().Range(ctx.Arg("PREFIX"), opts);
  if (!r.ok()) return ctx.Fail(r.status());
  return PrintRange(ctx, *r);
}

int Put(Context& ctx) {
  lock::PutOptions opts;
  if (ctx.Has("lease")) {
    absl::StatusOr<int64_t> lease = ParseLeaseId("--lease", ctx.Arg("lease"));
    if (!lease.ok()) return ctx.UsageError(lease.status());
    opts.lease = *lease;
  }
  opts.prev_kv = ctx.Has("prev-kv");
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  auto r = (*client)->kv().Put(ctx.Arg("KEY"), ctx.Arg("VALUE"), opts);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    absl::Status st = PrintJson(
        *ctx.out,
        JObj({{"revision", JNum(r->revision)},
              {"prev_kv", r->prev_kv ? KeyValueJson(*r->prev_kv) : JNull()}}));
    return st.ok() ? kExitOk : ctx.Fail(st);
  }
  *ctx.out << "OK (revision " << r->revision << ")\n";
  if (r->prev_kv) *ctx.out << "previous value: " << r->prev_kv->value << "\n";
  return kExitOk;
}

int Del(Context& ctx) {
  lock::DeleteOptions opts;
  opts.prefix = ctx.Has("prefix");
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  auto r = (*client)->kv().Delete(ctx.Arg("KEY"), opts);
  if (!r.ok()) return ctx.Fail(r.status());
  if (ctx.json()) {
    absl::Status st = PrintJson(
        *ctx.out,
        JObj({{"revision", JNum(r->revision)}, {"deleted", JNum(r->deleted)}}));
    return st.ok() ? kExitOk : ctx.Fail(st);
  }
  *ctx.out << "deleted " << r->deleted << " key" << (r->deleted == 1 ? "" : "s")
           << " (revision " << r->revision << ")\n";
  return kExitOk;
}

}  // namespace

void AddKvCommands(std::vector<Command>* table) {
  table->push_back({"kv get",
                    "print a key, or every key with a prefix",
                    {{"KEY"}},
                    false,
                    [](po::options_description& d) {
                      d.add_options()("prefix", "KEY is a prefix")(
                          "serializable",
                          "read from any replica (may be stale)")(
                          "limit", po::value<std::string>(), "at most N keys");
                    },
                    Get});
  table->push_back({"kv put",
                    "set a key",
                    {{"KEY"}, {"VALUE"}},
                    false,
                    [](po::options_description& d) {
                      d.add_options()(
                          "lease", po::value<std::string>(),
                          "bind the key to lease ID (dies with it)")(
                          "prev-kv", "print the previous value");
                    },
                    Put});
  table->push_back({"kv del",
                    "delete a key, or every key with a prefix",
                    {{"KEY"}},
                    false,
                    [](po::options_description& d) {
                      d.add_options()("prefix", "KEY is a prefix");
                    },
                    Del});
  table->push_back({"kv list",
                    "list keys with a prefix (all keys by default)",
                    {{"PREFIX", false}},
                    false,
                    [](po::options_description& d) {
                      d.add_options()("serializable", "read from any replica")(
                          "keys-only", "omit values")(
                          "limit", po::value<std::string>(), "at most N keys");
                    },
                    List});
}

}  // namespace berth::cli
