#include "cli/commands/bench_zk_recipe.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace berth::cli {

absl::StatusOr<int64_t> ZkSequence(absl::string_view node) {
  constexpr size_t kDigits = 10;  // ZooKeeper pads sequences to 10 digits
  int64_t seq = 0;
  if (node.size() < kDigits ||
      !absl::SimpleAtoi(node.substr(node.size() - kDigits), &seq) ||
      !absl::ascii_isdigit(
          static_cast<unsigned char>(node[node.size() - kDigits]))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lock node \"", node, "\" does not end in a 10-digit sequence"));
  }
  return seq;
}

absl::StatusOr<LockDecision> DecideZkLock(
    absl::string_view mine, const std::vector<std::string>& children) {
  auto my_seq = ZkSequence(mine);
  if (!my_seq.ok()) return my_seq.status();
  bool found = false;
  int64_t best_below = -1;  // the highest sequence below ours
  LockDecision d;
  for (const std::string& child : children) {
    auto seq = ZkSequence(child);
    if (!seq.ok()) return seq.status();
    if (child == mine) {
      found = true;
    } else if (*seq<*my_seq&& * seq> best_below) {
      best_below = *seq;
      d.predecessor = child;
    }
  }
  if (!found) {
    return absl::NotFoundError(absl::StrCat(
        "lock node \"", mine, "\" is gone (its session expired?)"));
  }
  d.granted = best_below < 0;
  return d;
}

std::vector<std::string> ZkAncestors(absl::string_view path) {
  std::vector<std::string> out;
  for (size_t i = 1; i < path.size(); ++i) {
    if (path[i] == '/') out.emplace_back(path.substr(0, i));
  }
  return out;
}

}  // namespace berth::cli
