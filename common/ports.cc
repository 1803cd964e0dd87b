#include "common/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace berth {
namespace {

// The first port the kernel hands out for outgoing connections, or 0 if
// unknown.
int EphemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  int high = 0;
  if (!(in >> low >> high)) return 0;
  return low;
}

}  // namespace

bool LoopbackPortFree(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

absl::StatusOr<int> FindFreePortBlock(int span, uint64_t seed, int lo, int hi) {
  const int eph = EphemeralLow();
  if (eph > lo && eph < hi) hi = eph;
  if (span <= 0 || lo < 1024 || hi > 65536 || hi - lo < span) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no room for ", span, " ports in 127.0.0.1:", lo, "..", hi - 1));
  }
  const int blocks = (hi - lo) / span;
  const int first = static_cast<int>(seed % static_cast<uint64_t>(blocks));
  for (int i = 0; i < blocks; ++i) {
    const int base = lo + ((first + i) % blocks) * span;
    bool free = true;
    for (int p = base; p < base + span && free; ++p) {
      free = LoopbackPortFree(p);
    }
    if (free) return base;
  }
  return absl::UnavailableError(absl::StrCat(
      "no block of ", span, " free ports on 127.0.0.1 in ", lo, "..", hi - 1));
}

}  // namespace berth
