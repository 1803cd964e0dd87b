// RunCli: finds the command in the table, parses its flags with
// Boost.Program_options and runs it. All parse errors end here as exit 2.
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "common/tls/tls_flags.h"
#include "lockservice/client/client.h"

namespace berth::cli {

namespace {

constexpr char kDefaultEndpoints[] = "127.0.0.1:7400";
constexpr char kDefaultScheduler[] = "127.0.0.1:7500";
// Global flags that take a value, so that the command scan skips the value.
const char* const kValueFlags[] = {
    "--lock-endpoints", "--scheduler", "--output", "--timeout",
    "--tls-ca",         "--tls-cert",  "--tls-key"};

std::vector<Command> BuildTable() {
  std::vector<Command> table;
  AddKvCommands(&table);
  AddWatchCommands(&table);
  AddLockCommands(&table);
  AddElectCommands(&table);
  AddLeaseCommands(&table);
  AddClusterCommands(&table);
  AddAuthCommands(&table);
  AddBenchCommands(&table);
  AddCronBenchCommands(&table);
  AddCronCommands(&table);
  AddJobCommands(&table);
  AddJobSuspendCommands(&table);
  AddNamespaceCommands(&table);
  AddAclCommands(&table);
  AddNodeCommands(&table);
  AddAuditCommands(&table);
  AddDevCommands(&table);
  AddScheduleBenchCommands(&table);
  AddCompletionCommands(&table);
  AddLogsCommands(&table);
  AddExecCommands(&table);
  AddTopCommands(&table);
  AddCertCommands(&table);
  std::sort(table.begin(), table.end(),
            [](const Command& a, const Command& b) { return a.path < b.path; });
  return table;
}

std::string Usage(const Command& c) {
  std::string u = absl::StrCat("berth ", c.path);
  for (const Positional& p : c.positionals) {
    std::string name = p.repeated ? absl::StrCat(p.name, "...") : p.name;
    absl::StrAppend(&u, " ", p.required ? name : absl::StrCat("[", name, "]"));
  }
  absl::StrAppend(&u, " [flags]");
  if (c.takes_trailing) absl::StrAppend(&u, " -- CMD [ARGS...]");
  return u;
}

void PrintHelp(std::ostream& out) {
  out << "berth: cluster scheduler and lock service CLI\n\nCommands:\n";
  std::vector<std::vector<std::string>> rows;
  size_t w = 0;
  for (const Command& c : Commands()) w = std::max(w, Usage(c).size());
  for (const Command& c : Commands()) {
    std::string u = Usage(c);
    out << "  " << u << std::string(w - u.size() + 2, ' ') << c.summary << "\n";
  }
  out << "\n"
      << GlobalFlags() << "\nRun 'berth COMMAND --help' for the "
      << "flags of one command.\n";
}

void PrintCommandHelp(std::ostream& out, const Command& c,
                      const po::options_description& flags) {
  out << "Usage: " << Usage(c) << "\n\n" << c.summary << "\n\n" << flags;
}

absl::StatusOr<GlobalOptions> ReadGlobals(const po::variables_map& vm) {
  GlobalOptions g;
  std::string endpoints = vm["lock-endpoints"].as<std::string>();
  if (vm["lock-endpoints"].defaulted()) {
    if (const char* env = std::getenv("BERTH_LOCK_ENDPOINTS");
        env != nullptr && *env != '\0') {
      endpoints = env;
    }
  }
  auto list = lock::ParseEndpoints(endpoints);
  if (!list.ok()) return list.status();
  g.lock_endpoints = *std::move(list);
  std::string sched = vm["scheduler"].as<std::string>();
  if (vm["scheduler"].defaulted()) {
    if (const char* env = std::getenv("BERTH_SCHEDULER");
        env != nullptr && *env != '\0') {
      sched = env;
    }
  }
  auto scheds = lock::ParseEndpoints(sched);
  if (!scheds.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--scheduler: ", scheds.status().message()));
  }
  g.scheduler_endpoints = *std::move(scheds);
  std::string output = vm["output"].as<std::string>();
  if (output == "table") {
    g.output = OutputFormat::kTable;
  } else if (output == "json") {
    g.output = OutputFormat::kJson;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid value \"", output, "\" for --output: expected table or json"));
  }
  auto timeout =
      ParseDurationFlag("--timeout", vm["timeout"].as<std::string>());
  if (!timeout.ok()) return timeout.status();
  g.timeout = *timeout;
  tls::TlsFiles files = tls::WithEnvironment({vm["tls-ca"].as<std::string>(),
                                              vm["tls-cert"].as<std::string>(),
                                              vm["tls-key"].as<std::string>()});
  if (!files.empty()) {
    // Only unreadable files stop us here: an expired or foreign certificate
    // is sent anyway, so that the server's refusal is what the user sees,
    // with DiagnoseClient's reading of the files next to it.
    auto creds = tls::Credentials::Load(files, /*need_identity=*/false);
    if (!creds.ok()) return creds.status();
    g.credentials = *std::move(creds);
  }
  return g;
}

// Finds the longest command path made of the leading non-flag words.
const Command* FindCommand(const std::vector<std::string>& words,
                           size_t* used) {
  const Command* best = nullptr;
  for (const Command& c : Commands()) {
    std::vector<std::string> parts = absl::StrSplit(c.path, ' ');
    if (parts.size() > words.size()) continue;
    if (!std::equal(parts.begin(), parts.end(), words.begin())) continue;
    if (best == nullptr || parts.size() > *used) {
      best = &c;
      *used = parts.size();
    }
  }
  return best;
}

int Dispatch(const std::vector<std::string>& argv, std::ostream& out,
             std::ostream& err) {
  // Split off "-- CMD ARGS..." first: nothing after it is ours to parse.
  std::vector<std::string> args = argv;
  std::vector<std::string> trailing;
  bool has_trailing = false;
  if (auto it = std::find(args.begin(), args.end(), "--"); it != args.end()) {
    trailing.assign(it + 1, args.end());
    args.erase(it, args.end());
    has_trailing = true;
  }
  // The command path is the leading words that are not flags or flag values.
  std::vector<std::string> words;
  std::vector<size_t> word_index;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!a.empty() && a[0] == '-') {
      if (std::find(std::begin(kValueFlags), std::end(kValueFlags), a) !=
          std::end(kValueFlags)) {
        ++i;
      }
      continue;
    }
    words.push_back(a);
    word_index.push_back(i);
  }
  bool want_help =
      std::find(args.begin(), args.end(), "--help") != args.end() ||
      std::find(args.begin(), args.end(), "-h") != args.end();
  if (words.empty() || words[0] == "help") {
    PrintHelp(want_help || !words.empty() ? out : err);
    return want_help || !words.empty() ? kExitOk : kExitUsage;
  }
  size_t used = 0;
  const Command* cmd = FindCommand(words, &used);
  if (cmd == nullptr) {
    std::vector<std::string> subs;
    for (const Command& c : Commands()) {
      if (absl::StartsWith(c.path, words[0] + " ")) {
        subs.push_back(c.path.substr(words[0].size() + 1));
      }
    }
    if (!subs.empty() && (words.size() == 1 || !want_help)) {
      err << "berth " << words[0] << ": "
          << (words.size() == 1
                  ? "missing subcommand"
                  : absl::StrCat("unknown subcommand \"", words[1], "\""))
          << "; expected one of: " << absl::StrJoin(subs, ", ") << "\n";
    } else {
      err << "berth: unknown command \"" << words[0]
          << "\"; run 'berth --help' for the list\n";
    }
    return kExitUsage;
  }
  // Drop the command words; the rest is flags and positional arguments.
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    if (std::find(word_index.begin(), word_index.begin() + used, i) ==
        word_index.begin() + used) {
      rest.push_back(args[i]);
    }
  }

  po::options_description own(absl::StrCat("Flags of 'berth ", cmd->path, "'"));
  if (cmd->flags) cmd->flags(own);
  own.add_options()("help,h", "show this help");
  po::options_description all;
  all.add(own).add(GlobalFlags());
  po::options_description hidden;
  po::positional_options_description pos;
  for (const Positional& p : cmd->positionals) {
    if (p.repeated) {
      hidden.add_options()(p.name.c_str(),
                           po::value<std::vector<std::string>>());
      pos.add(p.name.c_str(), -1);
    } else {
      hidden.add_options()(p.name.c_str(), po::value<std::string>());
      pos.add(p.name.c_str(), 1);
    }
  }
  po::options_description parse;
  parse.add(all).add(hidden);

  Context ctx;
  ctx.command_path = cmd->path;
  ctx.out = &out;
  ctx.err = &err;
  try {
    po::store(
        po::command_line_parser(rest).options(parse).positional(pos).run(),
        ctx.args);
    po::notify(ctx.args);
  } catch (const po::error& e) {
    err << "berth " << cmd->path << ": " << e.what()
        << "\nUsage: " << Usage(*cmd) << "\n";
    return kExitUsage;
  }
  if (ctx.args.count("help")) {
    PrintCommandHelp(out, *cmd, all);
    return kExitOk;
  }
  for (const Positional& p : cmd->positionals) {
    if (p.required && ctx.args.count(p.name) == 0) {
      err << "berth " << cmd->path << ": missing " << p.name
          << "\nUsage: " << Usage(*cmd) << "\n";
      return kExitUsage;
    }
  }
  if (has_trailing && !cmd->takes_trailing) {
    err << "berth " << cmd->path
        << ": unexpected \"--\"\nUsage: " << Usage(*cmd) << "\n";
    return kExitUsage;
  }
  if (cmd->takes_trailing && trailing.empty()) {
    err << "berth " << cmd->path
        << ": missing the command to run after \"--\"\nUsage: " << Usage(*cmd)
        << "\n";
    return kExitUsage;
  }
  ctx.trailing = std::move(trailing);
  absl::StatusOr<GlobalOptions> globals = ReadGlobals(ctx.args);
  if (!globals.ok()) {
    err << "berth " << cmd->path << ": " << globals.status().message() << "\n";
    return kExitUsage;
  }
  ctx.global = *std::move(globals);
  return cmd->run(ctx);
}

}  // namespace

const std::vector<Command>& Commands() {
  static const std::vector<Command>* table =
      new std::vector<Command>(BuildTable());
  return *table;
}

po::options_description GlobalFlags() {
  po::options_description d("Global flags");
  d.add_options()(
      "lock-endpoints",
      po::value<std::string>()->default_value(kDefaultEndpoints),
      "lockd replicas, host:port[,host:port...] (env BERTH_LOCK_ENDPOINTS)")(
      "scheduler", po::value<std::string>()->default_value(kDefaultScheduler),
      "berth-scheduler addresses, host:port[,host:port...] (env "
      "BERTH_SCHEDULER)")("output",
                          po::value<std::string>()->default_value("table"),
                          "table or json")(
      "timeout", po::value<std::string>()->default_value("10s"),
      "deadline of each request, across retries (e.g. 5s)")(
      "tls-ca", po::value<std::string>()->default_value(""),
      "PEM CA that signed the cluster's certificates; dial with mutual TLS "
      "(env BERTH_TLS_CA; without it, plaintext)")(
      "tls-cert", po::value<std::string>()->default_value(""),
      "PEM client certificate (`berth cert issue --kind user`; env "
      "BERTH_TLS_CERT)")("tls-key", po::value<std::string>()->default_value(""),
                         "PEM key of --tls-cert (env BERTH_TLS_KEY)");
  return d;
}

absl::StatusOr<std::unique_ptr<lock::Client>> Context::ConnectLock() const {
  lock::ClientOptions options;
  options.request_timeout = global.timeout;
  options.attempt_timeout = std::min(global.timeout, absl::Seconds(5));
  options.dial_timeout = std::min(global.timeout, absl::Seconds(2));
  options.credentials = global.credentials.channel();
  return lock::Client::Connect(global.lock_endpoints, options);
}

int Context::Fail(const absl::Status& status) const {
  *err << "berth " << command_path << ": " << status.message() << "\n";
  // A refused TLS handshake reaches the client as UNAVAILABLE (or as a
  // deadline while it retries); the client's own files usually say why.
  const absl::StatusCode code = status.code();
  const bool tls_symptom = code == absl::StatusCode::kUnavailable ||
                           code == absl::StatusCode::kUnauthenticated ||
                           (global.credentials.secure() &&
                            code == absl::StatusCode::kDeadlineExceeded);
  if (tls_symptom) {
    std::string why = tls::DiagnoseClient(global.credentials);
    if (!why.empty()) {
      *err << "berth " << command_path << ": hint: " << why << "\n";
    }
  }
  return kExitFailure;
}

int Context::UsageError(const absl::Status& status) const {
  *err << "berth " << command_path << ": " << status.message() << "\n";
  return kExitUsage;
}

std::string Context::Arg(const std::string& name) const {
  if (args.count(name) == 0) return "";
  return args[name].as<std::string>();
}

int RunCli(const std::vector<std::string>& argv, std::ostream& out,
           std::ostream& err) {
  try {
    return Dispatch(argv, out, err);
  } catch (const std::exception& e) {
    // Program_options throws from value conversions too; nothing else may
    // escape main.
    err << "berth: " << e.what() << "\n";
    return kExitUsage;
  }
}

}  // namespace berth::cli
