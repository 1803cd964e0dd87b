// What a forked child needs to exec a command without allocating: the
// candidate paths (PATH searched beforehand, as execvp would) and
// null-terminated argv/envp arrays. Shared by Spawn (namespaces.h) and
// Enter (enter.h).
#ifndef BERTH_AGENT_RUNTIME_EXEC_ARGS_H_
#define BERTH_AGENT_RUNTIME_EXEC_ARGS_H_

#include <string>
#include <vector>

namespace berth::agent {

struct ExecArgs {
  std::vector<std::string> candidates;
  // Point into the vectors given to PrepareExec, which must outlive this.
  std::vector<const char*> argv;
  std::vector<const char*> envp;
};

// argv[0] with a '/' is the only candidate; otherwise every directory of
// env's PATH (or a default PATH) is.
ExecArgs PrepareExec(const std::vector<std::string>& argv,
                     const std::vector<std::string>& env);

// In the child, after fork: tries each candidate. Returns only on failure,
// with errno set as execvp would (a candidate that exists but cannot run
// wins over "not found"). Async-signal-safe.
void ExecFirst(const ExecArgs& args);

}  // namespace berth::agent

#endif  // BERTH_AGENT_RUNTIME_EXEC_ARGS_H_
