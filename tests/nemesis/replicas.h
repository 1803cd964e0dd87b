// The berth-lockd replicas under test: real processes, each started inside
// its replica's network namespace (`ip netns exec`, which execs in place, so
// the pid is lockd's own) with its data directory on its own Disk.
//
// Process faults: Kill9 (then Start again), Pause/Resume (SIGSTOP/SIGCONT).
// A replica that exits without being killed (e.g. on a full disk) is
// noticed by Reap, counted, and left down until the nemesis restarts it.
//
// Thread safety: none; the nemesis thread owns it. Status probes
// (Probe/Leader) open their own channels and may block up to their
// deadline.
#ifndef BERTH_TESTS_NEMESIS_REPLICAS_H_
#define BERTH_TESTS_NEMESIS_REPLICAS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "tests/e2e/subprocess.h"
#include "tests/nemesis/disk.h"
#include "tests/nemesis/network.h"

namespace berth::nemesis {

struct ReplicaStatus {
  bool answered = false;
  uint64_t leader_id = 0;
  uint64_t term = 0;
  uint64_t applied_index = 0;
};

class Replicas {
 public:
  // Borrows `net`, which must outlive this object.
  Replicas(Network* net, std::string lockd_bin, std::string work_dir,
           int count);
  ~Replicas();

  // From now on, replicas start with libfaketime preloaded, reading their
  // clock offset from a file of their own (re-read at most once a second)
  // so that SetClockOffset can step a running replica's wall clock.
  // CLOCK_MONOTONIC is left alone, as an NTP step would leave it.
  void EnableClockControl(std::string libfaketime) {
    libfaketime_ = std::move(libfaketime);
  }
  bool clock_control() const { return !libfaketime_.empty(); }
  absl::Status SetClockOffset(int id, int seconds);

  // Mounts every replica's tmpfs data dir.
  absl::Status MountDisks(int size_mb);
  absl::Status Start(int id);
  void Kill9(int id);
  void Pause(int id);
  void Resume(int id);
  bool Running(int id) const;
  bool Paused(int id) const { return paused_.contains(id) && paused_.at(id); }
  // Notices replicas that exited on their own; returns their ids (each
  // once) and remembers their exit code in the log.
  std::vector<int> Reap();

  int count() const { return count_; }
  std::string Endpoint(int id) const;
  std::vector<std::string> Endpoints() const;
  Disk* disk(int id) { return disks_[id].get(); }
  std::string LogPath(int id) const;

  ReplicaStatus Probe(int id, absl::Duration timeout = absl::Milliseconds(500));
  // The replica that a majority of answering replicas name as leader and
  // that names itself; 0 if none.
  int Leader();

 private:
  std::shared_ptr<grpc::Channel> Channel(int id);

  Network* net_;
  const std::string lockd_bin_;
  const std::string work_dir_;
  const int count_;
  std::map<int, std::unique_ptr<Disk>> disks_;
  std::map<int, std::unique_ptr<e2e::Subprocess>> procs_;
  std::map<int, bool> paused_;
  std::map<int, std::shared_ptr<grpc::Channel>> channels_;
  std::map<int, int> starts_;
  std::string libfaketime_;
};

inline constexpr int kLockdPort = 7400;

}  // namespace berth::nemesis

#endif  // BERTH_TESTS_NEMESIS_REPLICAS_H_
