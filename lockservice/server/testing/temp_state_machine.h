// A real SQLite state machine in a fresh directory of the test's temporary
// space, for unit tests that need lockd's applied state (leases, keys,
// locks) without a replica. The directory goes with the object.
//
// Thread safety: none; a test fixture owns it.
#ifndef BERTH_LOCKSERVICE_SERVER_TESTING_TEMP_STATE_MACHINE_H_
#define BERTH_LOCKSERVICE_SERVER_TESTING_TEMP_STATE_MACHINE_H_

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lockservice/server/state_machine.h"

namespace berth::lock {

class TempStateMachineDir {
 public:
  // `name` keeps concurrent test binaries apart (with the pid).
  explicit TempStateMachineDir(const std::string& name)
      : dir_(std::filesystem::path(::testing::TempDir()) /
             absl::StrCat("berth_", name, "_", getpid())) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~TempStateMachineDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempStateMachineDir(const TempStateMachineDir&) = delete;
  TempStateMachineDir& operator=(const TempStateMachineDir&) = delete;

  // Opens (creating) the replica file; close it before this object goes.
  absl::StatusOr<std::unique_ptr<StateMachine>> Open(
      const Limits& limits = {}) const {
    StateMachine::Options o;
    o.path = (dir_ / "replica.db").string();
    o.limits = limits;
    return StateMachine::Open(o);
  }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_TESTING_TEMP_STATE_MACHINE_H_
