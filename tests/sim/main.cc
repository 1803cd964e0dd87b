// berth-raft-sim: runs the deterministic cluster simulation over a range of
// seeds and reports the first violation with the command that replays it.
//
//   berth-raft-sim --seeds N [--start S] [--nodes 3|5] [--steps K] [-v]
//                  [--no-pauses] [--no-slow-clocks]
//                  [--plant-bug stale-read]
//
// --plant-bug is for measuring the checkers: it plants a known bug (test
// only; see SimOptions) so that the run is expected to find a violation.
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>

#include "boost/program_options.hpp"
#include "tests/sim/simulator.h"

namespace po = boost::program_options;

namespace {

// If the core aborts (an internal invariant check) or crashes, the seed must
// still be reported: the handler prints the line prepared before each run.
char g_crash_line[512];

void OnFatalSignal(int sig) {
  const ssize_t ignored =
      write(STDOUT_FILENO, g_crash_line, strlen(g_crash_line));
  (void)ignored;
  signal(sig, SIG_DFL);
  raise(sig);
}

// The flags that replay a seed exactly, after --start.
std::string ReplayFlags(int nodes, uint64_t steps, bool no_joiner_workaround,
                        bool no_pauses, bool no_slow_clocks,
                        const std::string& planted) {
  return " --nodes " + std::to_string(nodes) + " --steps " +
         std::to_string(steps) +
         (no_joiner_workaround ? " --no-joiner-workaround" : "") +
         (no_pauses ? " --no-pauses" : "") +
         (no_slow_clocks ? " --no-slow-clocks" : "") +
         (planted.empty() ? "" : " --plant-bug " + planted) + " -v";
}

void PrepareCrashLine(uint64_t seed, const std::string& replay_flags) {
  const std::string line =
      "\nVIOLATION seed " + std::to_string(seed) +
      ": the process died (abort/crash inside the run)\nreplay: "
      "berth-raft-sim --seeds 1 --start " +
      std::to_string(seed) + replay_flags + "\n";
  strncpy(g_crash_line, line.c_str(), sizeof(g_crash_line) - 1);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seeds = 0;
  uint64_t start = 1;
  int nodes = 3;
  uint64_t steps = 1500;
  bool verbose = false;
  bool no_joiner_workaround = false;
  bool keep_going = false;
  std::string plant_bug;
  bool expect_violation = false;
  bool no_pauses = false;
  bool no_slow_clocks = false;
  po::options_description desc("berth-raft-sim options");
  desc.add_options()("help,h", "show this help")(
      "seeds", po::value<uint64_t>(&seeds)->required(),
      "number of seeds to run")("start", po::value<uint64_t>(&start),
                                "first seed (default 1)")(
      "nodes", po::value<int>(&nodes), "cluster size: 3 or 5 (default 3)")(
      "steps", po::value<uint64_t>(&steps),
      "ticks of the fault phase per seed (default 1500)")(
      "verbose,v", po::bool_switch(&verbose), "print a trace of each run")(
      "keep-going", po::bool_switch(&keep_going),
      "run every seed even after a violation (to measure catch rates)")(
      "no-joiner-workaround", po::bool_switch(&no_joiner_workaround),
      "do not pre-compact logs before adding members (reproduces sim "
      "finding #1)")(
      "no-pauses", po::bool_switch(&no_pauses),
      "leave process pauses out of the fault mix (their slot isolates the "
      "leader instead): partitions alone must expose a planted bug")(
      "no-slow-clocks", po::bool_switch(&no_slow_clocks),
      "leave slow clocks (clock skew) out of the fault mix")(
      "plant-bug", po::value<std::string>(&plant_bug),
      "TEST ONLY: plant a known bug the run should catch; 'stale-read' = "
      "ReadIndex answered without confirming leadership")(
      "expect-violation", po::bool_switch(&expect_violation),
      "exit 0 only if a violation was found (with --plant-bug, in tests) and "
      "the same seeds, up to the first violating one, pass without the bug");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "berth-raft-sim: " << e.what() << "\n" << desc << "\n";
    return 2;
  }
  if (nodes != 3 && nodes != 5) {
    std::cerr << "berth-raft-sim: --nodes must be 3 or 5, got " << nodes
              << "\n";
    return 2;
  }
  if (!plant_bug.empty() && plant_bug != "stale-read") {
    std::cerr << "berth-raft-sim: --plant-bug must be stale-read, got "
              << plant_bug << "\n";
    return 2;
  }
  if (seeds == 0 || steps == 0) {
    std::cerr << "berth-raft-sim: --seeds and --steps must be positive\n";
    return 2;
  }

  signal(SIGABRT, OnFatalSignal);
  signal(SIGSEGV, OnFatalSignal);
  uint64_t violations = 0;
  uint64_t gave_up = 0;
  uint64_t ops = 0;
  uint64_t crashes = 0;
  uint64_t conf_changes = 0;
  uint64_t committed = 0;
  uint64_t snapshots = 0;
  uint64_t pauses = 0;
  uint64_t deposed_reads = 0;
  uint64_t minority_reads = 0;
  uint64_t ran = 0;
  uint64_t first_violation = 0;
  const std::string replay = ReplayFlags(nodes, steps, no_joiner_workaround,
                                         no_pauses, no_slow_clocks, plant_bug);
  auto options_for = [&](uint64_t seed, bool planted) {
    berth::sim::SimOptions o;
    o.seed = seed;
    o.nodes = nodes;
    o.steps = steps;
    o.verbose = verbose;
    o.joiner_workaround = !no_joiner_workaround;
    o.plant_stale_read = planted && plant_bug == "stale-read";
    o.pauses = !no_pauses;
    o.slow_clocks = !no_slow_clocks;
    return o;
  };
  for (uint64_t seed = start; seed < start + seeds; ++seed) {
    std::cout.flush();
    PrepareCrashLine(seed, replay);
    const berth::sim::SimOptions o = options_for(seed, !plant_bug.empty());
    berth::sim::Simulator sim(o);
    const berth::sim::SimResult r = sim.Run();
    ++ran;
    ops += r.ops;
    crashes += r.crashes;
    conf_changes += r.conf_changes;
    committed += r.committed;
    snapshots += r.snapshots_installed;
    pauses += r.pauses;
    deposed_reads += r.deposed_leader_reads;
    minority_reads += r.minority_leader_reads;
    if (r.lin_gave_up) ++gave_up;
    if (verbose) {
      std::cout << "seed " << seed << ": " << (r.ok ? "ok" : "VIOLATION")
                << ", " << r.ticks << " ticks, " << r.committed
                << " entries committed, " << r.leaders << " leaders, "
                << r.crashes << " crashes, " << r.snapshots_installed
                << " snapshots installed, " << r.conf_changes
                << " conf changes, " << r.pauses << " pauses, " << r.ops
                << " client ops (" << r.unknown_ops << " unknown, "
                << r.deposed_leader_reads << " reads sent to a deposed leader, "
                << r.minority_leader_reads << " of them in a minority), "
                << r.lin_states << " linearizability states\n";
    }
    if (!r.ok) {
      ++violations;
      if (first_violation == 0) first_violation = seed;
      std::cout << "VIOLATION seed " << seed << " (" << nodes
                << " nodes): " << r.violation << "\n"
                << "replay: berth-raft-sim --seeds 1 --start " << seed << replay
                << "\n";
      if (!keep_going) break;
    }
  }
  std::cout << "sim: " << ran << " seeds, " << violations << " violations ("
            << nodes << " nodes, " << steps << " steps; " << committed
            << " entries committed, " << ops << " client ops checked, "
            << crashes << " crashes, " << snapshots << " snapshots installed, "
            << conf_changes << " conf changes, " << pauses << " pauses, "
            << deposed_reads << " reads sent to a deposed leader ("
            << minority_reads << " in a minority partition)"
            << (gave_up ? ", linearizability search gave up on " : "")
            << (gave_up ? std::to_string(gave_up) + " seeds" : "")
            << (plant_bug.empty() ? "" : "; planted bug " + plant_bug) << ")\n";
  if (first_violation != 0) {
    std::cout << "first violation: seed " << first_violation << ", after "
              << first_violation - start + 1 << " seeds\n";
  }
  if (expect_violation) {
    if (violations == 0) {
      std::cout << "expected a violation (planted bug " << plant_bug
                << ") and found none\n";
      return 1;
    }
    if (plant_bug.empty()) return 0;
    // The violation must be the planted bug's doing: the same seeds, up to
    // the first violating one, must pass without it (else the checkers or
    // the core are at fault, and the catch proves nothing).
    for (uint64_t seed = start; seed <= first_violation; ++seed) {
      PrepareCrashLine(seed, ReplayFlags(nodes, steps, no_joiner_workaround,
                                         no_pauses, no_slow_clocks, ""));
      berth::sim::Simulator sim(options_for(seed, false));
      const berth::sim::SimResult r = sim.Run();
      if (!r.ok) {
        std::cout << "VIOLATION without the planted bug, seed " << seed << ": "
                  << r.violation << "\n";
        return 1;
      }
    }
    std::cout << "without the planted bug: seeds " << start << ".."
              << first_violation << " pass\n";
    return 0;
  }
  return violations == 0 ? 0 : 1;
}
