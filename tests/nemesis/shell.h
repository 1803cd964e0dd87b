// Runs the system tools the nemesis drives (ip, tc, mount) and reports
// failures as Status, so that a missing kernel feature is an error with the
// command and its stderr rather than a silent no-op.
//
// Thread safety: stateless functions.
#ifndef BERTH_TESTS_NEMESIS_SHELL_H_
#define BERTH_TESTS_NEMESIS_SHELL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace berth::nemesis {

// The absolute path of `tool` in the usual sbin/bin directories, or "".
std::string FindTool(const std::string& tool);

// Runs argv (argv[0] is looked up with FindTool) to completion; logs go
// under `log_dir`. Fails with the command line and its stderr.
absl::Status Run(const std::vector<std::string>& argv,
                 const std::string& log_dir);

}  // namespace berth::nemesis

#endif  // BERTH_TESTS_NEMESIS_SHELL_H_
