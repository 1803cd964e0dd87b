#include "lockservice/client/internal/endpoints.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::lock::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ValidateEndpointTest, AcceptsHostPortAndBracketedIpv6) {
  EXPECT_EQ(*ValidateEndpoint(" 127.0.0.1:7400 "), "127.0.0.1:7400");
  EXPECT_EQ(*ValidateEndpoint("localhost:1"), "localhost:1");
  EXPECT_EQ(*ValidateEndpoint("[::1]:65535"), "[::1]:65535");
}

TEST(ValidateEndpointTest, RejectionsNameTheEndpointAndTheProblem) {
  struct Case {
    const char* input;
    const char* why;
  };
  for (const Case& c :
       {Case{"127.0.0.1", "missing port"}, Case{":7400", "missing host"},
        Case{"host:0", "not in 1..65535"},
        Case{"host:65536", "not in 1..65535"},
        Case{"host:12x", "not in 1..65535"}, Case{"http://host:1", "scheme"},
        Case{"::1:7400", "brackets"}, Case{"", "empty"}}) {
    absl::StatusOr<std::string> r = ValidateEndpoint(c.input);
    ASSERT_FALSE(r.ok()) << c.input;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(c.why)) << c.input;
    EXPECT_THAT(r.status().message(), HasSubstr(c.input));
  }
}

TEST(ParseEndpointListTest, SplitsTrimsAndDropsDuplicates) {
  absl::StatusOr<std::vector<std::string>> r =
      ParseEndpointList("a:1, b:2,,a:1 ,c:3");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ElementsAre("a:1", "b:2", "c:3"));
}

TEST(ParseEndpointListTest, EmptyAndBadEntriesFail) {
  EXPECT_THAT(ParseEndpointList(" , ").status().message(),
              HasSubstr("no lockd endpoints"));
  EXPECT_THAT(ParseEndpointList("a:1,b").status().message(),
              HasSubstr("\"b\""));
}

TEST(ParseLeaderHintTest, FindsIdAndAddressInsideMessage) {
  std::optional<LeaderHint> h =
      ParseLeaderHint("not the leader; leader=3@127.0.0.1:7402 (term 5)");
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->id, 3u);
  EXPECT_EQ(h->addr, "127.0.0.1:7402");
}

TEST(ParseLeaderHintTest, AddressAtEndOfMessage) {
  std::optional<LeaderHint> h = ParseLeaderHint("leader=12@node-b:7400");
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->id, 12u);
  EXPECT_EQ(h->addr, "node-b:7400");
}

TEST(ParseLeaderHintTest, UnknownLeaderIsAHintWithoutAddress) {
  for (const char* msg : {"no leader: leader=0@", "leader=0@ electing",
                          "leader=", "leader=7@garbage"}) {
    std::optional<LeaderHint> h = ParseLeaderHint(msg);
    ASSERT_TRUE(h.has_value()) << msg;
    EXPECT_EQ(h->id, 0u) << msg;
    EXPECT_TRUE(h->addr.empty()) << msg;
  }
}

TEST(ParseLeaderHintTest, MessagesWithoutTagHaveNoHint) {
  EXPECT_FALSE(ParseLeaderHint("").has_value());
  EXPECT_FALSE(ParseLeaderHint("connection refused").has_value());
  EXPECT_FALSE(ParseLeaderHint("stale fencing token 7").has_value());
}

TEST(PrefixRangeEndTest, IncrementsLastByte) {
  EXPECT_EQ(PrefixRangeEnd("/berth/a"), "/berth/b");
  EXPECT_EQ(PrefixRangeEnd("a/"), "a0");
}

TEST(PrefixRangeEndTest, CarriesOverTrailingFF) {
  EXPECT_EQ(PrefixRangeEnd(std::string("a\xff\xff", 3)), "b");
}

TEST(PrefixRangeEndTest, NoUpperBoundMeansWholeSpace) {
  EXPECT_EQ(PrefixRangeEnd(""), std::string(1, '\0'));
  EXPECT_EQ(PrefixRangeEnd(std::string("\xff\xff", 2)), std::string(1, '\0'));
}

// Every key with the prefix sorts below the end, and the end itself does
// not carry the prefix.
TEST(PrefixRangeEndTest, BoundsEveryKeyWithThePrefix) {
  for (std::string prefix :
       {std::string("job/"), std::string("x\xfe"), std::string("k\xff")}) {
    std::string end = PrefixRangeEnd(prefix);
    for (std::string suffix :
         {std::string(""), std::string("\xff\xff\xff"), std::string("zz")}) {
      EXPECT_LT(prefix + suffix, end) << prefix;
    }
    EXPECT_NE(end.substr(0, prefix.size()), prefix);
  }
}

}  // namespace
}  // namespace berth::lock::internal
