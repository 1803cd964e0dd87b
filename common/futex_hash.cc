#include "common/futex_hash.h"

#include <sys/prctl.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

// Linux 6.16 uapi; Debian 12's headers predate it.
#ifndef PR_FUTEX_HASH
#define PR_FUTEX_HASH 78
#define PR_FUTEX_HASH_SET_SLOTS 1
#define PR_FUTEX_HASH_GET_SLOTS 2
#endif

namespace berth {

absl::StatusOr<uint32_t> SizeFutexHash(uint32_t threads) {
  const int current = prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS, 0, 0, 0);
  if (current < 0) {
    if (errno == EINVAL) return 0;  // no private hashes on this kernel
    return absl::InternalError(
        absl::StrCat("prctl(PR_FUTEX_HASH, GET_SLOTS): ", strerror(errno)));
  }
  const uint32_t want = std::bit_ceil(std::clamp<uint32_t>(threads, 16, 65536));
  if (static_cast<uint32_t>(current) >= want) {
    return static_cast<uint32_t>(current);
  }
  if (prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, want, 0, 0) != 0) {
    return absl::InternalError(absl::StrCat("prctl(PR_FUTEX_HASH, SET_SLOTS, ",
                                            want, "): ", strerror(errno)));
  }
  return want;
}

}  // namespace berth
