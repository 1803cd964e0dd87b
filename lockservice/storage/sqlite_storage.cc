#include "lockservice/storage/sqlite_storage.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lockservice/storage/sqlite_statements.h"

namespace berth::storage {

SqliteStorage::SqliteStorage(std::string path, sqlite3* db)
    : path_(std::move(path)), db_(db) {}

SqliteStorage::~SqliteStorage() {
  stmts_.reset();  // statements must be finalized before the close
  sqlite3_close_v2(db_);
}

absl::StatusOr<uint64_t> SqliteStorage::LoadTerm(uint64_t i) {
  Statement& q = *stmts_->select_term;
  q.BindUint(1, i);
  absl::StatusOr<bool> row = q.Step();
  if (!row.ok()) {
    q.Reset();
    return row.status();
  }
  if (!*row) {
    q.Reset();
    return absl::DataLossError(
        absl::StrCat("raft_log entry ", i, " is missing [", path_, "]"));
  }
  uint64_t term = q.ColumnUint(0);
  q.Reset();
  return term;
}

absl::StatusOr<raft::InitialState> SqliteStorage::GetInitialState() {
  raft::InitialState st;
  st.hard_state = meta_.hard_state;
  st.conf_state = meta_.snapshot.conf_state();
  return st;
}

absl::StatusOr<std::vector<raftpb::Entry>> SqliteStorage::Entries(
    uint64_t lo, uint64_t hi, uint64_t max_bytes) {
  if (lo <= meta_.compacted_index) return raft::CompactedError();
  if (hi > meta_.last_index + 1) return raft::UnavailableIndexError();
  if (lo > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("entries: lo ", lo, " > hi ", hi));
  }
  std::vector<raftpb::Entry> out;
  if (lo == hi) return out;
  Statement& q = *stmts_->select_range;
  q.BindUint(1, lo);
  q.BindUint(2, hi);
  uint64_t bytes = 0;
  bool capped = false;
  while (true) {
    absl::StatusOr<bool> row = q.Step();
    if (!row.ok()) {
      q.Reset();
      return Annotate(row.status(), "entries");
    }
    if (!*row) break;
    raftpb::Entry e;
    e.set_index(q.ColumnUint(0));
    e.set_term(q.ColumnUint(1));
    e.set_type(static_cast<raftpb::EntryType>(q.ColumnInt(2)));
    e.set_data(std::string(q.ColumnBlob(3)));
    if (e.index() != lo + out.size()) {
      q.Reset();
      return absl::DataLossError(absl::StrCat(
          "entries: raft_log has a gap: expected index ", lo + out.size(),
          ", found ", e.index(), " [", path_, "]"));
    }
    bytes += e.ByteSizeLong();
    if (!out.empty() && bytes > max_bytes) {
      capped = true;
      break;
    }
    out.push_back(std::move(e));
  }
  q.Reset();
  if (!capped && out.size() != hi - lo) {
    return absl::DataLossError(
        absl::StrCat("entries: raft_log is missing entries in [", lo, ", ", hi,
                     ") [", path_, "]"));
  }
  return out;
}

absl::StatusOr<uint64_t> SqliteStorage::Term(uint64_t i) {
  if (i < meta_.compacted_index) return raft::CompactedError();
  if (i > meta_.last_index) return raft::UnavailableIndexError();
  if (i == meta_.compacted_index) return meta_.compacted_term;
  if (i == meta_.last_index) return meta_.last_term;
  return LoadTerm(i);
}

absl::StatusOr<raftpb::Snapshot> SqliteStorage::GetSnapshot() {
  raftpb::Snapshot snap;
  *snap.mutable_metadata() = meta_.snapshot;
  Statement& q = *stmts_->select_snapshot;
  absl::StatusOr<bool> row = q.Step();
  if (!row.ok()) {
    q.Reset();
    return Annotate(row.status(), "get snapshot");
  }
  if (*row) snap.set_data(std::string(q.ColumnBlob(0)));
  q.Reset();
  return snap;
}

absl::Status SqliteStorage::PlanSave(const raftpb::HardState* hs,
                                     const std::vector<raftpb::Entry>& entries,
                                     const raftpb::Snapshot* snap, Meta* next,
                                     size_t* skip) {
  *next = meta_;
  if (snap != nullptr) {
    const raftpb::SnapshotMetadata& sm = snap->metadata();
    if (sm.index() < meta_.snapshot.index()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "save: snapshot at index ", sm.index(),
          " is older than the current snapshot at ", meta_.snapshot.index()));
    }
    next->snapshot = sm;
    next->compacted_index = sm.index();
    next->compacted_term = sm.term();
    next->last_index = sm.index();
    next->last_term = sm.term();
  }
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].index() != entries[i - 1].index() + 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "save: entries are not contiguous: entry ", i, " has index ",
          entries[i].index(), ", expected ", entries[i - 1].index() + 1));
    }
    if (entries[i].term() < entries[i - 1].term()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "save: entry ", entries[i].index(), " has term ", entries[i].term(),
          ", below the preceding entry's term ", entries[i - 1].term()));
    }
  }
  *skip = 0;
  if (!entries.empty()) {
    if (entries.front().index() == 0) {
      return absl::InvalidArgumentError("save: entry index 0 is reserved");
    }
    const uint64_t first = next->compacted_index + 1;
    if (entries.back().index() < first) {
      *skip = entries.size();  // all at or below the compaction point
    } else {
      if (entries.front().index() < first) {
        *skip = first - entries.front().index();
      }
      const uint64_t start = entries[*skip].index();
      if (start > next->last_index + 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "save: entry ", start, " would leave a gap after the last index ",
            next->last_index));
      }
      // Terms never decrease along the log. Checked where the preceding
      // term is cached, which covers appends and snapshot boundaries.
      std::optional<uint64_t> prev_term;
      if (start - 1 == next->compacted_index) {
        prev_term = next->compacted_term;
      } else if (start - 1 == next->last_index) {
        prev_term = next->last_term;
      }
      if (prev_term && entries[*skip].term() < *prev_term) {
        return absl::InvalidArgumentError(absl::StrCat(
            "save: entry ", start, " has term ", entries[*skip].term(),
            ", below the preceding entry's term ", *prev_term));
      }
      next->last_index = entries.back().index();
      next->last_term = entries.back().term();
    }
  }
  if (hs != nullptr) {
    const raftpb::HardState& cur = meta_.hard_state;
    if (hs->term() < cur.term()) {
      return absl::FailedPreconditionError(
          absl::StrCat("save: hard state term would go back from ", cur.term(),
                       " to ", hs->term()));
    }
    if (hs->term() == cur.term() && cur.vote() != 0 &&
        hs->vote() != cur.vote()) {
      return absl::FailedPreconditionError(
          absl::StrCat("save: vote in term ", cur.term(), " would change from ",
                       cur.vote(), " to ", hs->vote()));
    }
    next->hard_state = *hs;
  }
  return absl::OkStatus();
}

absl::Status SqliteStorage::WriteMeta(const Meta& m) {
  Statement& u = *stmts_->update_meta;
  u.BindUint(1, m.hard_state.term());
  u.BindUint(2, m.hard_state.vote());
  u.BindUint(3, m.hard_state.commit());
  u.BindUint(4, m.compacted_index);
  u.BindUint(5, m.compacted_term);
  u.BindUint(6, m.snapshot.index());
  u.BindUint(7, m.snapshot.term());
  u.BindBlob(8, m.snapshot.conf_state().SerializeAsString());
  return u.Run();
}

absl::Status SqliteStorage::WriteFailed(absl::Status s, bool at_commit) {
  // Before COMMIT, or with SQLITE_FULL / a busy lock, SQLite rolls the
  // transaction back cleanly: the file and the caches still agree, and the
  // caller may retry. A COMMIT that failed on I/O (typically the WAL fsync)
  // may have left a complete transaction in the WAL that crash recovery
  // would honour, so stop writing until reopened rather than build on a
  // state that may not be the one on disk.
  if (!at_commit || absl::IsResourceExhausted(s) || absl::IsUnavailable(s)) {
    return s;
  }
  poisoned_ = absl::FailedPreconditionError(absl::StrCat(
      "raft store ", path_,
      " refuses writes after an earlier failed commit; reopen it (",
      s.message(), ")"));
  return s;
}

absl::Status SqliteStorage::Save(const raftpb::HardState* hs,
                                 const std::vector<raftpb::Entry>& entries,
                                 const raftpb::Snapshot* snap) {
  if (!poisoned_.ok()) return poisoned_;
  Meta next;
  size_t skip = 0;
  if (absl::Status s = PlanSave(hs, entries, snap, &next, &skip); !s.ok()) {
    return s;
  }
  const bool meta_changed =
      snap != nullptr ||
      (hs != nullptr && (hs->term() != meta_.hard_state.term() ||
                         hs->vote() != meta_.hard_state.vote() ||
                         hs->commit() != meta_.hard_state.commit()));
  if (!meta_changed && skip == entries.size()) return absl::OkStatus();

  bool at_commit = false;
  absl::Status s = [&]() -> absl::Status {
    auto tx = Transaction::Begin(db_);
    if (!tx.ok()) return tx.status();
    if (snap != nullptr) {
      // Entries above the snapshot conflict with it and go now; those at
      // or below it are compacted and go in bounded steps.
      stmts_->delete_above->BindUint(1, next.compacted_index);
      if (absl::Status s = stmts_->delete_above->Run(); !s.ok()) return s;
      next.purged_upto = std::min(next.purged_upto, next.compacted_index);
      stmts_->upsert_snapshot->BindBlob(1, snap->data(), true);
      if (absl::Status s = stmts_->upsert_snapshot->Run(); !s.ok()) return s;
    }
    if (skip < entries.size()) {
      // Truncate a conflicting suffix. The cached bounds tell us when there
      // is none, which is the common case of a plain append.
      const uint64_t start = entries[skip].index();
      const uint64_t last =
          snap != nullptr ? next.compacted_index : meta_.last_index;
      if (start <= last) {
        stmts_->delete_from->BindUint(1, start);
        if (absl::Status s = stmts_->delete_from->Run(); !s.ok()) return s;
      }
      Statement& ins = *stmts_->insert_entry;
      for (size_t i = skip; i < entries.size(); ++i) {
        const raftpb::Entry& e = entries[i];
        ins.BindUint(1, e.index());
        ins.BindUint(2, e.term());
        ins.BindInt(3, e.type());
        ins.BindBlob(4, e.data(), true);
        if (absl::Status s = ins.Run(); !s.ok()) return s;
      }
    }
    if (meta_changed) {
      if (absl::Status s = WriteMeta(next); !s.ok()) return s;
    }
    if (absl::Status s = PurgeStep(&next); !s.ok()) return s;
    at_commit = true;
    return (*tx)->Commit();
  }();
  if (!s.ok()) return WriteFailed(Annotate(s, "save"), at_commit);
  meta_ = next;
  return absl::OkStatus();
}

absl::Status SqliteStorage::CreateSnapshot(uint64_t index,
                                           const raftpb::ConfState& cs,
                                           std::string data,
                                           uint64_t compact_to) {
  if (!poisoned_.ok()) return poisoned_;
  if (index <= meta_.snapshot.index()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "create snapshot: index ", index,
        " is not newer than the current snapshot at ", meta_.snapshot.index()));
  }
  if (index > meta_.last_index) {
    return absl::InvalidArgumentError(
        absl::StrCat("create snapshot: index ", index,
                     " is above the last index ", meta_.last_index));
  }
  if (compact_to > index) {
    return absl::InvalidArgumentError(
        absl::StrCat("create snapshot: compact_to ", compact_to,
                     " is above the snapshot index ", index));
  }
  absl::StatusOr<uint64_t> term = Term(index);
  if (!term.ok()) return Annotate(term.status(), "create snapshot");
  Meta next = meta_;
  next.snapshot.set_index(index);
  next.snapshot.set_term(*term);
  *next.snapshot.mutable_conf_state() = cs;
  if (compact_to > meta_.compacted_index) {
    absl::StatusOr<uint64_t> cterm = Term(compact_to);
    if (!cterm.ok()) return Annotate(cterm.status(), "create snapshot");
    next.compacted_index = compact_to;
    next.compacted_term = *cterm;
  }
  bool at_commit = false;
  absl::Status s = [&]() -> absl::Status {
    auto tx = Transaction::Begin(db_);
    if (!tx.ok()) return tx.status();
    if (absl::Status s = PurgeStep(&next); !s.ok()) return s;
    stmts_->upsert_snapshot->BindBlob(1, data, true);
    if (absl::Status s = stmts_->upsert_snapshot->Run(); !s.ok()) return s;
    if (absl::Status s = WriteMeta(next); !s.ok()) return s;
    at_commit = true;
    return (*tx)->Commit();
  }();
  if (!s.ok()) return WriteFailed(Annotate(s, "create snapshot"), at_commit);
  meta_ = next;
  return absl::OkStatus();
}

absl::Status SqliteStorage::PurgeStep(Meta* next) {
  if (next->purged_upto >= next->compacted_index) return absl::OkStatus();
  const uint64_t upto =
      std::min(next->compacted_index, next->purged_upto + kPurgeStepEntries);
  stmts_->delete_purge->BindUint(1, next->purged_upto);
  stmts_->delete_purge->BindUint(2, upto);
  if (absl::Status s = stmts_->delete_purge->Run(); !s.ok()) return s;
  next->purged_upto = upto;
  return absl::OkStatus();
}

}  // namespace berth::storage
