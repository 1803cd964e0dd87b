// Test harness that runs real berth-lockd processes on 127.0.0.1.
//
// Each LockdCluster picks a port range from the test's pid so that ctest can
// run suites in parallel, puts every replica's SQLite file under a fresh
// temporary directory, and kills whatever is still running on destruction.
// All waits are condition polls with deadlines.
//
// Thread safety: none; use from the test thread.
#ifndef BERTH_TESTS_E2E_LOCKD_HARNESS_H_
#define BERTH_TESTS_E2E_LOCKD_HARNESS_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/lock.grpc.pb.h"

namespace berth::e2e {

// Polls `cond` until it returns true or `timeout` passes. Between polls it
// blocks on a condition variable with a short timeout rather than sleeping
// a fixed amount.
bool WaitFor(const std::function<bool()>& cond,
             absl::Duration timeout = absl::Seconds(30));

std::string LockdBinary();
std::string MakeTempDir(const std::string& prefix);

// berth daemons refuse to serve plaintext unless told to
// (common/tls/tls_flags.h). Appends --insecure to a daemon's argv unless it
// is given TLS, by a --tls-* flag or by BERTH_TLS_* in the environment it
// inherits.
void AddInsecureUnlessTls(std::vector<std::string>* argv);

class LockdCluster {
 public:
  LockdCluster(int replicas, std::vector<std::string> extra_flags = {});
  ~LockdCluster();

  // Flags for one replica only (e.g. its own --etcd-listen), added after
  // the shared ones whenever it starts.
  void SetReplicaFlags(uint64_t id, std::vector<std::string> flags) {
    replica_flags_[id] = std::move(flags);
  }
  absl::Status StartAll();
  absl::Status Start(uint64_t id);
  // Starts an extra replica that joins (after a MemberAdd).
  absl::Status StartJoining(uint64_t id, const std::string& address);
  void Kill9(uint64_t id);
  void Term(uint64_t id);  // SIGTERM and wait for exit
  void Pause(uint64_t id);
  void Resume(uint64_t id);
  bool Running(uint64_t id) const;

  std::string Address(uint64_t id) const;
  std::vector<std::string> Endpoints() const;
  std::string EndpointsFlag() const;
  std::string NextAddress();

  // The leader as reported by a majority-visible Status; 0 if none.
  uint64_t Leader();
  uint64_t AwaitLeader(absl::Duration timeout = absl::Seconds(30),
                       uint64_t not_this = 0);

  std::shared_ptr<grpc::Channel> Channel(uint64_t id);
  // How Channel (and so Leader and RawClient) dials: plaintext unless set.
  // A TLS test sets client credentials before the first Channel call.
  void set_credentials(std::shared_ptr<grpc::ChannelCredentials> c) {
    credentials_ = std::move(c);
  }
  const std::string& dir() const { return dir_; }

 private:
  absl::Status Spawn(uint64_t id, const std::vector<std::string>& args);
  // Makes a probe wait for the channel when it dials with TLS.
  void WaitForTls(grpc::ClientContext* ctx) const;

  std::string dir_;
  int base_port_;
  int next_extra_ = 0;
  std::map<uint64_t, std::string> addrs_;
  std::map<uint64_t, pid_t> pids_;
  std::vector<std::string> extra_flags_;
  std::map<uint64_t, std::vector<std::string>> replica_flags_;
  std::map<uint64_t, std::shared_ptr<grpc::Channel>> channels_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
};

// A minimal client that follows "leader=<id>@<addr>" redirects; enough for
// tests to drive the raw API without the client library.
class RawClient {
 public:
  explicit RawClient(LockdCluster* c) : c_(c) {}

  // Calls fn against the leader (retrying redirects/unavailable until the
  // deadline). fn returns the gRPC status of one attempt.
  grpc::Status OnLeader(
      const std::function<grpc::Status(grpc::Channel*, grpc::ClientContext*)>&
          fn,
      absl::Duration timeout = absl::Seconds(20));

 private:
  LockdCluster* c_;
};

// One integer from a replica's SQLite file, opened read-only (e.g. "SELECT
// snap_index FROM raft_meta"); -1 when the file or the query fails.
int64_t QueryReplicaDb(const std::string& path, const std::string& sql);

}  // namespace berth::e2e

#endif  // BERTH_TESTS_E2E_LOCKD_HARNESS_H_
