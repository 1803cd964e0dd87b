#include "common/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "gtest/gtest.h"

namespace berth {
namespace {

// Holds 127.0.0.1:port bound (and listening) until destroyed.
class Held {
 public:
  explicit Held(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = fd_ >= 0 &&
          bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
          listen(fd_, 1) == 0;
  }
  ~Held() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return ok_; }

 private:
  int fd_;
  bool ok_ = false;
};

TEST(PortsTest, SkipsABlockWithABoundPortAndStaysBelowTheEphemeralRange) {
  absl::StatusOr<int> first = FindFreePortBlock(10, 7);
  ASSERT_TRUE(first.ok()) << first.status();
  Held held(*first + 3);
  ASSERT_TRUE(held.ok());
  EXPECT_FALSE(LoopbackPortFree(*first + 3));

  absl::StatusOr<int> second = FindFreePortBlock(10, 7);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(*second, *first);
  EXPECT_EQ((*second - 10000) % 10, 0);
  for (int p = *second; p < *second + 10; ++p) {
    EXPECT_TRUE(LoopbackPortFree(p)) << p;
  }
  int low = 0, high = 0;
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  if (in >> low >> high && low > 10000) {
    EXPECT_LE(*second + 10, low);
  }
}

TEST(PortsTest, ImpossibleRequestsNameTheRange) {
  absl::StatusOr<int> r = FindFreePortBlock(100, 0, 20000, 20050);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("20000..20049"), std::string::npos)
      << r.status();
}

}  // namespace
}  // namespace berth
