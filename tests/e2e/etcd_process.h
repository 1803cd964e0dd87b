// A real etcd server (Debian's etcd-server) for tests that compare berth's
// etcd API with the original: one member on 127.0.0.1, data in a fresh
// temporary directory, killed and removed on destruction.
//
// Thread safety: none; use from the test thread.
#ifndef BERTH_TESTS_E2E_ETCD_PROCESS_H_
#define BERTH_TESTS_E2E_ETCD_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/subprocess.h"

namespace berth::e2e {

class EtcdProcess {
 public:
  // Starts etcd on client port `client_port` and peer port `peer_port` and
  // waits (up to 30 s) until `etcdctl endpoint health` passes.
  static absl::StatusOr<std::unique_ptr<EtcdProcess>> Start(int client_port,
                                                            int peer_port);
  ~EtcdProcess();

  std::string endpoint() const { return endpoint_; }

 private:
  EtcdProcess() = default;
  std::string dir_;
  std::string endpoint_;
  std::unique_ptr<Subprocess> proc_;
};

// Runs `etcdctl args...` (ETCDCTL_API=3) against `endpoints`; `stdin_text`
// (if any) is fed on standard input.
RunResult Etcdctl(const std::string& endpoints,
                  const std::vector<std::string>& args,
                  const std::string& log_prefix,
                  const std::string& stdin_text = "");

// Gives replica i (1-based, of `replicas`) of `cluster` the etcd API on
// 127.0.0.1:`base_port` + i, starts them all, and waits for a leader and for
// every replica to answer etcdctl there. Returns those endpoints in order.
absl::StatusOr<std::vector<std::string>> StartWithEtcdPorts(
    LockdCluster* cluster, int replicas, int base_port);

}  // namespace berth::e2e

#endif  // BERTH_TESTS_E2E_ETCD_PROCESS_H_
