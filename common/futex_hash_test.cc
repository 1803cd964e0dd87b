#include "common/futex_hash.h"

#include <sys/prctl.h>

#include <thread>
#include <vector>

#include "gtest/gtest.h"

#ifndef PR_FUTEX_HASH
#define PR_FUTEX_HASH 78
#define PR_FUTEX_HASH_GET_SLOTS 2
#endif

namespace berth {
namespace {

TEST(FutexHashTest, AsksForAPowerOfTwoAtLeastTheThreadsAndKeepsIt) {
  absl::StatusOr<uint32_t> slots = SizeFutexHash(3000);
  ASSERT_TRUE(slots.ok()) << slots.status();
  if (*slots == 0) {
    GTEST_SKIP()
        << "kernel before 6.16: one global futex hash, nothing to size";
  }
  EXPECT_EQ(*slots, 4096u);
  EXPECT_EQ(prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS, 0, 0, 0), 4096);
  // New threads must not shrink it back to the kernel's CPU-based default.
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([] {});
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS, 0, 0, 0), 4096);
  // Asking for fewer never shrinks it.
  slots = SizeFutexHash(10);
  ASSERT_TRUE(slots.ok());
  EXPECT_EQ(*slots, 4096u);
}

}  // namespace
}  // namespace berth
