// What `berth top` draws: a nodes table and a tasks table built from one
// ListNodes answer (with include_allocations). A pure function of that
// answer, so the layout is tested without a cluster; the refresh loop and
// the terminal handling live in top.cc.
//
// Usage figures are the agents' latest reports (every --usage-interval-s
// of the agent), not fresher than that.
#ifndef BERTH_CLI_COMMANDS_TOP_VIEW_H_
#define BERTH_CLI_COMMANDS_TOP_VIEW_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "proto/scheduler.pb.h"

namespace berth::cli {

enum class TopSort { kCpu, kMem };

// "1.5GiB", "12.0MiB", "512KiB", "0B".
std::string FormatBytes(int64_t bytes);

// The text of one refresh: a header line, the nodes, a blank line, the
// tasks (busiest first by `sort`).
std::string RenderTop(const schedpb::ListNodesResponse& nodes, TopSort sort,
                      absl::Time now);

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMANDS_TOP_VIEW_H_
