// berth: the command-line client. See cli/README.md.
#include <iostream>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "cli/command.h"
#include "common/huge_pages.h"

int main(int argc, char** argv) {
  // The in-process benchmarks run the scheduler's own code over 100,000
  // jobs or tasks: give them the heap the daemon has (common/huge_pages.h).
  // Not the other commands, nor the benches that start daemons, whose
  // environment would carry the tunable to agents and their tasks.
  if (argc >= 3 && std::string(argv[1]) == "bench" &&
      (std::string(argv[2]) == "cron" || std::string(argv[2]) == "schedule")) {
    berth::ReexecWithHugePageHeap(argv);
  }
  // Debian's abseil keeps a lock graph on every Mutex acquisition
  // (deadlock detection); tests keep it, production binaries do not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<std::string> args(argv + 1, argv + argc);
  return berth::cli::RunCli(args, std::cout, std::cerr);
}
