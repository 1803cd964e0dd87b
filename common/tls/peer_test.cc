#include "common/tls/peer.h"

#include "gtest/gtest.h"

namespace berth::tls {
namespace {

TEST(SubjectOuTest, FindsTheOuWhereverItIs) {
  EXPECT_EQ(SubjectOu("CN=a1,OU=agent,O=berth"), "agent");
  EXPECT_EQ(SubjectOu("O=berth, OU=user, CN=alice"), "user");
  EXPECT_EQ(SubjectOu("OU=scheduler"), "scheduler");
}

TEST(SubjectOuTest, EscapedCommasAndMissingOu) {
  EXPECT_EQ(SubjectOu("CN=x\\,OU=agent,O=y"), "");
  EXPECT_EQ(SubjectOu("O=a\\,b,OU=agent"), "agent");
  EXPECT_EQ(SubjectOu("CN=a1,O=berth"), "");
  EXPECT_EQ(SubjectOu(""), "");
  EXPECT_EQ(SubjectOu("OU="), "");
  EXPECT_EQ(SubjectOu("CN=a\\"), "");
}

}  // namespace
}  // namespace berth::tls
