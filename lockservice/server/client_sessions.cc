#include "lockservice/server/client_sessions.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace berth::lock {
namespace {

// Client ids and sequence numbers are uint64 on the wire; SQLite stores
// them as int64 with the same bits.
int64_t AsSql(uint64_t v) { return static_cast<int64_t>(v); }

// How many idle clients one new client's arrival may expire: keeps the cost
// of an apply bounded while still outpacing the arrival of new clients.
constexpr int kExpirePerNewClient = 4;

}  // namespace

const lockpb::WriteId* WriteIdOf(const lockpb::Command& cmd) {
  const lockpb::WriteId* id = nullptr;
  switch (cmd.op_case()) {
    case lockpb::Command::kPut:
      if (cmd.put().has_write_id()) id = &cmd.put().write_id();
      break;
    case lockpb::Command::kDeleteRange:
      if (cmd.delete_range().has_write_id()) {
        id = &cmd.delete_range().write_id();
      }
      break;
    case lockpb::Command::kTxn:
      if (cmd.txn().has_write_id()) id = &cmd.txn().write_id();
      break;
    default:
      break;
  }
  if (id != nullptr && id->client_id() == 0) return nullptr;
  return id;
}

absl::StatusOr<std::optional<ClientSessions::Client>> ClientSessions::Get(
    int64_t id) {
  absl::StatusOr<SmStmt*> st =
      db_->Prepare("SELECT floor, last_ms FROM sm_clients WHERE id = ?");
  if (!st.ok()) return st.status();
  (*st)->Bind(1, id);
  absl::StatusOr<bool> row = (*st)->Step();
  if (!row.ok()) return row.status();
  std::optional<Client> out;
  if (*row) out = Client{(*st)->Int(0), (*st)->Int(1)};
  (*st)->Reset();
  return out;
}

absl::StatusOr<ClientSessions::Seen> ClientSessions::Check(
    const lockpb::WriteId& id) {
  if (id.seq() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "write_id of client ", id.client_id(), " has seq 0; seqs start at 1"));
  }
  if (id.acked_below() > id.seq()) {
    return absl::InvalidArgumentError(
        absl::StrCat("write_id of client ", id.client_id(), ": acked_below ",
                     id.acked_below(), " is above its own seq ", id.seq(),
                     " (a write in flight cannot be acknowledged)"));
  }
  absl::StatusOr<std::optional<Client>> client = Get(AsSql(id.client_id()));
  if (!client.ok()) return client.status();
  Seen seen;
  seen.client = *client;
  if (!client->has_value()) return seen;
  uint64_t floor = static_cast<uint64_t>((*client)->floor);
  if (id.seq() < floor) {
    return absl::OutOfRangeError(absl::StrCat(
        "write seq ", id.seq(), " of client ", id.client_id(),
        " is below the client's acknowledged window (which starts at seq ",
        floor, "); its answer was discarded, so it was not applied again"));
  }
  if (id.seq() - floor >= limits_->max_client_window) {
    return absl::OutOfRangeError(absl::StrCat(
        "write seq ", id.seq(), " of client ", id.client_id(), " is ",
        id.seq() - floor, " past its oldest unacknowledged write (seq ", floor,
        "); at most ", limits_->max_client_window,
        " writes may be in flight per client"));
  }
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "SELECT code, message, result FROM sm_client_replies "
      "WHERE client = ? AND seq = ?");
  if (!st.ok()) return st.status();
  (*st)->Bind(1, AsSql(id.client_id())).Bind(2, AsSql(id.seq()));
  absl::StatusOr<bool> row = (*st)->Step();
  if (!row.ok()) return row.status();
  std::optional<StoredReply>& out = seen.reply;
  if (*row) {
    out.emplace();
    out->status = absl::Status(static_cast<absl::StatusCode>((*st)->Int(0)),
                               (*st)->Blob(1));
    if (!out->result.ParseFromString((*st)->Blob(2))) {
      (*st)->Reset();
      return absl::DataLossError(
          absl::StrCat("sm_client_replies: undecodable answer for client ",
                       id.client_id(), " seq ", id.seq()));
    }
  }
  (*st)->Reset();
  return seen;
}

absl::Status ClientSessions::Record(int64_t now_ms, const lockpb::WriteId& id,
                                    const Seen& seen,
                                    const StoredReply* reply) {
  const int64_t client = AsSql(id.client_id());
  const std::optional<Client>* old = &seen.client;
  int64_t floor = AsSql(id.acked_below());
  if (old->has_value()) {
    floor = static_cast<int64_t>(
        std::max(static_cast<uint64_t>((*old)->floor), id.acked_below()));
  }
  absl::StatusOr<SmStmt*> up = db_->Prepare(
      "INSERT INTO sm_clients(id, floor, last_ms) VALUES(?, ?, ?) "
      "ON CONFLICT(id) DO UPDATE SET floor = excluded.floor, "
      "last_ms = MAX(last_ms, excluded.last_ms)");
  if (!up.ok()) return up.status();
  if (absl::Status s =
          (*up)->Bind(1, client).Bind(2, floor).Bind(3, now_ms).Run();
      !s.ok()) {
    return s;
  }
  if (old->has_value() && floor > (*old)->floor) {
    absl::StatusOr<SmStmt*> drop = db_->Prepare(
        "DELETE FROM sm_client_replies WHERE client = ? AND seq < ?");
    if (!drop.ok()) return drop.status();
    absl::Status s = (*drop)->Bind(1, client).Bind(2, floor).Run();
    if (!s.ok()) return s;
  }
  if (reply != nullptr) {
    absl::StatusOr<SmStmt*> ins = db_->Prepare(
        "INSERT OR REPLACE INTO sm_client_replies(client, seq, code, message, "
        "result) VALUES(?, ?, ?, ?, ?)");
    if (!ins.ok()) return ins.status();
    absl::Status s = (*ins)
                         ->Bind(1, client)
                         .Bind(2, AsSql(id.seq()))
                         .Bind(3, static_cast<int64_t>(reply->status.code()))
                         .Bind(4, reply->status.message())
                         .Bind(5, reply->result.SerializeAsString())
                         .Run();
    if (!s.ok()) return s;
  }
  if (!old->has_value()) return ExpireIdle(now_ms);
  return absl::OkStatus();
}

absl::Status ClientSessions::ExpireIdle(int64_t now_ms) {
  absl::StatusOr<SmStmt*> pick = db_->Prepare(
      "SELECT id FROM sm_clients WHERE last_ms < ? ORDER BY last_ms, id "
      "LIMIT ?");
  if (!pick.ok()) return pick.status();
  (*pick)
      ->Bind(1, now_ms - limits_->client_idle_expiry_ms)
      .Bind(2, int64_t{kExpirePerNewClient});
  std::vector<int64_t> idle;
  while (true) {
    absl::StatusOr<bool> row = (*pick)->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    idle.push_back((*pick)->Int(0));
  }
  (*pick)->Reset();
  for (int64_t id : idle) {
    for (const char* sql : {"DELETE FROM sm_client_replies WHERE client = ?",
                            "DELETE FROM sm_clients WHERE id = ?"}) {
      absl::StatusOr<SmStmt*> del = db_->Prepare(sql);
      if (!del.ok()) return del.status();
      if (absl::Status s = (*del)->Bind(1, id).Run(); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::lock
