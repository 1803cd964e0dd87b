// `berth bench failover --component scheduler`: kill -9 the scheduler
// leader of a cluster this command starts on 127.0.0.1 (3 berth-lockd, 2
// berth-scheduler, 1 berth-agent on the process runtime), submit a trivial
// service right away, and time kill -> the service's allocation is placed
// on a node. Repeated --kills times (the killed scheduler is restarted as
// the standby each time); prints every gap and the median.
//
// The binaries come from --bin-dir, else from next to `berth` itself or the
// build tree around it (lockservice/lockd, scheduler/server, agent/server).
//
// Thread safety: runs on the calling thread; owns the processes it starts
// and kills them (the agent gets SIGTERM so it stops its tasks) on return.
#ifndef BERTH_CLI_COMMANDS_BENCH_FAILOVER_SCHED_H_
#define BERTH_CLI_COMMANDS_BENCH_FAILOVER_SCHED_H_

#include "cli/command.h"

namespace berth::cli {

// The flags it adds to `bench failover`.
void SchedulerFailoverFlags(po::options_description& d);
int SchedulerFailover(Context& ctx);

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMANDS_BENCH_FAILOVER_SCHED_H_
