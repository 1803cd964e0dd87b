// Picking loopback ports for servers that tests and `berth bench` start.
//
// Ports are chosen below the kernel's ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range): a port inside it can be taken at
// any moment by some process's outgoing connection, which is how a bench
// once failed CI with "port ... is in use". Checking is still racy (a port
// free now can be bound by another test before our server binds it); the
// server then fails loudly and the caller's error names the port.
#ifndef BERTH_COMMON_PORTS_H_
#define BERTH_COMMON_PORTS_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace berth {

// True if 127.0.0.1:port can be bound right now.
bool LoopbackPortFree(int port);

// The first port of a block [base, base + span) in which every port is free
// on 127.0.0.1. Blocks are aligned to `span` within [lo, hi) and tried
// starting from one picked by `seed` (a pid, say), so concurrent callers
// with different seeds start apart. `hi` is lowered to the start of the
// ephemeral range when that range begins inside [lo, hi). The default range
// stays clear of 21000..28999, where the e2e lockd harness puts its replicas.
absl::StatusOr<int> FindFreePortBlock(int span, uint64_t seed, int lo = 10000,
                                      int hi = 21000);

}  // namespace berth

#endif  // BERTH_COMMON_PORTS_H_
