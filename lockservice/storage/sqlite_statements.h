// Private to SqliteStorage: its cached prepared statements. Included only by
// the sqlite_storage*.cc files.
#ifndef BERTH_LOCKSERVICE_STORAGE_SQLITE_STATEMENTS_H_
#define BERTH_LOCKSERVICE_STORAGE_SQLITE_STATEMENTS_H_

#include <memory>

#include "lockservice/storage/sqlite_storage.h"
#include "lockservice/storage/sqlite_util.h"

namespace berth::storage {

struct SqliteStorage::Statements {
  std::unique_ptr<Statement> insert_entry;
  std::unique_ptr<Statement> delete_from;   // idx >= ?
  std::unique_ptr<Statement> delete_purge;  // ?1 < idx <= ?2
  std::unique_ptr<Statement> delete_above;  // idx > ?1
  std::unique_ptr<Statement> select_lowest;
  std::unique_ptr<Statement> update_meta;
  std::unique_ptr<Statement> select_meta;
  std::unique_ptr<Statement> select_bounds;
  std::unique_ptr<Statement> select_range;  // lo <= idx < hi
  std::unique_ptr<Statement> select_term;
  std::unique_ptr<Statement> select_snapshot;
  std::unique_ptr<Statement> upsert_snapshot;
};

}  // namespace berth::storage

#endif  // BERTH_LOCKSERVICE_STORAGE_SQLITE_STATEMENTS_H_
