// Size of the kernel's per-process futex hash for daemons with many threads.
//
// Since Linux 6.16 a threaded process gets its own futex hash, sized from
// the online CPUs, not the threads: 16 buckets on this 2-vCPU machine. Every
// blocked thread waits in one of them, and every futex wake walks its
// bucket's whole list. A swarm of 1,000 simulated agents parks about 3,000
// threads, some 190 per bucket, and each wake paid for the walk: futex_wake
// was 29-35 % of the idle swarm's CPU (docs/benchmarks.md). The process can
// ask for more buckets (prctl PR_FUTEX_HASH, "SET_SLOTS"); older kernels
// have one global hash sized from the CPUs and need nothing.
#ifndef BERTH_COMMON_FUTEX_HASH_H_
#define BERTH_COMMON_FUTEX_HASH_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace berth {

// Gives this process a futex hash of at least `threads` buckets (rounded up
// to a power of two, at most 65,536). Returns the buckets in force, 0 when
// the kernel has only the global hash (before 6.16: nothing to size), or
// the error the kernel gave.
absl::StatusOr<uint32_t> SizeFutexHash(uint32_t threads);

}  // namespace berth

#endif  // BERTH_COMMON_FUTEX_HASH_H_
