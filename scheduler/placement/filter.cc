#include "scheduler/placement/filter.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::sched::placement_internal {
namespace {

using jobpb::Constraint;

// (present, value) of a constraint attribute on a node.
std::pair<bool, std::string_view> Attribute(const jobpb::Node& node,
                                            const std::string& attribute) {
  if (attribute == "node.name") return {true, node.name()};
  auto it = node.labels().find(attribute.substr(6));  // after "label."
  if (it == node.labels().end()) return {false, {}};
  return {true, it->second};
}

bool Matches(const Constraint& c, const jobpb::Node& node) {
  auto [present, value] = Attribute(node, c.attribute());
  auto in_values = [&] {
    return std::find(c.values().begin(), c.values().end(), value) !=
           c.values().end();
  };
  switch (c.operator_()) {
    case Constraint::EQ:
      return present && value == c.values(0);
    case Constraint::NE:
      return !present || value != c.values(0);
    case Constraint::IN:
      return present && in_values();
    case Constraint::NOT_IN:
      return !present || !in_values();
    case Constraint::EXISTS:
      return present;
    default:
      return false;
  }
}

void MaterializePorts(NodeState& n) {
  if (n.used_ports.has_value()) return;
  n.used_ports.emplace();
  for (int32_t p : n.node->used_ports()) {
    if (p >= n.port_min && p < n.port_max) n.used_ports->insert(p);
  }
}

}  // namespace

NodeState MakeNodeState(const jobpb::Node& node) {
  NodeState n;
  n.node = &node;
  n.free_cpu =
      node.capacity().cpu_millicores() - node.allocated().cpu_millicores();
  n.free_memory =
      node.capacity().memory_bytes() - node.allocated().memory_bytes();
  n.pids_limited = node.capacity().pids() > 0;
  n.free_pids = node.capacity().pids() - node.allocated().pids();
  n.port_min =
      node.port_range_max() > 0 ? node.port_range_min() : kDefaultPortRangeMin;
  n.port_max =
      node.port_range_max() > 0 ? node.port_range_max() : kDefaultPortRangeMax;
  n.free_ports = std::max(0, n.port_max - n.port_min);
  const auto& used = node.used_ports();
  if (used.size() <= 32) {
    // Few ports (the common case): count distinct ones without allocating.
    for (int k = 0; k < used.size(); ++k) {
      int32_t p = used[k];
      bool seen =
          std::find(used.begin(), used.begin() + k, p) != used.begin() + k;
      if (!seen && p >= n.port_min && p < n.port_max) --n.free_ports;
    }
  } else {
    std::vector<int32_t> sorted(used.begin(), used.end());
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    for (int32_t p : sorted) {
      if (p >= n.port_min && p < n.port_max) --n.free_ports;
    }
  }
  return n;
}

std::vector<int32_t> AssignPorts(NodeState& n, int32_t count) {
  std::vector<int32_t> out;
  if (count <= 0) return out;
  MaterializePorts(n);
  for (int32_t p = n.port_min; p < n.port_max && out.size() < size_t(count);
       ++p) {
    if (n.used_ports->insert(p).second) out.push_back(p);
  }
  n.free_ports -= static_cast<int64_t>(out.size());
  return out;
}

void ReleasePorts(NodeState& n, const std::vector<int32_t>& ports) {
  MaterializePorts(n);
  for (int32_t p : ports) {
    if (n.used_ports->erase(p) > 0) ++n.free_ports;
  }
}

std::string DescribeConstraint(const Constraint& c) {
  switch (c.operator_()) {
    case Constraint::EQ:
      return absl::StrCat(c.attribute(), " = ", c.values(0));
    case Constraint::NE:
      return absl::StrCat(c.attribute(), " != ", c.values(0));
    case Constraint::IN:
      return absl::StrCat(c.attribute(), " in [",
                          absl::StrJoin(c.values(), ", "), "]");
    case Constraint::NOT_IN:
      return absl::StrCat(c.attribute(), " not_in [",
                          absl::StrJoin(c.values(), ", "), "]");
    default:
      return absl::StrCat(c.attribute(), " exists");
  }
}

absl::Status ValidateConstraint(const Constraint& c) {
  bool label =
      absl::StartsWith(c.attribute(), "label.") && c.attribute().size() > 6;
  if (!label && c.attribute() != "node.name") {
    return absl::InvalidArgumentError(
        absl::StrCat("constraint attribute \"", c.attribute(),
                     "\" is not label.<key> or node.name"));
  }
  size_t want_min = 0, want_max = 0;
  switch (c.operator_()) {
    case Constraint::EQ:
    case Constraint::NE:
      want_min = want_max = 1;
      break;
    case Constraint::IN:
    case Constraint::NOT_IN:
      want_min = 1;
      want_max = SIZE_MAX;
      break;
    case Constraint::EXISTS:
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("constraint on ", c.attribute(), " has no operator"));
  }
  size_t n = c.values_size();
  if (n < want_min || n > want_max) {
    return absl::InvalidArgumentError(
        absl::StrCat("constraint on ", c.attribute(), " has ", n, " values"));
  }
  return absl::OkStatus();
}

FilterSet::FilterSet(const PlacementRequest& req)
    : req_(req), avoid_(req.avoid_nodes.begin(), req.avoid_nodes.end()) {
  for (size_t i = 0; i < req.constraints.size(); ++i) {
    (req.constraints[i].attribute() == "node.name" ? name_constraints_
                                                   : label_constraints_)
        .push_back(static_cast<int>(i));
  }
  for (int i : label_constraints_) {
    const std::string& attr = req.constraints[i].attribute();
    if (!absl::StartsWith(attr, "label.")) continue;  // Place rejects it
    std::string label = attr.substr(6);
    if (std::find(class_labels_.begin(), class_labels_.end(), label) ==
        class_labels_.end()) {
      class_labels_.push_back(std::move(label));
    }
  }
}

std::string FilterSet::ClassKey(const jobpb::Node& node) const {
  // Nodes agreeing on every label the constraints mention are equivalent
  // for this request, whatever their other labels.
  std::string key;
  for (const std::string& label : class_labels_) {
    auto it = node.labels().find(label);
    if (it == node.labels().end()) {
      key.push_back('\1');  // absent differs from any value, even ""
    } else {
      key.push_back('\2');
      key.append(it->second);
    }
  }
  return key;
}

int FilterSet::EvaluateLabels(const jobpb::Node& node) const {
  for (int i : label_constraints_) {
    if (!Matches(req_.constraints[i], node)) return i;
  }
  return -1;
}

std::optional<std::string> FilterSet::StaticReason(const jobpb::Node& node) {
  if (node.draining()) return std::string(kDraining);
  if (!avoid_.empty() && avoid_.contains(node.name())) {
    return std::string(kRecentlyFailed);
  }
  if (!label_constraints_.empty()) {
    auto [it, inserted] = class_result_.try_emplace(ClassKey(node), -1);
    if (inserted) it->second = EvaluateLabels(node);
    if (it->second >= 0) {
      return absl::StrCat("failed constraint ",
                          DescribeConstraint(req_.constraints[it->second]));
    }
  }
  for (int i : name_constraints_) {
    if (!Matches(req_.constraints[i], node)) {
      return absl::StrCat("failed constraint ",
                          DescribeConstraint(req_.constraints[i]));
    }
  }
  return std::nullopt;
}

const char* FilterSet::ResourceReason(const NodeState& n) const {
  const jobpb::Resources& r = req_.resources;
  if (n.free_cpu < r.cpu_millicores()) return kLackedCpu;
  if (n.free_memory < r.memory_bytes()) return kLackedMemory;
  if (n.pids_limited && n.free_pids < r.pids()) return kLackedPids;
  if (n.free_ports < req_.port_count) return kLackedPorts;
  return nullptr;
}

}  // namespace berth::sched::placement_internal
