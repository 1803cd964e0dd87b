#include "lockservice/storage/fault_vfs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace berth::storage {

// SQLite allocates szOsFile bytes per open file: our header, then the
// wrapped unix file right after it.
struct FaultVfs::File {
  sqlite3_file base;
  FaultVfs* owner;
  std::string* path;  // nullptr: an untracked temp file
  sqlite3_file* real;
};

struct FaultVfsGlue {
  using File = FaultVfs::File;
  static constexpr int kHeader = (sizeof(File) + 15) & ~15;
  static FaultVfs* Self(sqlite3_vfs* v) {
    return static_cast<FaultVfs*>(v->pAppData);
  }
  static File* F(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
  static sqlite3_file* R(sqlite3_file* f) { return F(f)->real; }

  static int Close(sqlite3_file* f) {
    int rc = R(f)->pMethods->xClose(R(f));
    delete F(f)->path;
    return rc;
  }
  static int Read(sqlite3_file* f, void* buf, int amt, sqlite3_int64 off) {
    return R(f)->pMethods->xRead(R(f), buf, amt, off);
  }
  static int Write(sqlite3_file* f, const void* buf, int amt,
                   sqlite3_int64 off) {
    File* file = F(f);
    if (file->path == nullptr) {
      return R(f)->pMethods->xWrite(R(f), buf, amt, off);
    }
    FaultVfs* self = file->owner;
    absl::MutexLock lock(&self->mu_);
    if (int rc = self->Admit(true, false, SQLITE_IOERR_WRITE);
        rc != SQLITE_OK) {
      return rc;
    }
    FaultVfs::FileState& st = self->files_[*file->path];
    sqlite3_int64 size = 0;
    if (int rc = R(f)->pMethods->xFileSize(R(f), &size); rc != SQLITE_OK) {
      return rc;
    }
    // Only bytes that were synced need restoring; anything beyond the synced
    // size is cut off by the final truncate anyway.
    const int64_t end = std::min<int64_t>({off + amt, size, st.synced_size});
    if (end > off) {
      std::string old(end - off, '\0');
      int rc = R(f)->pMethods->xRead(R(f), old.data(),
                                     static_cast<int>(old.size()), off);
      if (rc != SQLITE_OK) return rc;
      st.undo.push_back({off, std::move(old)});
    }
    return R(f)->pMethods->xWrite(R(f), buf, amt, off);
  }
  static int Truncate(sqlite3_file* f, sqlite3_int64 size) {
    File* file = F(f);
    if (file->path == nullptr) return R(f)->pMethods->xTruncate(R(f), size);
    FaultVfs* self = file->owner;
    absl::MutexLock lock(&self->mu_);
    if (int rc = self->Admit(false, false, SQLITE_IOERR_TRUNCATE);
        rc != SQLITE_OK) {
      return rc;
    }
    FaultVfs::FileState& st = self->files_[*file->path];
    sqlite3_int64 cur = 0;
    if (int rc = R(f)->pMethods->xFileSize(R(f), &cur); rc != SQLITE_OK) {
      return rc;
    }
    const int64_t end = std::min<int64_t>(cur, st.synced_size);
    if (end > size) {
      std::string old(end - size, '\0');
      int rc = R(f)->pMethods->xRead(R(f), old.data(),
                                     static_cast<int>(old.size()), size);
      if (rc != SQLITE_OK) return rc;
      st.undo.push_back({size, std::move(old)});
    }
    return R(f)->pMethods->xTruncate(R(f), size);
  }
  static int Sync(sqlite3_file* f, int flags) {
    File* file = F(f);
    if (file->path == nullptr) return R(f)->pMethods->xSync(R(f), flags);
    FaultVfs* self = file->owner;
    absl::MutexLock lock(&self->mu_);
    if (int rc = self->Admit(false, true, SQLITE_IOERR_FSYNC);
        rc != SQLITE_OK) {
      return rc;
    }
    int rc = SQLITE_OK;
    if (self->real_sync_) rc = R(f)->pMethods->xSync(R(f), flags);
    if (rc != SQLITE_OK) return rc;
    sqlite3_int64 size = 0;
    rc = R(f)->pMethods->xFileSize(R(f), &size);
    if (rc != SQLITE_OK) return rc;
    FaultVfs::FileState& st = self->files_[*file->path];
    st.synced_size = size;
    st.undo.clear();
    return SQLITE_OK;
  }
  static int FileSize(sqlite3_file* f, sqlite3_int64* size) {
    return R(f)->pMethods->xFileSize(R(f), size);
  }
  static int Lock(sqlite3_file* f, int l) {
    return R(f)->pMethods->xLock(R(f), l);
  }
  static int Unlock(sqlite3_file* f, int l) {
    return R(f)->pMethods->xUnlock(R(f), l);
  }
  static int CheckReservedLock(sqlite3_file* f, int* out) {
    return R(f)->pMethods->xCheckReservedLock(R(f), out);
  }
  static int FileControl(sqlite3_file* f, int op, void* arg) {
    return R(f)->pMethods->xFileControl(R(f), op, arg);
  }
  static int SectorSize(sqlite3_file* f) {
    return R(f)->pMethods->xSectorSize(R(f));
  }
  static int DeviceCharacteristics(sqlite3_file* f) {
    return R(f)->pMethods->xDeviceCharacteristics(R(f));
  }
  static int ShmMap(sqlite3_file* f, int region, int size, int extend,
                    void volatile** out) {
    return R(f)->pMethods->xShmMap(R(f), region, size, extend, out);
  }
  static int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
    return R(f)->pMethods->xShmLock(R(f), offset, n, flags);
  }
  static void ShmBarrier(sqlite3_file* f) { R(f)->pMethods->xShmBarrier(R(f)); }
  static int ShmUnmap(sqlite3_file* f, int delete_flag) {
    return R(f)->pMethods->xShmUnmap(R(f), delete_flag);
  }

  static constexpr sqlite3_io_methods kMethods = {2,
                                                  Close,
                                                  Read,
                                                  Write,
                                                  Truncate,
                                                  Sync,
                                                  FileSize,
                                                  Lock,
                                                  Unlock,
                                                  CheckReservedLock,
                                                  FileControl,
                                                  SectorSize,
                                                  DeviceCharacteristics,
                                                  ShmMap,
                                                  ShmLock,
                                                  ShmBarrier,
                                                  ShmUnmap,
                                                  nullptr,
                                                  nullptr};

  static int Open(sqlite3_vfs* v, const char* name, sqlite3_file* f, int flags,
                  int* out_flags) {
    FaultVfs* self = Self(v);
    File* file = F(f);
    file->base.pMethods = nullptr;
    file->owner = self;
    file->path = nullptr;
    file->real =
        reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kHeader);
    int rc =
        self->base_->xOpen(self->base_, name, file->real, flags, out_flags);
    if (rc != SQLITE_OK) return rc;
    if (name != nullptr) {
      file->path = new std::string(name);
      absl::MutexLock lock(&self->mu_);
      if (self->files_.find(name) == self->files_.end()) {
        // First sight of this file: whatever it holds is already durable.
        sqlite3_int64 size = 0;
        file->real->pMethods->xFileSize(file->real, &size);
        self->files_[name].synced_size = size;
      }
    }
    file->base.pMethods = &kMethods;
    return SQLITE_OK;
  }
  static int Delete(sqlite3_vfs* v, const char* name, int sync_dir) {
    FaultVfs* self = Self(v);
    absl::MutexLock lock(&self->mu_);
    if (self->dead_) return SQLITE_IOERR_DELETE;
    int rc = self->base_->xDelete(self->base_, name, sync_dir);
    if (rc == SQLITE_OK) self->files_.erase(name);
    return rc;
  }
  static int Access(sqlite3_vfs* v, const char* name, int flags, int* out) {
    return Self(v)->base_->xAccess(Self(v)->base_, name, flags, out);
  }
  static int FullPathname(sqlite3_vfs* v, const char* name, int n, char* out) {
    return Self(v)->base_->xFullPathname(Self(v)->base_, name, n, out);
  }
  static void* DlOpen(sqlite3_vfs* v, const char* name) {
    return Self(v)->base_->xDlOpen(Self(v)->base_, name);
  }
  static void DlError(sqlite3_vfs* v, int n, char* out) {
    Self(v)->base_->xDlError(Self(v)->base_, n, out);
  }
  static void (*DlSym(sqlite3_vfs* v, void* h, const char* sym))(void) {
    return Self(v)->base_->xDlSym(Self(v)->base_, h, sym);
  }
  static void DlClose(sqlite3_vfs* v, void* h) {
    Self(v)->base_->xDlClose(Self(v)->base_, h);
  }
  static int Randomness(sqlite3_vfs* v, int n, char* out) {
    return Self(v)->base_->xRandomness(Self(v)->base_, n, out);
  }
  static int Sleep(sqlite3_vfs* v, int us) {
    return Self(v)->base_->xSleep(Self(v)->base_, us);
  }
  static int CurrentTime(sqlite3_vfs* v, double* out) {
    return Self(v)->base_->xCurrentTime(Self(v)->base_, out);
  }
  static int GetLastError(sqlite3_vfs* v, int n, char* out) {
    return Self(v)->base_->xGetLastError(Self(v)->base_, n, out);
  }
  static int CurrentTimeInt64(sqlite3_vfs* v, sqlite3_int64* out) {
    return Self(v)->base_->xCurrentTimeInt64(Self(v)->base_, out);
  }
};

FaultVfs::FaultVfs(std::string name, bool real_sync)
    : name_(std::move(name)), real_sync_(real_sync) {}

absl::StatusOr<std::unique_ptr<FaultVfs>> FaultVfs::Register(
    const std::string& name, bool real_sync) {
  if (sqlite3_vfs_find(name.c_str()) != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat("SQLite VFS \"", name, "\" is already registered"));
  }
  std::unique_ptr<FaultVfs> self(new FaultVfs(name, real_sync));
  self->base_ = sqlite3_vfs_find(nullptr);
  if (self->base_ == nullptr || self->base_->iVersion < 2) {
    return absl::FailedPreconditionError("no usable default SQLite VFS");
  }
  sqlite3_vfs& v = self->vfs_;
  v.iVersion = 2;
  v.szOsFile = FaultVfsGlue::kHeader + self->base_->szOsFile;
  v.mxPathname = self->base_->mxPathname;
  v.zName = self->name_.c_str();
  v.pAppData = self.get();
  v.xOpen = FaultVfsGlue::Open;
  v.xDelete = FaultVfsGlue::Delete;
  v.xAccess = FaultVfsGlue::Access;
  v.xFullPathname = FaultVfsGlue::FullPathname;
  v.xDlOpen = FaultVfsGlue::DlOpen;
  v.xDlError = FaultVfsGlue::DlError;
  v.xDlSym = FaultVfsGlue::DlSym;
  v.xDlClose = FaultVfsGlue::DlClose;
  v.xRandomness = FaultVfsGlue::Randomness;
  v.xSleep = FaultVfsGlue::Sleep;
  v.xCurrentTime = FaultVfsGlue::CurrentTime;
  v.xGetLastError = FaultVfsGlue::GetLastError;
  v.xCurrentTimeInt64 = FaultVfsGlue::CurrentTimeInt64;
  if (int rc = sqlite3_vfs_register(&v, 0); rc != SQLITE_OK) {
    return absl::InternalError(
        absl::StrCat("register VFS \"", name, "\": ", sqlite3_errstr(rc)));
  }
  return self;
}

FaultVfs::~FaultVfs() { sqlite3_vfs_unregister(&vfs_); }

int FaultVfs::Admit(bool is_write, bool is_sync, int io_error) {
  if (dead_) return io_error;
  if (crash_after_ == 0) {
    dead_ = true;
    return io_error;
  }
  if (is_write && fail_writes_after_ >= 0) {
    if (fail_writes_after_ == 0) return fail_writes_rc_;
    --fail_writes_after_;
  }
  if (is_sync && fail_syncs_after_ >= 0) {
    if (fail_syncs_after_ == 0) return fail_syncs_rc_;
    --fail_syncs_after_;
  }
  if (crash_after_ > 0) --crash_after_;
  ++ops_;
  return SQLITE_OK;
}

void FaultVfs::Crash() {
  absl::MutexLock lock(&mu_);
  dead_ = true;
}

void FaultVfs::CrashAfter(int64_t n) {
  absl::MutexLock lock(&mu_);
  crash_after_ = n;
}

bool FaultVfs::crashed() const {
  absl::MutexLock lock(&mu_);
  return dead_;
}

void FaultVfs::FailWritesAfter(int64_t n, int rc) {
  absl::MutexLock lock(&mu_);
  fail_writes_after_ = n;
  fail_writes_rc_ = rc;
}

void FaultVfs::FailSyncsAfter(int64_t n, int rc) {
  absl::MutexLock lock(&mu_);
  fail_syncs_after_ = n;
  fail_syncs_rc_ = rc;
}

void FaultVfs::ClearFaults() {
  absl::MutexLock lock(&mu_);
  crash_after_ = -1;
  fail_writes_after_ = -1;
  fail_syncs_after_ = -1;
}

int64_t FaultVfs::ops() const {
  absl::MutexLock lock(&mu_);
  return ops_;
}

absl::Status FaultVfs::DropUnsyncedAndRevive(std::mt19937_64* keep_some) {
  absl::MutexLock lock(&mu_);
  for (auto& [path, st] : files_) {
    int fd = ::open(path.c_str(), O_RDWR);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      return absl::InternalError(
          absl::StrCat("restore ", path, ": open: ", std::strerror(errno)));
    }
    bool ok = true;
    for (auto it = st.undo.rbegin(); ok && it != st.undo.rend(); ++it) {
      if (keep_some != nullptr && (*keep_some)() % 2 == 0) continue;
      ok = ::pwrite(fd, it->old.data(), it->old.size(), it->offset) ==
           static_cast<ssize_t>(it->old.size());
    }
    off_t size = st.synced_size;
    if (keep_some != nullptr) {
      const off_t now = ::lseek(fd, 0, SEEK_END);
      if (now > size) size += (*keep_some)() % (now - size + 1);
    }
    ok = ok && ::ftruncate(fd, size) == 0 && (!real_sync_ || ::fsync(fd) == 0);
    const int err = errno;
    ::close(fd);
    if (!ok) {
      return absl::InternalError(
          absl::StrCat("restore ", path, ": ", std::strerror(err)));
    }
    st.undo.clear();
  }
  dead_ = false;
  crash_after_ = -1;
  fail_writes_after_ = -1;
  fail_syncs_after_ = -1;
  return absl::OkStatus();
}

}  // namespace berth::storage
