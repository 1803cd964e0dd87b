// lockd's record of permission changes (users, roles, auth on/off), shared
// by `berth auth audit` and `berth audit --lockd`.
#ifndef BERTH_CLI_COMMANDS_LOCKD_AUDIT_H_
#define BERTH_CLI_COMMANDS_LOCKD_AUDIT_H_

#include <cstdint>

#include "cli/command.h"

namespace berth::cli {

// Prints the newest `limit` records (0: lockd's default) as a table or
// JSON; returns the exit code.
int PrintLockdAudit(Context& ctx, int64_t limit);

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMANDS_LOCKD_AUDIT_H_
