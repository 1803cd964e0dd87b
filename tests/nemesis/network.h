// The nemesis's private network: one bridge in the root namespace and, per
// host, a network namespace joined to it by a veth pair, with addresses in
// 10.213.<tag>.0/24 that exist only on this machine. Hosts 1..replicas are
// the lockd replicas (namespaces bnem<tag>-r<id>); the hosts after them run
// the schedulers (bnem<tag>-s<k>). Clients and the agent run in the root
// namespace (RootIp, the bridge's address) and reach every host through the
// bridge.
//
// Faults it can apply (netem is not assumed: the kernel here has no
// sch_netem, so loss/delay is approximated with a token-bucket shaper):
//  * Isolate: the replica's veth goes down; it can reach nobody, clients
//    included.
//  * Cut: blackhole routes inside two hosts' namespaces, so they cannot
//    talk to each other while both still reach the others and the clients
//    (a leader cut from every peer keeps serving clients that find it).
//  * Slow: a tbf shaper of a few kbit/s both ways on the replica's link;
//    queues overflow, so packets are delayed and dropped.
//
// Thread safety: none; one owner (the nemesis thread). The destructor
// deletes everything it created, and scripts/nemesis.sh removes leftovers
// (every name starts with "bnem") after a crash.
#ifndef BERTH_TESTS_NEMESIS_NETWORK_H_
#define BERTH_TESTS_NEMESIS_NETWORK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace berth::nemesis {

class Network {
 public:
  // Hosts are numbered 1..replicas+extra_hosts, replicas first. `tag`
  // (20..219) keeps two runs apart: it is in every name and in the subnet.
  static absl::StatusOr<std::unique_ptr<Network>> Create(
      int replicas, int extra_hosts, int tag, const std::string& log_dir);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  std::string Namespace(int id) const;
  std::string Ip(int id) const;
  // The bridge's own address: the root namespace as seen from a host.
  std::string RootIp() const;
  int hosts() const { return replicas_ + extra_hosts_; }

  absl::Status Isolate(int id);
  absl::Status Unisolate(int id);
  // Blocks traffic between a and b in both directions.
  absl::Status Cut(int a, int b);
  absl::Status Slow(int id);
  // Undoes every Isolate, Cut and Slow.
  absl::Status HealAll();

 private:
  Network(int replicas, int extra_hosts, int tag, std::string log_dir)
      : replicas_(replicas),
        extra_hosts_(extra_hosts),
        tag_(tag),
        log_dir_(std::move(log_dir)) {}
  std::string Bridge() const;
  std::string HostVeth(int id) const;
  absl::Status Setup();

  const int replicas_;
  const int extra_hosts_;
  const int tag_;
  const std::string log_dir_;
};

}  // namespace berth::nemesis

#endif  // BERTH_TESTS_NEMESIS_NETWORK_H_
