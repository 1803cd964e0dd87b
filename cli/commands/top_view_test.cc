#include "cli/commands/top_view.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

constexpr int64_t kMiB = 1 << 20;

schedpb::AllocationView* AddTask(schedpb::NodeView* n, const std::string& id,
                                 int64_t cpu_m, int64_t mem, int64_t limit) {
  schedpb::AllocationView* v = n->add_allocs();
  v->mutable_alloc()->set_id(id);
  v->mutable_alloc()->set_job("web");
  v->mutable_alloc()->set_namespace_("default");
  v->mutable_alloc()->set_node(n->info().name());
  v->mutable_alloc()->set_desired_state(jobpb::Allocation::RUN);
  v->mutable_alloc()->mutable_resources()->set_memory_bytes(limit);
  v->mutable_status()->set_state(agentpb::RUNNING);
  v->mutable_status()->set_healthy(true);
  v->mutable_status()->mutable_usage()->set_cpu_millicores(cpu_m);
  v->mutable_status()->mutable_usage()->set_memory_bytes(mem);
  v->mutable_status()->mutable_usage()->set_pids(3);
  n->set_allocations(n->allocations() + 1);
  return v;
}

schedpb::ListNodesResponse TwoNodes() {
  schedpb::ListNodesResponse r;
  schedpb::NodeView* a = r.add_nodes();
  a->mutable_info()->set_name("n1");
  a->mutable_info()->set_cpu_millicores(4000);
  a->mutable_info()->set_memory_bytes(4096 * kMiB);
  a->mutable_allocated()->set_cpu_millicores(300);
  a->mutable_allocated()->set_memory_bytes(192 * kMiB);
  AddTask(a, "busy", 900, 10 * kMiB, 64 * kMiB);
  AddTask(a, "fat", 100, 50 * kMiB, 128 * kMiB);
  schedpb::NodeView* b = r.add_nodes();
  b->mutable_info()->set_name("n2");
  b->mutable_info()->set_cpu_millicores(2000);
  b->mutable_info()->set_memory_bytes(1024 * kMiB);
  b->set_draining(true);
  schedpb::AllocationView* gone = AddTask(b, "exited", 500, 99 * kMiB, 0);
  gone->mutable_status()->set_state(agentpb::EXITED);
  return r;
}

// The table lines after the header whose first column is a task id.
std::vector<std::string> TaskLines(const std::string& text) {
  std::vector<std::string> out;
  for (absl::string_view l : absl::StrSplit(text, '\n')) {
    for (const char* id : {"busy ", "fat ", "exited "}) {
      if (absl::StartsWith(l, id)) out.emplace_back(l);
    }
  }
  return out;
}

TEST(TopView, NodesShowUsedOverCapacityAndState) {
  std::string text = RenderTop(TwoNodes(), TopSort::kCpu, absl::UnixEpoch());
  EXPECT_TRUE(absl::StrContains(text, "2 nodes, 3 tasks, sorted by cpu"));
  // n1: 900m + 100m of 4000m, 60 MiB of 4 GiB used; 300m/192MiB reserved.
  EXPECT_TRUE(absl::StrContains(text, "1000m/4000m")) << text;
  EXPECT_TRUE(absl::StrContains(text, "60.0MiB/4.0GiB")) << text;
  EXPECT_TRUE(absl::StrContains(text, "300m/192.0MiB")) << text;
  // n2 is draining, and an exited task's last sample is not counted.
  EXPECT_TRUE(absl::StrContains(text, "draining")) << text;
  EXPECT_TRUE(absl::StrContains(text, "0m/2000m")) << text;
}

TEST(TopView, TasksSortByCpuOrMemoryBusiestFirst) {
  std::vector<std::string> cpu =
      TaskLines(RenderTop(TwoNodes(), TopSort::kCpu, absl::UnixEpoch()));
  ASSERT_EQ(cpu.size(), 3u);
  EXPECT_TRUE(absl::StartsWith(cpu[0], "busy "));
  EXPECT_TRUE(absl::StrContains(cpu[0], "90.0%"));
  EXPECT_TRUE(absl::StrContains(cpu[0], "10.0MiB/64.0MiB"));
  EXPECT_TRUE(absl::StartsWith(cpu[1], "fat "));
  EXPECT_TRUE(absl::StartsWith(cpu[2], "exited "));
  EXPECT_TRUE(absl::StrContains(cpu[2], "0B/-")) << cpu[2];

  std::vector<std::string> mem =
      TaskLines(RenderTop(TwoNodes(), TopSort::kMem, absl::UnixEpoch()));
  ASSERT_EQ(mem.size(), 3u);
  EXPECT_TRUE(absl::StartsWith(mem[0], "fat "));
  EXPECT_TRUE(absl::StartsWith(mem[1], "busy "));
}

TEST(TopView, FormatsBytes) {
  EXPECT_EQ(FormatBytes(0), "0B");
  EXPECT_EQ(FormatBytes(512 * 1024), "512KiB");
  EXPECT_EQ(FormatBytes(3 * kMiB / 2), "1.5MiB");
  EXPECT_EQ(FormatBytes(int64_t{3} << 30), "3.0GiB");
}

}  // namespace
}  // namespace berth::cli
