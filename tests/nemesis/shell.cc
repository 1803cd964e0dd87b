#include "tests/nemesis/shell.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/e2e/subprocess.h"

namespace berth::nemesis {

std::string FindTool(const std::string& tool) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    std::string path = absl::StrCat(dir, tool);
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

absl::Status Run(const std::vector<std::string>& argv,
                 const std::string& log_dir) {
  std::vector<std::string> args = argv;
  std::string path = FindTool(args[0]);
  if (path.empty()) {
    return absl::NotFoundError(absl::StrCat(args[0], " not found"));
  }
  args[0] = path;
  e2e::RunResult r =
      e2e::RunToExit(args, absl::StrCat(log_dir, "/cmd"), absl::Seconds(20));
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat(
        "`", absl::StrJoin(argv, " "), "` exited ", r.exit_code, ": ", r.err));
  }
  return absl::OkStatus();
}

}  // namespace berth::nemesis
