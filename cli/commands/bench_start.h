// `berth bench start` (bench_start.cc): registered from bench.cc's table.
#ifndef BERTH_CLI_COMMANDS_BENCH_START_H_
#define BERTH_CLI_COMMANDS_BENCH_START_H_

#include <vector>

#include "cli/command.h"

namespace berth::cli {

void AddStartBenchCommand(std::vector<Command>* table);

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMANDS_BENCH_START_H_
