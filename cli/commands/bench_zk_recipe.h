// The ZooKeeper lock recipe's one decision, kept pure so that it is tested
// without a server: given this client's ephemeral-sequential node and the
// lock directory's children, either the lock is ours (we hold the lowest
// sequence number) or we must wait for our immediate predecessor to go
// away. Waiting on the predecessor only, not on the directory, avoids the
// herd effect: each deletion wakes exactly one waiter.
//
// Thread safety: pure functions.
#ifndef BERTH_CLI_COMMANDS_BENCH_ZK_RECIPE_H_
#define BERTH_CLI_COMMANDS_BENCH_ZK_RECIPE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::cli {

struct LockDecision {
  bool granted = false;
  std::string predecessor;  // child name to watch when not granted
};

// The sequence number ZooKeeper appended to `node` (its last 10 digits).
absl::StatusOr<int64_t> ZkSequence(absl::string_view node);

// `mine` and `children` are child names (no directory). Fails if `mine` is
// not among the children (our session lost the node) or a child carries no
// sequence number.
absl::StatusOr<LockDecision> DecideZkLock(
    absl::string_view mine, const std::vector<std::string>& children);

// Every proper ancestor of an absolute path, shortest first:
// "/a/b/c" -> {"/a", "/a/b"}.
std::vector<std::string> ZkAncestors(absl::string_view path);

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMANDS_BENCH_ZK_RECIPE_H_
