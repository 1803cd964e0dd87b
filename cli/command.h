// The `berth` command table: every subcommand, its flags and its
// positional arguments, as data. main.cc dispatches through it, `help`
// prints it, and a shell-completion generator can walk it.
//
// Thread safety: the table is built once and read-only afterwards.
#ifndef BERTH_CLI_COMMAND_H_
#define BERTH_CLI_COMMAND_H_

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "boost/program_options.hpp"
#include "common/tls/credentials.h"

namespace berth::lock {
class Client;
}  // namespace berth::lock

namespace berth::cli {

namespace po = boost::program_options;

// Exit codes shared by every command (commands that run a child process
// pass the child's own code through instead).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the server or the operation failed
inline constexpr int kExitUsage = 2;    // bad command line

enum class OutputFormat { kTable, kJson };

struct GlobalOptions {
  std::vector<std::string> lock_endpoints;
  std::vector<std::string> scheduler_endpoints;
  OutputFormat output = OutputFormat::kTable;
  absl::Duration timeout = absl::Seconds(10);
  // --tls-ca/--tls-cert/--tls-key (or BERTH_TLS_*); plaintext without them.
  tls::Credentials credentials;
};

// What a command's Run sees.
struct Context {
  GlobalOptions global;
  po::variables_map args;
  // Everything after "--" (only for commands with takes_trailing).
  std::vector<std::string> trailing;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;

  // A lockd client built from the global flags.
  absl::StatusOr<std::unique_ptr<lock::Client>> ConnectLock() const;
  // Prints "berth <command>: <message>" to err and returns kExitFailure.
  int Fail(const absl::Status& status) const;
  // The same for a bad command line; returns kExitUsage.
  int UsageError(const absl::Status& status) const;
  // The value of a positional or flag, "" when absent.
  std::string Arg(const std::string& name) const;
  bool Has(const std::string& name) const { return args.count(name) > 0; }
  bool json() const { return global.output == OutputFormat::kJson; }
  std::string command_path;
};

struct Positional {
  std::string name;  // shown in usage, e.g. "KEY"
  bool required = true;
  bool repeated = false;  // takes all remaining words (must be last)
};

struct Command {
  std::string path;  // words, e.g. "kv get"
  std::string summary;
  std::vector<Positional> positionals;
  bool takes_trailing = false;  // "-- CMD ARGS..."
  // Adds the command's own flags (may be empty).
  std::function<void(po::options_description&)> flags;
  std::function<int(Context&)> run;
};

// The whole table, sorted by path.
const std::vector<Command>& Commands();

// Registration, one function per file in cli/commands/.
void AddKvCommands(std::vector<Command>* table);
void AddWatchCommands(std::vector<Command>* table);
void AddLockCommands(std::vector<Command>* table);
void AddElectCommands(std::vector<Command>* table);
void AddLeaseCommands(std::vector<Command>* table);
void AddClusterCommands(std::vector<Command>* table);
void AddBenchCommands(std::vector<Command>* table);
void AddCronBenchCommands(std::vector<Command>* table);
void AddCronCommands(std::vector<Command>* table);
void AddJobCommands(std::vector<Command>* table);
void AddJobSuspendCommands(std::vector<Command>* table);
void AddNamespaceCommands(std::vector<Command>* table);
void AddAclCommands(std::vector<Command>* table);
void AddNodeCommands(std::vector<Command>* table);
void AddAuditCommands(std::vector<Command>* table);
void AddDevCommands(std::vector<Command>* table);
void AddScheduleBenchCommands(std::vector<Command>* table);
void AddCompletionCommands(std::vector<Command>* table);
void AddLogsCommands(std::vector<Command>* table);
void AddExecCommands(std::vector<Command>* table);
void AddTopCommands(std::vector<Command>* table);
void AddCertCommands(std::vector<Command>* table);
void AddAuthCommands(std::vector<Command>* table);

// The flags every command accepts.
po::options_description GlobalFlags();

// Parses argv (without argv[0]) and runs the command. Never throws.
int RunCli(const std::vector<std::string>& argv, std::ostream& out,
           std::ostream& err);

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMAND_H_
