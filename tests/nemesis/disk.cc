#include "tests/nemesis/disk.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/nemesis/shell.h"

namespace berth::nemesis {

absl::StatusOr<std::unique_ptr<Disk>> Disk::Mount(const std::string& dir,
                                                  int size_mb,
                                                  const std::string& log_dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("mkdir ", dir, ": ", ec.message()));
  absl::Status st = Run({"mount", "-t", "tmpfs", "-o",
                         absl::StrCat("size=", size_mb, "m"), "tmpfs", dir},
                        log_dir);
  if (!st.ok()) return st;
  return std::unique_ptr<Disk>(new Disk(dir, log_dir));
}

Disk::~Disk() {
  Free();
  // Lazy: a replica killed a moment ago may still hold files open.
  Run({"umount", "-l", dir_}, log_dir_).IgnoreError();
}

absl::StatusOr<int64_t> Disk::Fill() {
  std::string path = absl::StrCat(dir_, "/ballast");
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path));
  std::string block(1 << 16, 'B');
  int64_t written = 0;
  while (true) {
    ssize_t n = write(fd, block.data(), block.size());
    if (n > 0) {
      written += n;
      continue;
    }
    int err = errno;
    close(fd);
    if (n < 0 && err != ENOSPC) {
      return absl::InternalError(absl::StrCat("write ", path, ": errno ", err));
    }
    return written;
  }
}

void Disk::Free() { unlink(absl::StrCat(dir_, "/ballast").c_str()); }

}  // namespace berth::nemesis
