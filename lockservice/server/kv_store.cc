#include "lockservice/server/kv_store.h"

#include <algorithm>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lockservice/server/sm_schema.h"

namespace berth::lock {
namespace {

constexpr absl::string_view kOpenEnd("\0", 1);

lockpb::KeyValue ReadKv(const SmStmt& st) {
  // Column order: key, value, create_rev, mod_rev, version, lease.
  lockpb::KeyValue kv;
  kv.set_key(st.Blob(0));
  kv.set_value(st.Blob(1));
  kv.set_create_revision(st.Int(2));
  kv.set_mod_revision(st.Int(3));
  kv.set_version(st.Int(4));
  kv.set_lease(st.Int(5));
  return kv;
}

constexpr absl::string_view kKvCols =
    "key, value, create_rev, mod_rev, version, lease";

}  // namespace

RangeSql RangeWhere(absl::string_view key, absl::string_view range_end,
                    absl::string_view column) {
  if (range_end.empty()) return {absl::StrCat(column, " = ?"), {key}};
  if (range_end == kOpenEnd) return {absl::StrCat(column, " >= ?"), {key}};
  return {absl::StrCat(column, " >= ? AND ", column, " < ?"), {key, range_end}};
}

absl::Status ValidateRange(absl::string_view key, absl::string_view range_end) {
  if (key.empty()) return absl::InvalidArgumentError("key is empty");
  if (!range_end.empty() && range_end != kOpenEnd && range_end <= key) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed range: range_end \"", absl::CEscape(range_end),
                     "\" must sort after key \"", absl::CEscape(key),
                     "\" (use \"\\0\" for an open-ended range)"));
  }
  return absl::OkStatus();
}

absl::Status HistoryCompactedError(int64_t requested,
                                   int64_t compact_revision) {
  return absl::OutOfRangeError(absl::StrCat(
      "compacted: revision ", requested,
      " is older than the retained history, which starts at revision ",
      compact_revision));
}

bool IsHistoryCompacted(const absl::Status& s) {
  return absl::IsOutOfRange(s) && absl::StartsWith(s.message(), "compacted");
}

absl::StatusOr<std::optional<lockpb::KeyValue>> KvStore::Get(
    absl::string_view key) {
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "SELECT key, value, create_rev, mod_rev, version, lease FROM sm_kv "
      "WHERE key = ?");
  if (!st.ok()) return st.status();
  (*st)->Bind(1, key);
  absl::StatusOr<bool> row = (*st)->Step();
  if (!row.ok()) return row.status();
  std::optional<lockpb::KeyValue> out;
  if (*row) out = ReadKv(**st);
  (*st)->Reset();
  return out;
}

absl::StatusOr<lockpb::RangeResponse> KvStore::Range(
    const lockpb::RangeRequest& req) {
  if (absl::Status s = ValidateRange(req.key(), req.range_end()); !s.ok()) {
    return s;
  }
  if (req.limit() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("range limit must be >= 0, got ", req.limit()));
  }
  RangeSql w = RangeWhere(req.key(), req.range_end());
  lockpb::RangeResponse out;

  absl::StatusOr<SmStmt*> count =
      db_->Prepare(absl::StrCat("SELECT COUNT(*) FROM sm_kv WHERE ", w.where));
  if (!count.ok()) return count.status();
  for (size_t i = 0; i < w.params.size(); ++i)
    (*count)->Bind(i + 1, w.params[i]);
  absl::StatusOr<bool> row = (*count)->Step();
  if (!row.ok()) return row.status();
  out.set_count((*count)->Int(0));
  (*count)->Reset();
  if (req.count_only()) return out;

  absl::StatusOr<SmStmt*> st = db_->Prepare(absl::StrCat(
      "SELECT ", kKvCols, " FROM sm_kv WHERE ", w.where, " ORDER BY key"));
  if (!st.ok()) return st.status();
  for (size_t i = 0; i < w.params.size(); ++i) (*st)->Bind(i + 1, w.params[i]);
  while (true) {
    row = (*st)->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (req.limit() > 0 && out.kvs_size() >= req.limit()) {
      out.set_more(true);
      break;
    }
    lockpb::KeyValue kv = ReadKv(**st);
    if (req.keys_only()) kv.clear_value();
    *out.add_kvs() = std::move(kv);
  }
  (*st)->Reset();
  return out;
}

absl::Status KvStore::LogEvent(ApplyContext& ctx, const lockpb::Event& ev) {
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      "INSERT INTO sm_events(rev, seq, key, event) VALUES(?, ?, ?, ?)");
  if (!st.ok()) return st.status();
  std::string blob;
  ev.SerializeToString(&blob);
  absl::Status s = (*st)
                       ->Bind(1, ctx.revision)
                       .Bind(2, ctx.NextEventSeq())
                       .Bind(3, ev.kv().key())
                       .Bind(4, blob)
                       .Run();
  if (s.ok()) ctx.events.push_back(ev);
  return s;
}

absl::Status KvStore::Put(ApplyContext& ctx, absl::string_view key,
                          absl::string_view value, int64_t lease,
                          lockpb::KeyValue* prev) {
  absl::StatusOr<std::optional<lockpb::KeyValue>> old = Get(key);
  if (!old.ok()) return old.status();
  int64_t rev = ctx.WriteRevision();
  lockpb::Event ev;
  ev.set_type(lockpb::Event::PUT);
  lockpb::KeyValue* kv = ev.mutable_kv();
  kv->set_key(std::string(key));
  kv->set_value(std::string(value));
  kv->set_mod_revision(rev);
  kv->set_lease(lease);
  if (old->has_value()) {
    kv->set_create_revision((*old)->create_revision());
    kv->set_version((*old)->version() + 1);
    *ev.mutable_prev_kv() = **old;
    if (prev != nullptr) *prev = **old;
  } else {
    kv->set_create_revision(rev);
    kv->set_version(1);
  }
  // An existing key is updated in place: a REPLACE would delete and
  // re-insert the row, and touch the lease index even when the lease stays.
  absl::StatusOr<SmStmt*> st =
      old->has_value()
          ? db_->Prepare(
                "UPDATE sm_kv SET value = ?2, create_rev = ?3, mod_rev = ?4, "
                "version = ?5, lease = ?6 WHERE key = ?1")
          : db_->Prepare(
                "INSERT INTO sm_kv(key, value, create_rev, mod_rev, version, "
                "lease) VALUES(?, ?, ?, ?, ?, ?)");
  if (!st.ok()) return st.status();
  absl::Status s = (*st)
                       ->Bind(1, key)
                       .Bind(2, value)
                       .Bind(3, kv->create_revision())
                       .Bind(4, rev)
                       .Bind(5, kv->version())
                       .Bind(6, lease)
                       .Run();
  if (!s.ok()) return s;
  return LogEvent(ctx, ev);
}

absl::StatusOr<int64_t> KvStore::DeleteRange(
    ApplyContext& ctx, absl::string_view key, absl::string_view range_end,
    std::vector<lockpb::KeyValue>* prev) {
  lockpb::RangeRequest req;
  req.set_key(std::string(key));
  req.set_range_end(std::string(range_end));
  absl::StatusOr<lockpb::RangeResponse> victims = Range(req);
  if (!victims.ok()) return victims.status();
  if (victims->kvs().empty()) return 0;
  int64_t rev = ctx.WriteRevision();
  absl::StatusOr<SmStmt*> del = db_->Prepare("DELETE FROM sm_kv WHERE key = ?");
  if (!del.ok()) return del.status();
  for (const lockpb::KeyValue& old : victims->kvs()) {
    absl::Status s = (*del)->Bind(1, old.key()).Run();
    (*del)->Reset();
    if (!s.ok()) return s;
    lockpb::Event ev;
    ev.set_type(lockpb::Event::DELETE);
    ev.mutable_kv()->set_key(old.key());
    ev.mutable_kv()->set_mod_revision(rev);
    *ev.mutable_prev_kv() = old;
    if (s = LogEvent(ctx, ev); !s.ok()) return s;
    if (prev != nullptr) prev->push_back(old);
  }
  return victims->kvs_size();
}

absl::StatusOr<std::vector<std::string>> KvStore::KeysOfLease(int64_t lease) {
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      // "lease != 0" lets SQLite use the partial index.
      "SELECT key FROM sm_kv WHERE lease = ? AND lease != 0 ORDER BY key");
  if (!st.ok()) return st.status();
  (*st)->Bind(1, lease);
  std::vector<std::string> keys;
  while (true) {
    absl::StatusOr<bool> row = (*st)->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    keys.push_back((*st)->Blob(0));
  }
  (*st)->Reset();
  return keys;
}

absl::StatusOr<std::vector<lockpb::Event>> KvStore::EventsSince(
    int64_t from_revision, absl::string_view key, absl::string_view range_end,
    int64_t limit) {
  if (absl::Status s = ValidateRange(key, range_end); !s.ok()) return s;
  if (from_revision < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "history must be read from revision >= 1, got ", from_revision));
  }
  absl::StatusOr<int64_t> compacted = GetMeta(*db_, meta::kCompactRevision);
  if (!compacted.ok()) return compacted.status();
  if (from_revision < *compacted) {
    return HistoryCompactedError(from_revision, *compacted);
  }
  RangeSql w = RangeWhere(key, range_end);
  absl::StatusOr<SmStmt*> st = db_->Prepare(
      absl::StrCat("SELECT rev, event FROM sm_events WHERE rev >= ? AND ",
                   w.where, " ORDER BY rev, seq"));
  if (!st.ok()) return st.status();
  (*st)->Bind(1, from_revision);
  for (size_t i = 0; i < w.params.size(); ++i) (*st)->Bind(i + 2, w.params[i]);
  std::vector<lockpb::Event> out;
  int64_t last_rev = 0;
  while (true) {
    absl::StatusOr<bool> row = (*st)->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    int64_t rev = (*st)->Int(0);
    if (limit > 0 && static_cast<int64_t>(out.size()) >= limit &&
        rev != last_rev) {
      break;
    }
    lockpb::Event ev;
    if (!ev.ParseFromString((*st)->Blob(1))) {
      (*st)->Reset();
      return absl::DataLossError(
          absl::StrCat("sm_events: undecodable event at revision ", rev));
    }
    out.push_back(std::move(ev));
    last_rev = rev;
  }
  (*st)->Reset();
  return out;
}

absl::StatusOr<bool> KvStore::PurgeEventsBelow(int64_t revision,
                                               int64_t max_rows) {
  // The first event that this step keeps, in (rev, seq) order: the
  // (max_rows+1)-th oldest below `revision`. Both the probe and the deletes
  // walk the primary key, so a step costs O(max_rows) whatever the size of
  // the history.
  absl::StatusOr<SmStmt*> probe = db_->Prepare(
      "SELECT rev, seq FROM sm_events WHERE rev < ? ORDER BY rev, seq "
      "LIMIT 1 OFFSET ?");
  if (!probe.ok()) return probe.status();
  (*probe)->Bind(1, revision).Bind(2, std::max<int64_t>(max_rows, 1));
  absl::StatusOr<bool> row = (*probe)->Step();
  if (!row.ok()) return row.status();
  int64_t keep_rev = revision, keep_seq = 0;
  const bool more = *row;
  if (more) {
    keep_rev = (*probe)->Int(0);
    keep_seq = (*probe)->Int(1);
  }
  (*probe)->Reset();
  absl::StatusOr<SmStmt*> below =
      db_->Prepare("DELETE FROM sm_events WHERE rev < ?");
  if (!below.ok()) return below.status();
  if (absl::Status s = (*below)->Bind(1, keep_rev).Run(); !s.ok()) return s;
  if (more && keep_seq > 0) {
    absl::StatusOr<SmStmt*> within =
        db_->Prepare("DELETE FROM sm_events WHERE rev = ? AND seq < ?");
    if (!within.ok()) return within.status();
    absl::Status s = (*within)->Bind(1, keep_rev).Bind(2, keep_seq).Run();
    if (!s.ok()) return s;
  }
  return more;
}

absl::StatusOr<bool> KvStore::HasEventsBelow(int64_t revision) {
  absl::StatusOr<SmStmt*> st =
      db_->Prepare("SELECT 1 FROM sm_events WHERE rev < ? LIMIT 1");
  if (!st.ok()) return st.status();
  (*st)->Bind(1, revision);
  absl::StatusOr<bool> row = (*st)->Step();
  (*st)->Reset();
  return row;
}

absl::StatusOr<int64_t> KvStore::EventCount() {
  absl::StatusOr<SmStmt*> st = db_->Prepare("SELECT COUNT(*) FROM sm_events");
  if (!st.ok()) return st.status();
  absl::StatusOr<bool> row = (*st)->Step();
  if (!row.ok()) return row.status();
  int64_t n = (*st)->Int(0);
  (*st)->Reset();
  return n;
}

}  // namespace berth::lock
