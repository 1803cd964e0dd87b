// StateMachine: snapshot, restore and canonical dump of the sm_ tables.
//
// A snapshot is a standalone SQLite database holding only the sm_ tables
// (never the Raft log that shares the replica's file). It is built by
// attaching a fresh file, creating the schema there and copying each table
// inside one read transaction, which makes the copy consistent.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "lockservice/server/sm_schema.h"
#include "lockservice/server/state_machine.h"

namespace berth::lock {
namespace {

std::string SqlQuote(absl::string_view s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "''"}}), "'");
}

// Attaches `file` as schema "snap" for the object's lifetime.
class Attached {
 public:
  static absl::StatusOr<std::unique_ptr<Attached>> Make(
      SmDb* db, const std::string& file) {
    db->ResetAll();
    absl::Status s =
        db->Exec(absl::StrCat("ATTACH DATABASE ", SqlQuote(file), " AS snap"));
    if (!s.ok()) return s;
    auto att = std::unique_ptr<Attached>(new Attached(db, file));
    // The file is scratch space, read back and deleted at once; the durable
    // copy is the one the Raft storage keeps. Syncing it cost several
    // fsyncs on the driver thread, long enough to miss heartbeats.
    s = db->Exec("PRAGMA snap.journal_mode=OFF; PRAGMA snap.synchronous=OFF");
    if (!s.ok()) return s;
    return att;
  }
  ~Attached() {
    db_->ResetAll();
    (void)db_->Exec("DETACH DATABASE snap");
    std::error_code ec;
    std::filesystem::remove(file_, ec);
    std::filesystem::remove(file_ + "-journal", ec);
  }

 private:
  Attached(SmDb* db, std::string file) : db_(db), file_(std::move(file)) {}
  SmDb* db_;
  std::string file_;
};

std::string TempPath(const SmDb& db, absl::string_view what) {
  return absl::StrCat(db.path(), ".", what, ".tmp");
}

}  // namespace

absl::StatusOr<std::string> StateMachine::Snapshot() {
  std::string file = TempPath(*db_, "snapshot");
  std::error_code ec;
  std::filesystem::remove(file, ec);
  std::string image;
  {
    absl::StatusOr<std::unique_ptr<Attached>> att =
        Attached::Make(db_.get(), file);
    if (!att.ok()) return att.status();
    if (absl::Status s = CreateSmSchema(*db_, "snap"); !s.ok()) return s;
    if (absl::Status s = db_->Exec("BEGIN"); !s.ok()) return s;
    for (absl::string_view table : kSmTables) {
      absl::Status s = db_->Exec(absl::StrCat("INSERT INTO snap.", table,
                                              " SELECT * FROM main.", table));
      if (!s.ok()) {
        db_->Rollback();
        return s;
      }
    }
    if (absl::Status s = db_->Commit(); !s.ok()) return s;
    // Read the file while it is still attached (closed only on DETACH, but
    // committed data is already in it: rollback-journal mode writes in place).
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return absl::InternalError(
          absl::StrCat("snapshot: cannot read back ", file));
    }
    image.assign(std::istreambuf_iterator<char>(in),
                 std::istreambuf_iterator<char>());
  }
  return image;
}

absl::Status StateMachine::Restore(absl::string_view image) {
  std::string file = TempPath(*db_, "restore");
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(image.data(), static_cast<std::streamsize>(image.size()));
    out.close();
    if (!out) {
      return absl::InternalError(
          absl::StrCat("restore: cannot write temporary image ", file));
    }
  }
  {
    absl::StatusOr<std::unique_ptr<Attached>> att =
        Attached::Make(db_.get(), file);
    if (!att.ok()) {
      std::error_code ec;
      std::filesystem::remove(file, ec);
      return absl::InvalidArgumentError(
          absl::StrCat("restore: the image is not a SQLite database: ",
                       att.status().message()));
    }
    // Reject anything that is not a state machine image before touching
    // the live tables.
    absl::StatusOr<SmStmt*> check = db_->Prepare(
        "SELECT COUNT(*) FROM snap.sqlite_master WHERE type = 'table' AND "
        "name IN ('sm_meta','sm_kv','sm_events','sm_leases','sm_locks',"
        "'sm_waiters')");
    if (!check.ok()) return check.status();
    absl::StatusOr<bool> row = (*check)->Step();
    if (!row.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("restore: the image is not a SQLite database: ",
                       row.status().message()));
    }
    int64_t tables = (*check)->Int(0);
    (*check)->Reset();
    if (tables != static_cast<int64_t>(kSmTablesV1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("restore: the image has ", tables, " of the ",
                       kSmTablesV1, " state machine tables"));
    }
    // An image from a replica that predates the newer tables restores
    // them empty.
    if (absl::Status s = CreateSmSchema(*db_, "snap"); !s.ok()) return s;
    if (absl::Status s = db_->Begin(); !s.ok()) return s;
    for (absl::string_view table : kSmTables) {
      absl::Status s = db_->Exec(absl::StrCat("DELETE FROM main.", table,
                                              "; INSERT INTO main.", table,
                                              " SELECT * FROM snap.", table));
      if (!s.ok()) {
        db_->Rollback();
        return s;
      }
    }
    if (absl::Status s = db_->Commit(); !s.ok()) return s;
  }
  locks_.ForgetCachedState();
  return LoadMeta();
}

absl::StatusOr<std::string> StateMachine::Dump() {
  std::string out;
  db_->ResetAll();
  for (absl::string_view table : kSmTables) {
    absl::StrAppend(&out, "[", table, "]\n");
    std::string sql = absl::StrCat("SELECT * FROM ", table, " ORDER BY 1, 2");
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_->raw(), sql.c_str(), -1, &st, nullptr);
    if (rc != SQLITE_OK) return db_->Error(rc, absl::StrCat("dump ", table));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      int n = sqlite3_column_count(st);
      for (int i = 0; i < n; ++i) {
        if (i > 0) out += " | ";
        if (sqlite3_column_type(st, i) == SQLITE_INTEGER) {
          absl::StrAppend(&out, sqlite3_column_int64(st, i));
        } else {
          const void* p = sqlite3_column_blob(st, i);
          int len = sqlite3_column_bytes(st, i);
          absl::StrAppend(&out, "\"",
                          absl::CHexEscape(absl::string_view(
                              static_cast<const char*>(p), p ? len : 0)),
                          "\"");
        }
      }
      out += "\n";
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_->Error(rc, absl::StrCat("dump ", table));
  }
  return out;
}

}  // namespace berth::lock
