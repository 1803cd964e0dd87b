// The state machine's SQLite schema (tables prefixed sm_) and its scalar
// metadata (applied index, revision, leader time, ...).
//
// All sm_ tables live in the replica's single SQLite file next to the Raft
// log. Snapshots copy exactly the tables listed in kSmTables.
//
// Thread safety: none; see SmDb.
#ifndef BERTH_LOCKSERVICE_SERVER_SM_SCHEMA_H_
#define BERTH_LOCKSERVICE_SERVER_SM_SCHEMA_H_

#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lockservice/server/sm_db.h"

namespace berth::lock {

// Creates the sm_ tables in `schema` ("main" or an attached database name)
// if they do not exist yet.
absl::Status CreateSmSchema(SmDb& db, absl::string_view schema = "main");

// Every table a snapshot must carry, in a fixed order.
inline constexpr std::array<absl::string_view, 13> kSmTables = {
    "sm_meta",       "sm_kv",         "sm_events",          "sm_leases",
    "sm_locks",      "sm_waiters",    "sm_clients",         "sm_client_replies",
    "sm_auth_users", "sm_auth_roles", "sm_auth_user_roles", "sm_auth_perms",
    "sm_auth_audit"};
// The tables every snapshot image has carried since the first release;
// Restore creates the newer ones (empty) in an older image.
inline constexpr size_t kSmTablesV1 = 6;

// Names of the scalar metadata rows in sm_meta.
namespace meta {
inline constexpr absl::string_view kAppliedIndex = "applied_index";
inline constexpr absl::string_view kRevision = "revision";
inline constexpr absl::string_view kCompactRevision = "compact_revision";
// Largest leader timestamp applied so far: the state machine's clock. It
// never moves backwards, even if a new leader's clock is behind.
inline constexpr absl::string_view kNowMs = "now_ms";
inline constexpr absl::string_view kNextLeaseId = "next_lease_id";
// The NOSPACE alarm (AlarmCmd): 1 while active, with what the leader
// measured when it raised it.
inline constexpr absl::string_view kAlarmNoSpace = "alarm_nospace";
inline constexpr absl::string_view kAlarmDbSize = "alarm_db_size";
inline constexpr absl::string_view kAlarmQuota = "alarm_quota";
inline constexpr absl::string_view kAlarmMember = "alarm_member";
// Users and roles (auth_table.h): 1 while auth is enabled, and the Raft
// index of the newest applied auth command.
inline constexpr absl::string_view kAuthEnabled = "auth_enabled";
inline constexpr absl::string_view kAuthRevision = "auth_revision";
}  // namespace meta

// Missing rows read as 0.
absl::StatusOr<int64_t> GetMeta(SmDb& db, absl::string_view name);
absl::Status SetMeta(SmDb& db, absl::string_view name, int64_t value);

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_SM_SCHEMA_H_
