// Placement at cluster scale: 10,000 nodes in 10 zones with uneven load.
//   placement_bench --benchmark_filter=Place
#include <string>

#include "benchmark/benchmark.h"
#include "scheduler/placement/placement.h"

namespace berth::sched {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

const ClusterSnapshot& Cluster() {
  static const ClusterSnapshot* snap = [] {
    auto* s = new ClusterSnapshot;
    for (int i = 0; i < 10000; ++i) {
      jobpb::Node n;
      n.set_name("node-" + std::to_string(i));
      n.mutable_capacity()->set_cpu_millicores(16000);
      n.mutable_capacity()->set_memory_bytes(64 * kGiB);
      n.mutable_capacity()->set_pids(4096);
      // Deterministic, uneven load so scores differ between nodes.
      int load = (i * 7919) % 100;
      n.mutable_allocated()->set_cpu_millicores(160 * load);
      n.mutable_allocated()->set_memory_bytes(load * 64 * kGiB / 100);
      (*n.mutable_labels())["zone"] = "z" + std::to_string(i % 10);
      (*n.mutable_labels())["class"] = i % 4 == 0 ? "gpu" : "general";
      n.set_draining(i % 97 == 0);
      for (int p = 0; p < load % 8; ++p) n.add_used_ports(20000 + p);
      s->nodes.push_back(std::move(n));
      if (i % 2 == 0) {
        jobpb::Allocation a;
        a.set_id("web-" + std::to_string(i));
        a.set_job("web");
        a.set_namespace_("default");
        a.set_node(s->nodes.back().name());
        a.set_priority(50);
        s->allocations.push_back(std::move(a));
      }
    }
    return s;
  }();
  return *snap;
}

void Run(benchmark::State& state, jobpb::PlacementMode mode, bool constrained) {
  const ClusterSnapshot& snap = Cluster();
  PlacementRequest req;
  req.job = "web";
  req.mode = mode;
  req.priority = 50;
  req.resources.set_cpu_millicores(500);
  req.resources.set_memory_bytes(kGiB);
  req.resources.set_pids(64);
  req.port_count = 1;
  req.count = static_cast<int32_t>(state.range(0));
  if (constrained) {
    jobpb::Constraint c;
    c.set_attribute("label.zone");
    c.set_operator_(jobpb::Constraint::IN);
    c.add_values("z1");
    c.add_values("z2");
    req.constraints.push_back(c);
  }
  int64_t placed = 0;
  for (auto _ : state) {
    absl::StatusOr<PlacementResult> r = Place(snap, req);
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
    placed = static_cast<int64_t>(r->placements.size());
    benchmark::DoNotOptimize(r);
  }
  state.counters["placed"] = static_cast<double>(placed);
}

void BM_PlaceSpread(benchmark::State& s) { Run(s, jobpb::SPREAD, false); }
void BM_PlaceBinpack(benchmark::State& s) { Run(s, jobpb::BINPACK, false); }
void BM_PlaceSpreadConstrained(benchmark::State& s) {
  Run(s, jobpb::SPREAD, true);
}

BENCHMARK(BM_PlaceSpread)
    ->Arg(1)
    ->Arg(100)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlaceBinpack)
    ->Arg(1)
    ->Arg(100)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlaceSpreadConstrained)
    ->Arg(1)
    ->Arg(100)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace berth::sched
