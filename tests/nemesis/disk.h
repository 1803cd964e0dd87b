// Replica data directories, each on its own small tmpfs mount so that the
// nemesis can fill one replica's disk (a ballast file grown until ENOSPC)
// without touching the machine's real file systems, and free it again.
//
// Thread safety: none; one owner. The destructor unmounts.
#ifndef BERTH_TESTS_NEMESIS_DISK_H_
#define BERTH_TESTS_NEMESIS_DISK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace berth::nemesis {

class Disk {
 public:
  // Mounts a `size_mb` tmpfs on `dir` (created if needed).
  static absl::StatusOr<std::unique_ptr<Disk>> Mount(
      const std::string& dir, int size_mb, const std::string& log_dir);
  ~Disk();
  Disk(const Disk&) = delete;
  Disk& operator=(const Disk&) = delete;

  const std::string& dir() const { return dir_; }
  // Writes a ballast file until the mount is full; returns bytes written.
  absl::StatusOr<int64_t> Fill();
  // Deletes the ballast.
  void Free();

 private:
  Disk(std::string dir, std::string log_dir)
      : dir_(std::move(dir)), log_dir_(std::move(log_dir)) {}

  const std::string dir_;
  const std::string log_dir_;
};

}  // namespace berth::nemesis

#endif  // BERTH_TESTS_NEMESIS_DISK_H_
