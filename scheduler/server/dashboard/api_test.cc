#include "scheduler/server/dashboard/api.h"

#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace berth::sched::dashboard {
namespace {

using metrics::HttpRequest;
using metrics::HttpResponse;
using testing::HasSubstr;
using testing::Not;

class FakeSource final : public DashboardSource {
 public:
  std::string SelfId() override { return "s2"; }
  schedpb::LeaderResponse Leader() override { return leader; }
  absl::StatusOr<schedpb::ListJobsResponse> ListJobs() override {
    if (!ready) return absl::UnavailableError("mirror not loaded yet");
    return jobs;
  }
  absl::StatusOr<schedpb::JobStatusResponse> JobStatus(
      const std::string& ns, const std::string& job) override {
    asked_ns = ns;
    if (job != "web") return absl::NotFoundError("job " + job + " missing");
    return status;
  }
  absl::StatusOr<schedpb::JobHistoryResponse> JobHistory(
      const std::string& ns, const std::string& job) override {
    asked_ns = ns;
    return history;
  }
  absl::StatusOr<schedpb::ListNodesResponse> ListNodes() override {
    return nodes;
  }
  absl::StatusOr<lock::ClusterStatus> LockCluster() override { return cluster; }
  absl::StatusOr<LogTail> Logs(const schedpb::AllocLogsRequest& req) override {
    logs_req = req;
    return tail;
  }

  bool ready = true;
  schedpb::LeaderResponse leader;
  schedpb::ListJobsResponse jobs;
  schedpb::JobStatusResponse status;
  schedpb::JobHistoryResponse history;
  schedpb::ListNodesResponse nodes;
  absl::StatusOr<lock::ClusterStatus> cluster = lock::ClusterStatus{};
  LogTail tail;
  std::string asked_ns;
  schedpb::AllocLogsRequest logs_req;
};

HttpResponse Get(FakeSource& src, const std::string& path,
                 std::map<std::string, std::string> query = {}) {
  HttpRequest req;
  req.path = path;
  req.query = std::move(query);
  return HandleRequest(src, req);
}

TEST(DashboardApi, ServesThePageAndItsScripts) {
  FakeSource src;
  HttpResponse page = Get(src, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_THAT(page.content_type, HasSubstr("text/html"));
  EXPECT_THAT(page.body, HasSubstr("app.js"));
  HttpResponse js = Get(src, "/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_THAT(js.content_type, HasSubstr("javascript"));
  EXPECT_THAT(js.body, HasSubstr("/api/jobs"));
  EXPECT_EQ(Get(src, "/style.css").status, 200);
  EXPECT_EQ(Get(src, "/nope.html").status, 404);
}

TEST(DashboardApi, JobsListsStateAndCounts) {
  FakeSource src;
  schedpb::JobSummary* j = src.jobs.add_jobs();
  j->set_namespace_("default");
  j->set_name("web");
  j->mutable_status()->set_state(jobpb::JobStatus::RUNNING);
  j->mutable_status()->set_running(3);
  HttpResponse r = Get(src, "/api/jobs");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_THAT(r.body, HasSubstr("\"name\":\"web\""));
  EXPECT_THAT(r.body, HasSubstr("\"state\":\"RUNNING\""));
  EXPECT_THAT(r.body, HasSubstr("\"running\":3"));
  // Zero counts are present, so the page need not guess.
  EXPECT_THAT(r.body, HasSubstr("\"failed\":0"));
}

TEST(DashboardApi, UnreadyMirrorIs503) {
  FakeSource src;
  src.ready = false;
  HttpResponse r = Get(src, "/api/jobs");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("\"code\":\"UNAVAILABLE\""));
  EXPECT_THAT(r.body, HasSubstr("mirror not loaded yet"));
}

TEST(DashboardApi, JobDetailTakesANamespaceAndMapsNotFound) {
  FakeSource src;
  jobpb::Allocation* a = src.status.add_allocations()->mutable_alloc();
  a->set_id("a1");
  a->set_pending_reason("no node has 64000m cpu");
  src.status.mutable_record()->mutable_status()->set_explanation(
      "1 unplaced: no node has 64000m cpu");
  HttpResponse r = Get(src, "/api/jobs/web", {{"namespace", "team"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(src.asked_ns, "team");
  EXPECT_THAT(r.body, HasSubstr("\"pending_reason\":\"no node has 64000m"));
  EXPECT_THAT(r.body, HasSubstr("\"explanation\":\"1 unplaced"));

  Get(src, "/api/jobs/web");
  EXPECT_EQ(src.asked_ns, "default");
  HttpResponse missing = Get(src, "/api/jobs/db");
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr("job db missing"));
}

TEST(DashboardApi, CronHistoryAndNodes) {
  FakeSource src;
  src.history.add_runs()->set_alloc_id("nightly-r1");
  src.nodes.add_nodes()->mutable_info()->set_name("n1");
  EXPECT_THAT(Get(src, "/api/jobs/nightly/cron").body,
              HasSubstr("\"alloc_id\":\"nightly-r1\""));
  EXPECT_THAT(Get(src, "/api/nodes").body, HasSubstr("\"name\":\"n1\""));
}

TEST(DashboardApi, ClusterNamesTheLeaderFromAStandby) {
  FakeSource src;
  src.leader.set_id("s1");
  src.leader.set_address("127.0.0.1:7500");
  lock::ClusterStatus cs;
  cs.leader_id = 2;
  cs.raft_term = 7;
  cs.members = {{1, "l1", "127.0.0.1:7401", false},
                {2, "l2", "127.0.0.1:7402", false}};
  src.cluster = cs;
  HttpResponse r = Get(src, "/api/cluster");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("\"role\":\"standby\""));
  EXPECT_THAT(r.body, HasSubstr("\"self\":\"s2\""));
  EXPECT_THAT(r.body, HasSubstr("\"leader_address\":\"127.0.0.1:7500\""));
  EXPECT_THAT(r.body, HasSubstr("\"raft_term\":7"));
  google::protobuf::Value v;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &v).ok());
  const auto& members = v.struct_value()
                            .fields()
                            .at("lockd")
                            .struct_value()
                            .fields()
                            .at("members")
                            .list_value();
  ASSERT_EQ(members.values_size(), 2);
  for (const auto& m : members.values()) {
    const auto& f = m.struct_value().fields();
    EXPECT_EQ(f.at("leader").bool_value(), f.at("name").string_value() == "l2");
  }

  src.leader.set_is_self(true);
  EXPECT_THAT(Get(src, "/api/cluster").body, HasSubstr("\"role\":\"leader\""));
  // lockd unreachable: the scheduler part still answers.
  src.cluster = absl::UnavailableError("no lockd replica answers");
  r = Get(src, "/api/cluster");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("no lockd replica answers"));
}

TEST(DashboardApi, LogsBoundTheTailAndKeepTheJsonValid) {
  FakeSource src;
  src.tail.alloc_id = "a1";
  src.tail.node = "n1";
  src.tail.text = "hello\n\xff\n";
  HttpResponse r = Get(src, "/api/allocs/a1/logs", {{"tail", "5000"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(src.logs_req.alloc_id(), "a1");
  EXPECT_EQ(src.logs_req.tail_lines(), 1000);
  EXPECT_FALSE(src.logs_req.follow());
  EXPECT_THAT(r.body, HasSubstr("\"text\":\"hello\\n\xef\xbf\xbd\\n\""));

  Get(src, "/api/allocs/a1/logs", {{"stream", "stderr"}});
  EXPECT_EQ(src.logs_req.stream(), agentpb::STDERR);
  EXPECT_EQ(src.logs_req.tail_lines(), 100);
  EXPECT_EQ(Get(src, "/api/allocs/a1/logs", {{"tail", "-1"}}).status, 400);
  EXPECT_EQ(Get(src, "/api/allocs/a1/logs", {{"stream", "x"}}).status, 400);
}

TEST(DashboardApi, UnknownApiIs404Json) {
  FakeSource src;
  HttpResponse r = Get(src, "/api/bogus");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_THAT(r.body, Not(HasSubstr("<html")));
}

}  // namespace
}  // namespace berth::sched::dashboard
