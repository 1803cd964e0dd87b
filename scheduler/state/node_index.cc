#include "scheduler/state/node_index.h"

#include <algorithm>

namespace berth::sched {
namespace {

constexpr int64_t kPpm = 1000000;

int64_t Ppm(int64_t part, int64_t whole) {
  return whole > 0
             ? static_cast<int64_t>(static_cast<__int128>(part) * kPpm / whole)
             : 0;
}

}  // namespace

jobpb::Node NodeFromInfo(const agentpb::NodeInfo& info, bool draining) {
  jobpb::Node n;
  n.set_name(info.name());
  n.set_address(info.address());
  n.mutable_capacity()->set_cpu_millicores(info.cpu_millicores());
  n.mutable_capacity()->set_memory_bytes(info.memory_bytes());
  n.mutable_capacity()->set_pids(info.pids());
  for (const auto& [k, v] : info.labels()) (*n.mutable_labels())[k] = v;
  n.set_draining(draining);
  return n;
}

void ChargeNode(jobpb::Node* n, const jobpb::Allocation& a, int sign) {
  jobpb::Resources* r = n->mutable_allocated();
  r->set_cpu_millicores(r->cpu_millicores() +
                        sign * a.resources().cpu_millicores());
  r->set_memory_bytes(r->memory_bytes() + sign * a.resources().memory_bytes());
  r->set_pids(r->pids() + sign * a.resources().pids());
  for (const auto& p : a.ports()) {
    if (sign > 0) {
      n->add_used_ports(p.port());
    } else {
      auto* used = n->mutable_used_ports();
      auto it = std::find(used->begin(), used->end(), p.port());
      if (it != used->end()) used->erase(it);
    }
  }
}

int64_t NodeIndex::Utilization(const jobpb::Node& n) const {
  return Ppm(n.allocated().cpu_millicores(), n.capacity().cpu_millicores()) +
         Ppm(n.allocated().memory_bytes(), n.capacity().memory_bytes());
}

void NodeIndex::Unrank(const Entry& e) {
  if (e.registered) by_util_.erase({-Utilization(e.node), e.node.name()});
}

void NodeIndex::Rank(const Entry& e) {
  if (e.registered) {
    by_util_[{-Utilization(e.node), e.node.name()}] = &e.node;
  }
}

void NodeIndex::DropIfUnused(std::map<std::string, Entry>::iterator it) {
  if (!it->second.registered && it->second.allocs.empty()) entries_.erase(it);
}

void NodeIndex::PutNode(const agentpb::NodeInfo& info) {
  Entry& e = entries_[info.name()];
  Unrank(e);
  jobpb::Node n = NodeFromInfo(info, draining_.count(info.name()) > 0);
  // Keep what is charged here; the registration only brings capacity,
  // labels and address.
  *n.mutable_allocated() = e.node.allocated();
  *n.mutable_used_ports() = e.node.used_ports();
  e.node = std::move(n);
  if (!e.registered) ++registered_;
  e.registered = true;
  Rank(e);
}

void NodeIndex::RemoveNode(const std::string& name) {
  auto it = entries_.find(name);
  if (it == entries_.end() || !it->second.registered) return;
  Unrank(it->second);
  it->second.registered = false;
  --registered_;
  DropIfUnused(it);
}

void NodeIndex::SetDraining(const std::string& name, bool draining) {
  if (draining) {
    draining_.insert(name);
  } else {
    draining_.erase(name);
  }
  auto it = entries_.find(name);
  if (it != entries_.end()) it->second.node.set_draining(draining);
}

void NodeIndex::Charge(const std::string& id, const jobpb::Allocation& a) {
  if (!HoldsResources(a)) return;
  Entry& e = entries_[a.node()];
  if (!e.allocs.insert(id).second) return;
  if (e.node.name().empty()) e.node.set_name(a.node());
  Unrank(e);
  ChargeNode(&e.node, a, +1);
  Rank(e);
}

bool NodeIndex::Release(const std::string& id, const jobpb::Allocation& a) {
  if (!HoldsResources(a)) return false;
  auto it = entries_.find(a.node());
  if (it == entries_.end() || it->second.allocs.erase(id) == 0) return false;
  Unrank(it->second);
  ChargeNode(&it->second.node, a, -1);
  Rank(it->second);
  DropIfUnused(it);
  return true;
}

std::vector<const jobpb::Node*> NodeIndex::ByUtilization() const {
  std::vector<const jobpb::Node*> out;
  out.reserve(by_util_.size());
  for (const auto& [key, node] : by_util_) out.push_back(node);
  return out;
}

const NodeIndex::Entry* NodeIndex::Find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace berth::sched
