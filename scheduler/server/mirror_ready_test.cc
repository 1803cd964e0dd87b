// A scheduler that has not loaded its mirror from lockd must not answer
// reads from an empty state: an empty job list or "job does not exist"
// would be a wrong answer, where Unavailable makes the CLI ask the next
// scheduler.
#include <memory>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "scheduler/server/scheduler.h"

namespace berth::sched {
namespace {

TEST(MirrorReadyTest, ReadsAreUnavailableUntilTheMirrorIsLoaded) {
  SchedulerOptions o;
  o.id = "s-unloaded";
  o.advertise_address = "127.0.0.1:1";
  // Port 1 refuses connections, so the mirror can never load.
  o.lock_endpoints = {"127.0.0.1:1"};
  absl::StatusOr<std::unique_ptr<Scheduler>> s = Scheduler::Create(o);
  ASSERT_TRUE(s.ok()) << s.status();

  auto expect_loading = [](const absl::Status& st) {
    EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
    EXPECT_NE(st.message().find("still loading"), std::string::npos) << st;
  };
  expect_loading((*s)->ListJobs("").status());
  expect_loading((*s)->ListNodes().status());
  expect_loading((*s)->JobStatus("default", "web").status());
  expect_loading((*s)->JobHistory("default", "web").status());
}

}  // namespace
}  // namespace berth::sched
