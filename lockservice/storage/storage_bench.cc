// Durable write throughput of SqliteStorage on a real file, fsync on.
//
//   BERTH_BENCH_DIR=/path/on/the/disk/under/test ./storage_bench
//
// BM_Fdatasync measures the raw cost of one small write + fdatasync on the
// same disk, the floor under any durable commit: with one fsync per Save,
// commits/s cannot exceed 1 / fdatasync latency.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "lockservice/storage/sqlite_storage.h"

namespace berth::storage {
namespace {

std::string BenchDir() {
  const char* d = std::getenv("BERTH_BENCH_DIR");
  return d != nullptr && *d != '\0' ? d : "/tmp";
}

std::string FreshPath(const char* name) {
  std::string path =
      absl::StrCat(BenchDir(), "/berth_storage_bench_", getpid(), "_", name);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::remove((path + suffix).c_str());
  }
  return path;
}

void RemoveDb(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::remove((path + suffix).c_str());
  }
}

void RunSaves(benchmark::State& state, int batch) {
  const std::string path = FreshPath("saves");
  SqliteStorage::Options opts;
  opts.bootstrap.add_voters(1);
  auto store = SqliteStorage::Open(path, opts);
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  const std::string payload(256, 'x');
  uint64_t next = 1;
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_vote(1);
  std::vector<raftpb::Entry> ents(batch);
  for (auto& e : ents) {
    e.set_term(1);
    e.set_data(payload);
  }
  for (auto _ : state) {
    for (auto& e : ents) e.set_index(next++);
    hs.set_commit(next - 1);
    absl::Status s = (*store)->Save(&hs, ents, nullptr);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["commits/s"] =
      benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
  store->reset();
  RemoveDb(path);
}

// (a) durable commits/s, one 256 B entry per Save.
void BM_SaveOneEntry(benchmark::State& state) { RunSaves(state, 1); }
BENCHMARK(BM_SaveOneEntry)->UseRealTime()->MinTime(3);

// (b) entries/s, 64 × 256 B entries per Save.
void BM_SaveBatch64(benchmark::State& state) { RunSaves(state, 64); }
BENCHMARK(BM_SaveBatch64)->UseRealTime()->MinTime(3);

// Context: one 256 B write + fdatasync on the same disk, in place (arg 0)
// or appending, so that the file size changes too (arg 1).
void BM_Fdatasync(benchmark::State& state) {
  const bool append = state.range(0) != 0;
  const std::string path = FreshPath("fsync");
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    state.SkipWithError("cannot create the fdatasync probe file");
    return;
  }
  const std::string payload(256, 'y');
  off_t offset = 0;
  for (auto _ : state) {
    offset += payload.size();
    if (pwrite(fd, payload.data(), payload.size(), append ? offset : 0) < 0 ||
        fdatasync(fd) != 0) {
      state.SkipWithError("pwrite/fdatasync failed");
      break;
    }
  }
  close(fd);
  std::remove(path.c_str());
}
BENCHMARK(BM_Fdatasync)->Arg(0)->Arg(1)->UseRealTime()->MinTime(3);

}  // namespace
}  // namespace berth::storage
