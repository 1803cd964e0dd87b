// Test fixture and command builders shared by the state machine tests.
#ifndef BERTH_LOCKSERVICE_SERVER_SM_TEST_UTIL_H_
#define BERTH_LOCKSERVICE_SERVER_SM_TEST_UTIL_H_

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "lockservice/server/state_machine.h"

namespace berth::lock::testing {

inline lockpb::Command PutCmd(std::string key, std::string value,
                              int64_t lease = 0) {
  lockpb::Command c;
  c.mutable_put()->set_key(std::move(key));
  c.mutable_put()->set_value(std::move(value));
  c.mutable_put()->set_lease(lease);
  c.mutable_put()->set_prev_kv(true);
  return c;
}

inline lockpb::Command DeleteCmd(std::string key, std::string range_end = "") {
  lockpb::Command c;
  c.mutable_delete_range()->set_key(std::move(key));
  c.mutable_delete_range()->set_range_end(std::move(range_end));
  c.mutable_delete_range()->set_prev_kv(true);
  return c;
}

inline lockpb::Command GrantCmd(int64_t ttl_ms, int64_t id = 0) {
  lockpb::Command c;
  c.mutable_lease_grant()->set_ttl_ms(ttl_ms);
  c.mutable_lease_grant()->set_id(id);
  return c;
}

inline lockpb::Command RevokeCmd(int64_t id) {
  lockpb::Command c;
  c.mutable_lease_revoke()->set_id(id);
  return c;
}

inline lockpb::Command KeepAliveCmd(int64_t id) {
  lockpb::Command c;
  c.mutable_lease_keepalive()->set_id(id);
  return c;
}

inline lockpb::Command ExpireCmd(int64_t id) {
  lockpb::Command c;
  c.mutable_lease_expire()->set_id(id);
  return c;
}

inline lockpb::Command AcquireCmd(std::string name, int64_t lease,
                                  std::string value = "", bool try_only = false,
                                  int64_t wait_deadline_ms = 0,
                                  std::optional<int64_t> delay_ms = 0) {
  lockpb::Command c;
  lockpb::LockAcquireCmd* a = c.mutable_lock_acquire();
  a->set_name(std::move(name));
  a->set_lease(lease);
  a->set_value(std::move(value));
  a->set_try_only(try_only);
  a->set_wait_deadline_ms(wait_deadline_ms);
  if (delay_ms) a->set_lock_delay_ms(*delay_ms);
  return c;
}

inline lockpb::Command ReleaseCmd(std::string name, int64_t token) {
  lockpb::Command c;
  c.mutable_lock_release()->set_name(std::move(name));
  c.mutable_lock_release()->set_token(token);
  return c;
}

inline lockpb::Command CancelCmd(std::string name, int64_t lease) {
  lockpb::Command c;
  c.mutable_lock_cancel()->set_name(std::move(name));
  c.mutable_lock_cancel()->set_lease(lease);
  return c;
}

inline lockpb::Command TickCmd() {
  lockpb::Command c;
  c.mutable_lock_delay_tick();
  return c;
}

inline lockpb::Command ProclaimCmd(std::string name, int64_t token,
                                   std::string value) {
  lockpb::Command c;
  c.mutable_proclaim()->set_name(std::move(name));
  c.mutable_proclaim()->set_token(token);
  c.mutable_proclaim()->set_value(std::move(value));
  return c;
}

inline lockpb::Command CompactCmd(int64_t revision) {
  lockpb::Command c;
  c.mutable_compact()->set_revision(revision);
  return c;
}

// A state machine in a fresh temporary SQLite file, driven with a simulated
// leader clock (`now_ms`) and consecutive log indexes.
class SmTest : public ::testing::Test {
 protected:
  static constexpr int64_t kStart = 1'700'000'000'000;

  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           (std::string("berth_sm_") + info->test_suite_name() + "_" +
            info->name() + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    sm_ = OpenAt("replica.db");
  }
  void TearDown() override {
    sm_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<StateMachine> OpenAt(const std::string& file,
                                       Limits limits = Limits()) {
    StateMachine::Options opts;
    opts.path = (dir_ / file).string();
    opts.limits = limits;
    absl::StatusOr<std::unique_ptr<StateMachine>> sm = StateMachine::Open(opts);
    EXPECT_TRUE(sm.ok()) << sm.status();
    return sm.ok() ? *std::move(sm) : nullptr;
  }

  // Applies `cmd` at the next index, stamped with now_ms. Storage failures
  // fail the test; rejections are returned in ApplyResult::status.
  ApplyResult Do(lockpb::Command cmd, StateMachine* sm = nullptr) {
    if (sm == nullptr) sm = sm_.get();
    cmd.set_leader_time_unix_ms(now_ms);
    cmd.set_request_id(sm->applied_index() + 1);
    absl::StatusOr<ApplyResult> r = sm->Apply(sm->applied_index() + 1, cmd);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : ApplyResult();
  }

  // Do() that must succeed.
  ApplyResult Ok(lockpb::Command cmd) {
    ApplyResult r = Do(std::move(cmd));
    EXPECT_TRUE(r.status.ok()) << r.status;
    return r;
  }

  int64_t NewLease(int64_t ttl_ms = 10'000) {
    return Ok(GrantCmd(ttl_ms)).result.lease().id();
  }

  std::optional<lockpb::KeyValue> Get(const std::string& key) {
    lockpb::RangeRequest req;
    req.set_key(key);
    absl::StatusOr<lockpb::RangeResponse> r = sm_->Range(req);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || r->kvs().empty()) return std::nullopt;
    return r->kvs(0);
  }

  std::filesystem::path dir_;
  std::unique_ptr<StateMachine> sm_;
  int64_t now_ms = kStart;
};

}  // namespace berth::lock::testing

#endif  // BERTH_LOCKSERVICE_SERVER_SM_TEST_UTIL_H_
