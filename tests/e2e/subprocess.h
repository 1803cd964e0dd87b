// Runs helper binaries (berth, berth-e2e-contender, examples) from e2e
// tests: fork/exec with stdout and stderr captured to files, so that a test
// can read what a still-running child has printed so far.
//
// Thread safety: a Subprocess belongs to one thread. Ownership: the
// destructor kills (SIGKILL) and reaps a child that is still running.
#ifndef BERTH_TESTS_E2E_SUBPROCESS_H_
#define BERTH_TESTS_E2E_SUBPROCESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::e2e {

class Subprocess {
 public:
  // Starts argv[0] (a path) with argv; `env` entries are added to the
  // inherited environment. Output goes to `<log_prefix>.out` / `.err`.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv, const std::string& log_prefix,
      const std::map<std::string, std::string>& env = {});
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits up to `timeout` for the child to exit; returns its exit code
  // (128+N when killed by signal N), or nullopt if it is still running.
  std::optional<int> Wait(absl::Duration timeout);
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  Subprocess(pid_t pid, std::string out, std::string err)
      : pid_(pid), out_(std::move(out)), err_(std::move(err)) {}

  pid_t pid_;
  std::optional<int> exit_code_;
  std::string out_;
  std::string err_;
};

struct RunResult {
  int exit_code = -1;  // -1: did not finish within the timeout (killed)
  std::string out;
  std::string err;
};

// Runs a command to completion (killing it after `timeout`).
RunResult RunToExit(const std::vector<std::string>& argv,
                    const std::string& log_prefix,
                    absl::Duration timeout = absl::Seconds(60),
                    const std::map<std::string, std::string>& env = {});

std::string ReadFileOrEmpty(const std::string& path);

}  // namespace berth::e2e

#endif  // BERTH_TESTS_E2E_SUBPROCESS_H_
