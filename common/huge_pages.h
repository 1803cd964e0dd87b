// Transparent huge pages for a daemon's malloc heap.
//
// berth's daemons keep large pointer-linked structures in memory (the
// scheduler's mirror of every job, lockd's caches), and walking them is
// bound by memory latency. On a virtual machine every TLB miss costs a
// two-dimensional page walk (guest and host tables), so with 4 KiB pages a
// cache-cold pointer costs far more than the DRAM access itself. Measured
// on the 2-vCPU VM of docs/benchmarks.md: a random load over 128 MiB took
// 237 ns with 4 KiB pages and 181 ns with huge pages, and `berth bench
// cron` at 100,000 jobs went from lag p99 67 ms to 18 ms.
//
// Debian's kernels run THP in "madvise" mode: only memory that asks gets
// huge pages. glibc's malloc asks when the tunable glibc.malloc.hugetlb=1
// is set, and reads tunables once, when the process starts. So a daemon
// that wants it re-executes itself with the tunable added, as the first
// thing in main, before any thread, file or socket exists.
//
// Opt out with BERTH_HUGE_PAGES=0. Nothing happens when GLIBC_TUNABLES
// already says anything about glibc.malloc.hugetlb (the operator decided),
// or when the kernel's THP mode is "never" (nothing to ask for) or "always"
// (every heap has them already).
#ifndef BERTH_COMMON_HUGE_PAGES_H_
#define BERTH_COMMON_HUGE_PAGES_H_

#include <string>

namespace berth {

// What ReexecWithHugePageHeap would set GLIBC_TUNABLES to, given the
// current GLIBC_TUNABLES (null: unset), BERTH_HUGE_PAGES (null: unset) and
// the contents of /sys/kernel/mm/transparent_hugepage/enabled; empty when
// no re-exec is wanted.
std::string HugePageTunables(const char* glibc_tunables,
                             const char* berth_huge_pages,
                             const std::string& thp_enabled);

// Re-executes /proc/self/exe with `argv` and glibc's malloc using huge
// pages, when HugePageTunables says so. Returns only when it did not
// re-execute (not wanted, or execv failed: then the process simply runs
// with small pages).
void ReexecWithHugePageHeap(char** argv);
// The same with the image to execute named (tests run a shell).
void ReexecWithHugePageHeap(const char* exe, char** argv);

}  // namespace berth

#endif  // BERTH_COMMON_HUGE_PAGES_H_
