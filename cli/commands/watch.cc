// berth watch PREFIX [--rev N] [--count N]
#include "lockservice/client/watch.h"

#include <csignal>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "cli/signals.h"
#include "lockservice/client/client.h"

namespace berth::cli {

namespace {

absl::Status PrintEvent(Context& ctx, const lock::WatchEvent& e) {
  const char* type = e.type == lock::WatchEvent::Type::kPut ? "PUT" : "DELETE";
  if (ctx.json()) {
    return PrintJson(
        *ctx.out,
        JObj({{"type", JStr(type)},
              {"kv", KeyValueJson(e.kv)},
              {"prev_kv", e.prev_kv ? KeyValueJson(*e.prev_kv) : JNull()}}));
  }
  *ctx.out << type << " " << e.kv.key;
  if (e.type == lock::WatchEvent::Type::kPut) *ctx.out << " = " << e.kv.value;
  *ctx.out << " (revision " << e.kv.mod_revision << ")\n";
  return absl::OkStatus();
}

int Run(Context& ctx) {
  lock::WatchOptions opts;
  opts.prefix = true;
  opts.prev_kv = ctx.Has("prev-kv");
  if (ctx.Has("rev")) {
    absl::StatusOr<int64_t> rev = ParseCount("--rev", ctx.Arg("rev"));
    if (!rev.ok()) return ctx.UsageError(rev.status());
    opts.start_revision = *rev;
  }
  int64_t count = 0;  // 0 = until interrupted
  if (ctx.Has("count")) {
    absl::StatusOr<int64_t> n = ParseCount("--count", ctx.Arg("count"));
    if (!n.ok()) return ctx.UsageError(n.status());
    count = *n;
  }
  SignalWaiter signals;  // before any thread starts
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  // A watch retries forever; check once that lockd answers at all so that
  // a wrong endpoint fails fast instead of waiting silently.
  if (auto status = (*client)->Status(); !status.ok()) {
    return ctx.Fail(status.status());
  }
  auto watch = lock::Watch::Start(client->get(), ctx.Arg("PREFIX"), opts);
  if (!watch.ok()) return ctx.Fail(watch.status());
  int64_t seen = 0;
  while (count == 0 || seen < count) {
    auto next = (*watch)->Next(absl::Milliseconds(200));
    if (!next.ok()) return ctx.Fail(next.status());
    if (next->has_value()) {
      for (const lock::WatchEvent& e : (*next)->events) {
        absl::Status st = PrintEvent(ctx, e);
        if (!st.ok()) return ctx.Fail(st);
        if (count != 0 && ++seen >= count) break;
      }
      ctx.out->flush();
    }
    int sig = signals.Wait(absl::ZeroDuration());
    if (sig == SIGINT || sig == SIGTERM) break;
  }
  return kExitOk;
}

}  // namespace

void AddWatchCommands(std::vector<Command>* table) {
  table->push_back(
      {"watch",
       "print changes under a prefix until interrupted",
       {{"PREFIX"}},
       false,
       [](po::options_description& d) {
         d.add_options()("rev", po::value<std::string>(),
                         "start at revision N (default: from now)")(
             "count", po::value<std::string>(), "exit after N events")(
             "prev-kv", "include each key's previous value");
       },
       Run});
}

}  // namespace berth::cli
