// berth elect NAME VALUE [--once] [--ttl 10s]
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "cli/signals.h"
#include "lockservice/client/client.h"
#include "lockservice/client/election.h"
#include "lockservice/client/session.h"

namespace berth::cli {

namespace {

int Run(Context& ctx) {
  std::string name = ctx.Arg("NAME");
  std::string value = ctx.Arg("VALUE");
  absl::StatusOr<absl::Duration> ttl =
      ParseTtlFlag("--ttl", ctx.args["ttl"].as<std::string>());
  if (!ttl.ok()) return ctx.UsageError(ttl.status());

  SignalWaiter signals;  // before any thread starts
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  std::atomic<bool> lost{false};
  lock::SessionOptions so;
  so.ttl = *ttl;
  so.on_lost = [&lost](const absl::Status&) {
    lost.store(true);
    SignalWaiter::Notify(SIGUSR1);
  };
  auto session = lock::Session::Create(client->get(), so);
  if (!session.ok()) return ctx.Fail(session.status());
  lock::Election election(session->get(), name);

  absl::Status won;
  int sig = RunInterruptible(signals, [&] { won = election.Campaign(value); });
  if (sig != 0) {
    *ctx.err << "berth elect: interrupted while campaigning for " << name
             << "\n";
    (*session)->Close().IgnoreError();  // withdraws the candidacy
    _exit(128 + sig);
  }
  if (!won.ok()) return ctx.Fail(won);

  if (ctx.json()) {
    absl::Status st =
        PrintJson(*ctx.out, JObj({{"name", JStr(name)},
                                  {"value", JStr(value)},
                                  {"token", JNum(election.token())},
                                  {"lease", JId((*session)->lease_id())}}));
    if (!st.ok()) return ctx.Fail(st);
  } else {
    *ctx.out << "elected leader of " << name << " with value " << value
             << " (token " << election.token() << ")\n";
  }
  ctx.out->flush();

  if (!ctx.Has("once")) {
    while (!lost.load()) {
      int s = signals.Wait(absl::Seconds(1));
      if (s == SIGINT || s == SIGTERM) break;
    }
  }
  if (lost.load()) {
    *ctx.err << "berth elect: lost leadership of " << name << ": "
             << (*session)->lost_reason().message() << "\n";
    return kExitFailure;
  }
  absl::Status st = election.Resign();
  if (!st.ok()) *ctx.err << "berth elect: warning: " << st.message() << "\n";
  st = (*session)->Close();
  if (!st.ok()) *ctx.err << "berth elect: warning: " << st.message() << "\n";
  return kExitOk;
}

}  // namespace

void AddElectCommands(std::vector<Command>* table) {
  table->push_back({"elect",
                    "campaign in an election and hold leadership until Ctrl-C",
                    {{"NAME"}, {"VALUE"}},
                    false,
                    [](po::options_description& d) {
                      d.add_options()("once", "exit (and resign) once elected")(
                          "ttl", po::value<std::string>()->default_value("10s"),
                          "session TTL: how soon a crash ends the leadership");
                    },
                    Run});
}

}  // namespace berth::cli
