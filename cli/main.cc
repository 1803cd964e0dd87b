// berth: the command-line client. See cli/README.md.
#include <iostream>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "cli/command.h"

int main(int argc, char** argv) {
  // Debian's abseil keeps a lock graph on every Mutex acquisition
  // (deadlock detection); tests keep it, production binaries do not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<std::string> args(argv + 1, argv + argc);
  return berth::cli::RunCli(args, std::cout, std::cerr);
}
