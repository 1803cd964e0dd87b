// Ranges at a past revision (past_range.h), through the state machine.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lockservice/server/sm_test_util.h"

namespace berth::lock::testing {
namespace {

class PastRangeTest : public SmTest {
 protected:
  lockpb::RangeResponse RangeAt(int64_t rev, std::string key,
                                std::string end = "", int64_t limit = 0) {
    lockpb::RangeRequest req;
    req.set_key(std::move(key));
    req.set_range_end(std::move(end));
    req.set_revision(rev);
    req.set_limit(limit);
    absl::StatusOr<lockpb::RangeResponse> r = sm_->Range(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : lockpb::RangeResponse();
  }
  static std::string Dump(const lockpb::RangeResponse& r) {
    std::string s;
    for (const auto& kv : r.kvs()) {
      s += kv.key() + "=" + kv.value() + "@" +
           std::to_string(kv.mod_revision()) + "/v" +
           std::to_string(kv.version()) + " ";
    }
    return s;
  }
};

TEST_F(PastRangeTest, UndoesPutsAndDeletesAfterTheRevision) {
  Ok(PutCmd("/p/a", "1"));
  Ok(PutCmd("/p/b", "1"));
  int64_t r1 = sm_->revision();
  Ok(PutCmd("/p/a", "2"));  // replaced
  Ok(DeleteCmd("/p/b"));    // deleted
  Ok(PutCmd("/p/c", "1"));  // created
  int64_t r2 = sm_->revision();

  lockpb::RangeResponse past = RangeAt(r1, "/p/", "/p0");
  EXPECT_EQ(Dump(past), "/p/a=1@" + std::to_string(r1 - 1) + "/v1 /p/b=1@" +
                            std::to_string(r1) + "/v1 ");
  EXPECT_EQ(past.count(), 2);
  EXPECT_EQ(past.header().revision(), r2);
  // The same revision read "now" and "in the past" agree.
  EXPECT_EQ(Dump(RangeAt(r2 - 1, "/p/", "/p0")),
            "/p/a=2@" + std::to_string(r2 - 2) + "/v2 ");
  EXPECT_EQ(Dump(RangeAt(r1, "/p/b")), "/p/b=1@" + std::to_string(r1) + "/v1 ");
}

TEST_F(PastRangeTest, AppliesLimitAfterRebuilding) {
  Ok(PutCmd("/q/a", "1"));
  Ok(PutCmd("/q/b", "1"));
  int64_t r1 = sm_->revision();
  Ok(DeleteCmd("/q/", "/q0"));
  lockpb::RangeResponse past = RangeAt(r1, "/q/", "/q0", 1);
  ASSERT_EQ(past.kvs_size(), 1);
  EXPECT_EQ(past.kvs(0).key(), "/q/a");
  EXPECT_TRUE(past.more());
  EXPECT_EQ(past.count(), 2);
}

TEST_F(PastRangeTest, CompactedRevisionIsStillAnError) {
  Ok(PutCmd("/c/a", "1"));
  int64_t r1 = sm_->revision();
  Ok(PutCmd("/c/a", "2"));
  Ok(PutCmd("/c/a", "3"));
  Ok(CompactCmd(sm_->revision()));
  lockpb::RangeRequest req;
  req.set_key("/c/a");
  req.set_revision(r1);
  absl::StatusOr<lockpb::RangeResponse> r = sm_->Range(req);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsHistoryCompacted(r.status())) << r.status();
}

}  // namespace
}  // namespace berth::lock::testing
