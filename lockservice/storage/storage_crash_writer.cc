// storage_crash_writer DB_PATH
//
// Appends batches to a SqliteStorage forever (until killed), printing one
// "acked ..." line (see crash_workload.h) after every Save that returned OK,
// flushed before the next Save starts. Every 25 batches it snapshots the
// committed prefix and compacts part of the log. A restart continues from
// whatever the file holds. Exit status 1 on any storage error.
#include <cinttypes>
#include <cstdio>
#include <vector>

#include "lockservice/storage/crash_workload.h"
#include "lockservice/storage/sqlite_storage.h"

int main(int argc, char** argv) {
  using berth::storage::SqliteStorage;
  namespace raftpb = berth::raftpb;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DB_PATH\n", argv[0]);
    return 2;
  }
  SqliteStorage::Options opts;
  opts.bootstrap.add_voters(1);
  auto store = SqliteStorage::Open(argv[1], opts);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  SqliteStorage& s = **store;
  raftpb::HardState hs = s.hard_state();
  for (uint64_t batch = 0;; ++batch) {
    if (batch % 7 == 0 || hs.term() == 0) {
      hs.set_term(hs.term() + 1);
      hs.set_vote(1);
    }
    const uint64_t prev_last = s.LastIndex();
    hs.set_commit(prev_last);
    std::vector<raftpb::Entry> ents(1 + batch % 16);
    for (size_t i = 0; i < ents.size(); ++i) {
      ents[i].set_index(prev_last + 1 + i);
      ents[i].set_term(hs.term());
      ents[i].set_data(
          berth::storage::CrashWorkloadData(ents[i].index(), hs.term()));
    }
    if (absl::Status st = s.Save(&hs, ents, nullptr); !st.ok()) {
      std::fprintf(stderr, "save: %s\n", st.ToString().c_str());
      return 1;
    }
    std::printf(berth::storage::kAckedFormat, s.LastIndex(), hs.term(),
                hs.term(), hs.vote(), hs.commit());
    std::fflush(stdout);
    if (batch % 25 == 24 && hs.commit() > s.GetSnapshot()->metadata().index()) {
      const uint64_t at = hs.commit();
      absl::Status st = s.CreateSnapshot(
          at, opts.bootstrap, absl::StrCat("snapshot-at-", at), at / 2);
      if (!st.ok()) {
        std::fprintf(stderr, "snapshot: %s\n", st.ToString().c_str());
        return 1;
      }
    }
  }
}
