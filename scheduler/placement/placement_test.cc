#include "scheduler/placement/placement.h"

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::sched {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kGiB = int64_t{1} << 30;

jobpb::Node MakeNode(const std::string& name, int64_t cpu, int64_t mem,
                     std::map<std::string, std::string> labels = {}) {
  jobpb::Node n;
  n.set_name(name);
  n.mutable_capacity()->set_cpu_millicores(cpu);
  n.mutable_capacity()->set_memory_bytes(mem);
  for (const auto& [k, v] : labels) (*n.mutable_labels())[k] = v;
  return n;
}

PlacementRequest Req(int64_t cpu, int64_t mem, int32_t count = 1) {
  PlacementRequest r;
  r.job = "web";
  r.resources.set_cpu_millicores(cpu);
  r.resources.set_memory_bytes(mem);
  r.count = count;
  return r;
}

jobpb::Constraint C(const std::string& attr, jobpb::Constraint::Operator op,
                    std::vector<std::string> values = {}) {
  jobpb::Constraint c;
  c.set_attribute(attr);
  c.set_operator_(op);
  for (auto& v : values) c.add_values(v);
  return c;
}

std::vector<std::string> Nodes(const PlacementResult& r) {
  std::vector<std::string> out;
  for (const Placement& p : r.placements) out.push_back(p.node);
  return out;
}

TEST(PlaceTest, ResourceFilters) {
  struct Case {
    const char* name;
    jobpb::Node node;
    PlacementRequest req;
    const char* reason;  // "" = fits
  };
  jobpb::Node pids = MakeNode("n", 1000, kGiB);
  pids.mutable_capacity()->set_pids(100);
  pids.mutable_allocated()->set_pids(90);
  jobpb::Node used = MakeNode("n", 1000, kGiB);
  used.mutable_allocated()->set_cpu_millicores(900);
  PlacementRequest want_pids = Req(100, 1);
  want_pids.resources.set_pids(20);
  jobpb::Node unlimited_pids = MakeNode("n", 1000, kGiB);
  jobpb::Node two_ports = MakeNode("n", 1000, kGiB);
  two_ports.set_port_range_min(30000);
  two_ports.set_port_range_max(30002);
  jobpb::Node one_port_left = two_ports;
  one_port_left.add_used_ports(30000);
  one_port_left.add_used_ports(30000);  // duplicates count once
  one_port_left.add_used_ports(999);    // out of range: ignored
  PlacementRequest want_ports = Req(1, 1);
  want_ports.port_count = 2;
  const Case kCases[] = {
      {"fits", MakeNode("n", 1000, kGiB), Req(1000, kGiB), ""},
      {"cpu", MakeNode("n", 1000, kGiB), Req(1001, 1), "1 node lacked cpu"},
      {"memory", MakeNode("n", 1000, kGiB), Req(1, kGiB + 1),
       "1 node lacked memory"},
      {"allocated counts", used, Req(200, 1), "1 node lacked cpu"},
      {"pids", pids, want_pids, "1 node lacked pids"},
      {"unlimited pids", unlimited_pids, want_pids, ""},
      {"ports fit", two_ports, want_ports, ""},
      {"ports", one_port_left, want_ports, "1 node lacked free ports"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    ClusterSnapshot snap{{c.node}, {}};
    absl::StatusOr<PlacementResult> r = Place(snap, c.req);
    ASSERT_TRUE(r.ok()) << r.status();
    if (std::string(c.reason).empty()) {
      EXPECT_THAT(Nodes(*r), ElementsAre("n"));
      EXPECT_EQ(r->unplaced, 0);
      EXPECT_THAT(r->explanation, IsEmpty());
    } else {
      EXPECT_THAT(r->placements, IsEmpty());
      EXPECT_EQ(r->unplaced, 1);
      EXPECT_EQ(r->explanation, c.reason);
    }
  }
}

TEST(PlaceTest, ConstraintOperators) {
  using jobpb::Constraint;
  ClusterSnapshot snap{{MakeNode("a", 1000, kGiB, {{"zone", "a"}}),
                        MakeNode("b", 1000, kGiB, {{"zone", "b"}}),
                        MakeNode("c", 1000, kGiB, {{"gpu", "yes"}})},
                       {}};
  struct Case {
    Constraint c;
    std::vector<std::string> want;
  };
  const Case kCases[] = {
      {C("label.zone", Constraint::EQ, {"a"}), {"a"}},
      {C("label.zone", Constraint::NE, {"a"}), {"b", "c"}},
      {C("label.zone", Constraint::IN, {"a", "b"}), {"a", "b"}},
      {C("label.zone", Constraint::NOT_IN, {"b"}), {"a", "c"}},
      {C("label.gpu", Constraint::EXISTS), {"c"}},
      {C("node.name", Constraint::EQ, {"b"}), {"b"}},
      {C("node.name", Constraint::NOT_IN, {"a", "b"}), {"c"}},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.c.DebugString());
    PlacementRequest req = Req(1000, kGiB, 3);  // one per node at most
    req.constraints = {c.c};
    absl::StatusOr<PlacementResult> r = Place(snap, req);
    ASSERT_TRUE(r.ok()) << r.status();
    std::vector<std::string> got = Nodes(*r);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, c.want);
    EXPECT_EQ(r->unplaced, 3 - static_cast<int>(c.want.size()));
  }
}

TEST(PlaceTest, ExplanationCountsEveryReason) {
  std::vector<jobpb::Node> nodes;
  for (int i = 0; i < 3; ++i) {
    nodes.push_back(
        MakeNode("small" + std::to_string(i), 4000, kGiB / 4, {{"zone", "a"}}));
  }
  for (int i = 0; i < 2; ++i) {
    nodes.push_back(
        MakeNode("b" + std::to_string(i), 4000, 4 * kGiB, {{"zone", "b"}}));
  }
  nodes.push_back(MakeNode("drained", 4000, 4 * kGiB, {{"zone", "a"}}));
  nodes.back().set_draining(true);
  nodes.push_back(MakeNode("flaky", 4000, 4 * kGiB, {{"zone", "a"}}));
  PlacementRequest req = Req(100, kGiB);
  req.constraints = {C("label.zone", jobpb::Constraint::EQ, {"a"})};
  req.avoid_nodes = {"flaky"};
  absl::StatusOr<PlacementResult> r = Place({nodes, {}}, req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->unplaced, 1);
  EXPECT_EQ(r->explanation,
            "3 nodes lacked memory, 2 failed constraint label.zone = a, "
            "1 draining, 1 recently failed this job");
  EXPECT_EQ(r->reasons.at("lacked memory"), 3);
}

TEST(PlaceTest, ExplainsEmptyCluster) {
  absl::StatusOr<PlacementResult> r = Place({}, Req(1, 1));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->explanation, "no nodes in the cluster");
}

TEST(PlaceTest, SpreadPrefersFewestOfThisJobThenMostFree) {
  ClusterSnapshot snap{
      {MakeNode("a", 4000, 4 * kGiB), MakeNode("b", 4000, 4 * kGiB),
       MakeNode("c", 8000, 8 * kGiB)},
      {}};
  // "c" already runs one copy of web, so a and b come first; among them the
  // tie breaks by name. Then all have one copy and c has the most free
  // capacity; then c has two and a wins the name tie with b.
  jobpb::Allocation existing;
  existing.set_id("w0");
  existing.set_job("web");
  existing.set_namespace_("default");
  existing.set_node("c");
  snap.allocations.push_back(existing);
  absl::StatusOr<PlacementResult> r = Place(snap, Req(1000, kGiB, 4));
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Nodes(*r), ElementsAre("a", "b", "c", "a"));
}

TEST(PlaceTest, SpreadIgnoresOtherJobsAndNamespaces) {
  ClusterSnapshot snap{
      {MakeNode("a", 4000, 4 * kGiB), MakeNode("b", 4000, 4 * kGiB)}, {}};
  jobpb::Allocation other;
  other.set_id("x");
  other.set_job("web");
  other.set_namespace_("staging");
  other.set_node("a");
  snap.allocations.push_back(other);
  absl::StatusOr<PlacementResult> r = Place(snap, Req(1000, kGiB, 1));
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Nodes(*r), ElementsAre("a"));
}

TEST(PlaceTest, BinpackFillsMostUtilizedNodeFirst) {
  jobpb::Node busy = MakeNode("busy", 4000, 4 * kGiB);
  busy.mutable_allocated()->set_cpu_millicores(2000);
  busy.mutable_allocated()->set_memory_bytes(2 * kGiB);
  ClusterSnapshot snap{{MakeNode("empty", 4000, 4 * kGiB), busy}, {}};
  PlacementRequest req = Req(1000, kGiB, 3);
  req.mode = jobpb::BINPACK;
  absl::StatusOr<PlacementResult> r = Place(snap, req);
  ASSERT_TRUE(r.ok());
  // busy has room for two, then the rest goes to the empty node.
  EXPECT_THAT(Nodes(*r), ElementsAre("busy", "busy", "empty"));
}

TEST(PlaceTest, PlacesUntilFullThenExplains) {
  ClusterSnapshot snap{{MakeNode("a", 2000, 4 * kGiB)}, {}};
  absl::StatusOr<PlacementResult> r = Place(snap, Req(1000, kGiB, 3));
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Nodes(*r), ElementsAre("a", "a"));
  EXPECT_EQ(r->unplaced, 1);
  EXPECT_EQ(r->explanation, "1 node lacked cpu");
}

TEST(PlaceTest, AssignsLowestFreePortsAndNeverReuses) {
  jobpb::Node n = MakeNode("a", 4000, 4 * kGiB);
  n.set_port_range_min(100);
  n.set_port_range_max(106);
  n.add_used_ports(101);
  PlacementRequest req = Req(1, 1, 3);
  req.port_count = 2;
  absl::StatusOr<PlacementResult> r = Place({{n}, {}}, req);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->placements.size(), 2u);
  EXPECT_THAT(r->placements[0].ports, ElementsAre(100, 102));
  EXPECT_THAT(r->placements[1].ports, ElementsAre(103, 104));
  EXPECT_EQ(r->explanation, "1 node lacked free ports");
}

TEST(PlaceTest, DefaultPortRange) {
  PlacementRequest req = Req(1, 1);
  req.port_count = 1;
  absl::StatusOr<PlacementResult> r = Place({{MakeNode("a", 1, 1)}, {}}, req);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->placements[0].ports, ElementsAre(kDefaultPortRangeMin));
}

TEST(PlaceTest, DeterministicRegardlessOfSnapshotOrder) {
  std::vector<jobpb::Node> nodes;
  for (int i = 0; i < 50; ++i) {
    nodes.push_back(MakeNode("n" + std::to_string(i), 4000, 4 * kGiB,
                             {{"zone", std::to_string(i % 3)}}));
  }
  PlacementRequest req = Req(700, kGiB / 2, 120);
  absl::StatusOr<PlacementResult> first = Place({nodes, {}}, req);
  std::reverse(nodes.begin(), nodes.end());
  absl::StatusOr<PlacementResult> second = Place({nodes, {}}, req);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(Nodes(*first), Nodes(*second));
  EXPECT_EQ(first->placements.size(), 120u);
}

TEST(PlaceTest, RejectsMalformedRequests) {
  ClusterSnapshot dup{{MakeNode("a", 1, 1), MakeNode("a", 1, 1)}, {}};
  absl::StatusOr<PlacementResult> r = Place(dup, Req(1, 1));
  EXPECT_THAT(r.status().message(), HasSubstr("node \"a\" twice"));
  r = Place({}, Req(-1, 1));
  EXPECT_THAT(r.status().message(), HasSubstr("negative"));
  PlacementRequest bad = Req(1, 1);
  bad.constraints = {C("zone", jobpb::Constraint::EQ, {"a"})};
  r = Place({}, bad);
  EXPECT_THAT(r.status().message(), HasSubstr("\"zone\" is not label."));
  bad.constraints = {C("label.zone", jobpb::Constraint::EQ)};
  r = Place({}, bad);
  EXPECT_THAT(r.status().message(), HasSubstr("has 0 values"));
}

TEST(PlaceTest, ForJobCopiesTheJob) {
  jobpb::Job job;
  job.set_name("api");
  job.set_namespace_("prod");
  job.set_priority(70);
  job.set_placement(jobpb::BINPACK);
  job.mutable_task()->mutable_resources()->set_cpu_millicores(250);
  job.mutable_task()->add_ports()->set_name("http");
  *job.add_constraints() = C("label.zone", jobpb::Constraint::EXISTS);
  PlacementRequest r = PlacementRequest::ForJob(job, 4);
  EXPECT_EQ(r.job, "api");
  EXPECT_EQ(r.namespace_, "prod");
  EXPECT_EQ(r.priority, 70);
  EXPECT_EQ(r.mode, jobpb::BINPACK);
  EXPECT_EQ(r.resources.cpu_millicores(), 250);
  EXPECT_EQ(r.port_count, 1);
  EXPECT_EQ(r.constraints.size(), 1u);
  EXPECT_EQ(r.count, 4);
}

TEST(PlaceTest, AbsentLabelDiffersFromEmptyValue) {
  ClusterSnapshot snap{{MakeNode("empty", 1000, kGiB, {{"zone", ""}}),
                        MakeNode("none", 1000, kGiB)},
                       {}};
  PlacementRequest req = Req(1000, kGiB, 2);
  req.constraints = {C("label.zone", jobpb::Constraint::EXISTS)};
  absl::StatusOr<PlacementResult> r = Place(snap, req);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Nodes(*r), ElementsAre("empty"));
  // "empty" took the first allocation and is now full.
  EXPECT_EQ(r->explanation,
            "1 node failed constraint label.zone exists, 1 lacked cpu");
}

// Seeded random clusters: whatever Place picks must respect every filter.
TEST(PlaceTest, RandomClustersNeverViolateFilters) {
  std::mt19937 rng(20261126);
  for (int round = 0; round < 200; ++round) {
    SCOPED_TRACE(round);
    std::vector<jobpb::Node> nodes;
    int n_nodes = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < n_nodes; ++i) {
      jobpb::Node n = MakeNode("n" + std::to_string(i), 1000 + rng() % 8000,
                               kGiB + rng() % (8 * kGiB),
                               {{"zone", std::to_string(rng() % 3)}});
      n.mutable_allocated()->set_cpu_millicores(rng() % 1000);
      n.set_draining(rng() % 10 == 0);
      n.set_port_range_min(1000);
      n.set_port_range_max(1000 + static_cast<int32_t>(rng() % 6));
      if (rng() % 2) n.add_used_ports(1000);
      nodes.push_back(n);
    }
    PlacementRequest req = Req(100 + rng() % 2000, rng() % (2 * kGiB),
                               1 + static_cast<int32_t>(rng() % 40));
    req.mode = rng() % 2 ? jobpb::SPREAD : jobpb::BINPACK;
    req.port_count = static_cast<int32_t>(rng() % 3);
    req.constraints = {C("label.zone", jobpb::Constraint::NE, {"0"})};
    req.avoid_nodes = {"n1"};
    absl::StatusOr<PlacementResult> r = Place({nodes, {}}, req);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->placements.size() + r->unplaced, size_t(req.count));
    EXPECT_EQ(r->unplaced > 0, !r->explanation.empty());
    std::map<std::string, int64_t> cpu, mem;
    std::map<std::string, std::set<int32_t>> ports;
    for (const Placement& p : r->placements) {
      const jobpb::Node* node = nullptr;
      for (const jobpb::Node& n : nodes) {
        if (n.name() == p.node) node = &n;
      }
      ASSERT_NE(node, nullptr);
      EXPECT_FALSE(node->draining());
      EXPECT_NE(node->name(), "n1");
      EXPECT_NE(node->labels().at("zone"), "0");
      cpu[p.node] += req.resources.cpu_millicores();
      mem[p.node] += req.resources.memory_bytes();
      EXPECT_LE(cpu[p.node] + node->allocated().cpu_millicores(),
                node->capacity().cpu_millicores());
      EXPECT_LE(mem[p.node], node->capacity().memory_bytes());
      EXPECT_EQ(p.ports.size(), size_t(req.port_count));
      for (int32_t port : p.ports) {
        EXPECT_GE(port, node->port_range_min());
        EXPECT_LT(port, node->port_range_max());
        EXPECT_FALSE(node->used_ports_size() > 0 &&
                     port == node->used_ports(0));
        EXPECT_TRUE(ports[p.node].insert(port).second) << "port reused";
      }
    }
  }
}

}  // namespace
}  // namespace berth::sched
