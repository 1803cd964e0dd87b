// ClientSessions: exactly-once writes across client retries (Raft thesis
// §6.3), stored in sm_clients and sm_client_replies.
//
// A write that carries a WriteId (client_id != 0) is looked up before it is
// applied:
//  * seq below the client's floor (the highest acked_below it has sent):
//    rejected with OUT_OF_RANGE, because its answer was discarded;
//  * (client_id, seq) already answered: the stored answer (status and
//    CommandResult, revision included) is returned and nothing is applied;
//  * otherwise the write is applied and its answer recorded, in the same
//    SQLite transaction as the write itself.
// Per client the tables hold one row plus the answers at or above the
// floor, i.e. the writes the client still has in flight (pipelining from
// many threads), at most Limits::max_client_window of them.
//
// Expiry: a client whose last write is older than
// Limits::client_idle_expiry_ms of *log* time (the leader's timestamps, as
// for leases; no replica reads its own clock) is forgotten, a few at a time,
// whenever a new client appears. Everything is a function of the applied
// log, so replicas agree and snapshots carry the tables.
//
// Thread safety: none. Borrows the SmDb and Limits, which must outlive it.
#ifndef BERTH_LOCKSERVICE_SERVER_CLIENT_SESSIONS_H_
#define BERTH_LOCKSERVICE_SERVER_CLIENT_SESSIONS_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lockservice/server/limits.h"
#include "lockservice/server/sm_db.h"
#include "proto/lock.pb.h"
#include "proto/lockd_internal.pb.h"

namespace berth::lock {

// A recorded answer to one write.
struct StoredReply {
  absl::Status status;
  lockpb::CommandResult result;
};

// The WriteId of a command, or nullptr if it carries none (or client_id 0).
// Only Put, DeleteRange and Txn carry one.
const lockpb::WriteId* WriteIdOf(const lockpb::Command& cmd);

class ClientSessions {
 public:
  struct Client {
    int64_t floor = 0;
    int64_t last_ms = 0;
  };
  // What Check found.
  struct Seen {
    // The client's row; nullopt for a client not seen before (or expired).
    std::optional<Client> client;
    // Set when this (client, seq) was answered before: answer with it and
    // apply nothing. Otherwise apply, then Record.
    std::optional<StoredReply> reply;
  };

  ClientSessions(SmDb* db, const Limits* limits) : db_(db), limits_(limits) {}

  // Before applying. A rejection status (bad id, stale seq, window full)
  // rejects the command.
  absl::StatusOr<Seen> Check(const lockpb::WriteId& id);

  // After applying (or replaying) at leader time now_ms, with what Check
  // returned for the same id in the same transaction: raises the floor to
  // id.acked_below, drops the answers below it, refreshes the client's
  // last-use time and, unless `reply` is null (a replay), stores the
  // answer for id.seq.
  absl::Status Record(int64_t now_ms, const lockpb::WriteId& id,
                      const Seen& seen, const StoredReply* reply);

 private:
  absl::StatusOr<std::optional<Client>> Get(int64_t id);
  absl::Status ExpireIdle(int64_t now_ms);

  SmDb* db_;
  const Limits* limits_;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_CLIENT_SESSIONS_H_
