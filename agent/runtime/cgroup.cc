#include "agent/runtime/cgroup.h"

#include <fcntl.h>
#include <libcgroup.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace berth::agent {
namespace {

constexpr int64_t kCfsPeriodUs = 100'000;

absl::Status CgError(int rc, const std::string& what) {
  std::string detail = cgroup_strerror(rc);
  if (rc == ECGOTHER) detail = strerror(cgroup_get_last_errno());
  return absl::InternalError(absl::StrCat(what, ": ", detail));
}

std::vector<const char*> Controllers(CgroupVersion v) {
  if (v == CgroupVersion::kV2) return {"cpu", "memory", "pids"};
  return {"cpu", "cpuacct", "memory", "pids"};
}

struct HandleDeleter {
  void operator()(struct cgroup* cg) const { cgroup_free(&cg); }
};
using Handle = std::unique_ptr<struct cgroup, HandleDeleter>;

bool MemswSupported() {
  char* mount = nullptr;
  if (cgroup_get_subsys_mount_point("memory", &mount) != 0) return false;
  std::string file = absl::StrCat(mount, "/memory.memsw.limit_in_bytes");
  free(mount);
  return access(file.c_str(), F_OK) == 0;
}

int64_t Shares(int64_t request_millicores) {
  if (request_millicores <= 0) return 1024;  // the kernel default
  return std::max<int64_t>(2, request_millicores * 1024 / 1000);
}

// Adds the limit values for `controller`, in the order they must be written.
int AddLimits(CgroupVersion v, struct cgroup_controller* c,
              const std::string& controller, const Resources& r) {
  int rc = 0;
  auto add = [&](const char* name, const std::string& value) {
    if (rc == 0) rc = cgroup_add_value_string(c, name, value.c_str());
  };
  const std::string mem = r.memory_bytes > 0
                              ? absl::StrCat(r.memory_bytes)
                              : (v == CgroupVersion::kV1 ? "-1" : "max");
  const std::string pids = r.pids_max > 0 ? absl::StrCat(r.pids_max) : "max";
  if (v == CgroupVersion::kV1) {
    if (controller == "cpu") {
      add("cpu.cfs_period_us", absl::StrCat(kCfsPeriodUs));
      add("cpu.cfs_quota_us",
          r.cpu_limit_millicores > 0
              ? absl::StrCat(r.cpu_limit_millicores * kCfsPeriodUs / 1000)
              : "-1");
      add("cpu.shares", absl::StrCat(Shares(r.cpu_request_millicores)));
    } else if (controller == "memory") {
      add("memory.limit_in_bytes", mem);
      // Without this the task could swap past its limit instead of OOMing.
      if (MemswSupported()) add("memory.memsw.limit_in_bytes", mem);
    } else if (controller == "pids") {
      add("pids.max", pids);
    }
  } else {
    if (controller == "cpu") {
      add("cpu.max",
          r.cpu_limit_millicores > 0
              ? absl::StrCat(r.cpu_limit_millicores * kCfsPeriodUs / 1000, " ",
                             kCfsPeriodUs)
              : absl::StrCat("max ", kCfsPeriodUs));
      // Map shares [2, 262144] onto weight [1, 10000], as runc does.
      add("cpu.weight",
          absl::StrCat(1 + ((Shares(r.cpu_request_millicores) - 2) * 9999) /
                               262142));
    } else if (controller == "memory") {
      add("memory.max", mem);
      add("memory.swap.max", r.memory_bytes > 0 ? "0" : "max");
    } else if (controller == "pids") {
      add("pids.max", pids);
    }
  }
  return rc;
}

// The lines of one control file of the group at `path`. Stats reads its
// few files this way: cgroup_get_cgroup reads every file of every
// controller (about 80 here, some 250 system calls), and an agent reads
// stats twice per task exit and for every running task it samples.
absl::StatusOr<std::vector<std::string>> ReadLines(const char* controller,
                                                   const std::string& path,
                                                   const char* file) {
  char line[512];
  void* handle = nullptr;
  int rc =
      cgroup_read_value_begin(controller, path.c_str(), const_cast<char*>(file),
                              &handle, line, sizeof(line));
  std::vector<std::string> out;
  while (rc == 0) {
    out.emplace_back(absl::StripTrailingAsciiWhitespace(line));
    rc = cgroup_read_value_next(&handle, line, sizeof(line));
  }
  if (handle != nullptr) cgroup_read_value_end(&handle);
  if (rc != ECGEOF) {
    return CgError(rc, absl::StrCat("read ", file, " of cgroup ", path));
  }
  return out;
}

uint64_t ValueOr0(const absl::StatusOr<std::vector<std::string>>& lines) {
  uint64_t v = 0;
  if (!lines.ok() || lines->empty() || !absl::SimpleAtoi((*lines)[0], &v)) {
    return 0;
  }
  return v;
}

// A "key value" line from a flat-keyed file such as memory.oom_control.
std::optional<uint64_t> KeyedValue(
    const absl::StatusOr<std::vector<std::string>>& lines,
    absl::string_view key) {
  if (!lines.ok()) return std::nullopt;
  std::optional<uint64_t> out;
  for (absl::string_view line : *lines) {
    std::vector<absl::string_view> kv =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t v = 0;
    if (kv.size() == 2 && kv[0] == key && absl::SimpleAtoi(kv[1], &v)) out = v;
  }
  return out;
}

absl::StatusOr<std::string> MountPoint(const std::string& controller) {
  char* mount = nullptr;
  int rc = cgroup_get_subsys_mount_point(controller.c_str(), &mount);
  if (rc != 0) return CgError(rc, absl::StrCat("mount point of ", controller));
  std::string out = mount;
  free(mount);
  return out;
}

}  // namespace

absl::StatusOr<CgroupVersion> Cgroup::Init() {
  static std::once_flag once;
  static int rc = 0;
  static CgroupVersion version = CgroupVersion::kV1;
  std::call_once(once, [] {
    rc = cgroup_init();
    struct statfs fs;
    if (statfs("/sys/fs/cgroup", &fs) == 0 &&
        fs.f_type == CGROUP2_SUPER_MAGIC) {
      version = CgroupVersion::kV2;
    }
  });
  if (rc != 0) return CgError(rc, "cgroup_init");
  return version;
}

Cgroup::Cgroup(std::string path, CgroupVersion version)
    : path_(std::move(path)), version_(version) {}

Cgroup::~Cgroup() = default;

struct cgroup* Cgroup::NewHandle(bool with_limits, const Resources& limits,
                                 absl::Status* status) {
  struct cgroup* cg = cgroup_new_cgroup(path_.c_str());
  if (cg == nullptr) {
    *status = absl::InternalError(absl::StrCat("cgroup_new_cgroup ", path_));
    return nullptr;
  }
  for (const char* name : Controllers(version_)) {
    struct cgroup_controller* c = cgroup_add_controller(cg, name);
    int rc = c == nullptr ? ECGINVAL : 0;
    if (rc == 0 && with_limits) rc = AddLimits(version_, c, name, limits);
    if (rc != 0) {
      *status =
          CgError(rc, absl::StrCat("cgroup ", path_, " controller ", name));
      cgroup_free(&cg);
      return nullptr;
    }
  }
  return cg;
}

absl::StatusOr<std::unique_ptr<Cgroup>> Cgroup::Create(
    const std::string& path, const Resources& limits) {
  absl::StatusOr<CgroupVersion> v = Init();
  if (!v.ok()) return v.status();
  std::unique_ptr<Cgroup> cg(new Cgroup(path, *v));
  absl::Status status;
  Handle h(cg->NewHandle(/*with_limits=*/true, limits, &status));
  if (h == nullptr) return status;
  // ignore_ownership: the agent owns every group it makes (root), and
  // libcgroup would otherwise chown and chmod each file of each new
  // directory, about 270 system calls per task (strace).
  if (int rc = cgroup_create_cgroup(h.get(), /*ignore_ownership=*/1); rc != 0) {
    // A half-made group (e.g. a bad value after mkdir) must not linger.
    cgroup_delete_cgroup_ext(h.get(), CGFLAG_DELETE_EMPTY_ONLY);
    return CgError(rc, absl::StrCat("create cgroup ", path));
  }
  return cg;
}

absl::StatusOr<std::unique_ptr<Cgroup>> Cgroup::Open(const std::string& path) {
  absl::StatusOr<CgroupVersion> v = Init();
  if (!v.ok()) return v.status();
  std::unique_ptr<Cgroup> cg(new Cgroup(path, *v));
  for (const char* name : Controllers(*v)) {
    absl::StatusOr<std::string> dir = cg->Dir(name);
    if (!dir.ok()) return dir.status();
    if (access(dir->c_str(), F_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("cgroup ", *dir, " is gone"));
    }
  }
  return cg;
}

absl::Status Cgroup::Update(const Resources& limits) {
  absl::Status status;
  if (version_ == CgroupVersion::kV1 && MemswSupported()) {
    // memsw must stay >= limit at every step; lift it first.
    Handle lift(cgroup_new_cgroup(path_.c_str()));
    struct cgroup_controller* c = cgroup_add_controller(lift.get(), "memory");
    if (c != nullptr) {
      cgroup_add_value_string(c, "memory.memsw.limit_in_bytes", "-1");
      if (int rc = cgroup_modify_cgroup(lift.get()); rc != 0) {
        return CgError(rc, absl::StrCat("update cgroup ", path_));
      }
    }
  }
  Handle h(NewHandle(/*with_limits=*/true, limits, &status));
  if (h == nullptr) return status;
  if (int rc = cgroup_modify_cgroup(h.get()); rc != 0) {
    return CgError(rc, absl::StrCat("update cgroup ", path_));
  }
  return absl::OkStatus();
}

absl::Status Cgroup::Attach(pid_t pid) {
  absl::Status status;
  Handle h(NewHandle(/*with_limits=*/false, {}, &status));
  if (h == nullptr) return status;
  if (int rc = cgroup_attach_task_pid(h.get(), pid); rc != 0) {
    return CgError(rc, absl::StrCat("attach pid ", pid, " to cgroup ", path_));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Fd>> Cgroup::OpenSelfJoin() {
  if (version_ != CgroupVersion::kV1) {
    return absl::UnimplementedError("self-join needs cgroup v1 tasks files");
  }
  std::vector<Fd> fds;
  for (const char* name : Controllers(version_)) {
    absl::StatusOr<std::string> dir = Dir(name);
    if (!dir.ok()) return dir.status();
    const std::string file = absl::StrCat(*dir, "/tasks");
    Fd fd(open(file.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) {
      return absl::ErrnoToStatus(errno, absl::StrCat("open ", file));
    }
    fds.push_back(std::move(fd));
  }
  return fds;
}

absl::StatusOr<CgroupStats> Cgroup::Stats() {
  auto read = [&](const char* controller, const char* file) {
    return ReadLines(controller, path_, file);
  };
  // Read first: a group that is gone is an error, not a row of zeros.
  absl::StatusOr<std::vector<std::string>> pids = read("pids", "pids.current");
  if (!pids.ok()) return pids.status();
  CgroupStats s;
  s.usage.pids = ValueOr0(pids);
  if (version_ == CgroupVersion::kV1) {
    s.usage.cpu_ns = ValueOr0(read("cpuacct", "cpuacct.usage"));
    s.usage.memory_bytes = ValueOr0(read("memory", "memory.usage_in_bytes"));
    s.usage.memory_peak_bytes =
        ValueOr0(read("memory", "memory.max_usage_in_bytes"));
    s.memory_failcnt = ValueOr0(read("memory", "memory.failcnt"));
    s.oom_kills = KeyedValue(read("memory", "memory.oom_control"), "oom_kill");
  } else {
    std::optional<uint64_t> usec =
        KeyedValue(read("cpu", "cpu.stat"), "usage_usec");
    s.usage.cpu_ns = usec.value_or(0) * 1000;
    s.usage.memory_bytes = ValueOr0(read("memory", "memory.current"));
    s.usage.memory_peak_bytes = ValueOr0(read("memory", "memory.peak"));
    s.oom_kills = KeyedValue(read("memory", "memory.events"), "oom_kill");
  }
  return s;
}

absl::StatusOr<std::vector<pid_t>> Cgroup::Procs() {
  pid_t* pids = nullptr;
  int n = 0;
  int rc = cgroup_get_procs(const_cast<char*>(path_.c_str()),
                            const_cast<char*>("pids"), &pids, &n);
  if (rc != 0) return CgError(rc, absl::StrCat("list procs of ", path_));
  std::vector<pid_t> out(pids, pids + n);
  free(pids);
  return out;
}

absl::Status Cgroup::Signal(int sig) {
  absl::StatusOr<std::vector<pid_t>> procs = Procs();
  if (!procs.ok()) return procs.status();
  for (pid_t p : *procs) kill(p, sig);  // ESRCH: it exited meanwhile
  return absl::OkStatus();
}

absl::Status Cgroup::KillAll(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  absl::Duration backoff = absl::Microseconds(100);
  while (true) {
    absl::StatusOr<std::vector<pid_t>> procs = Procs();
    if (!procs.ok()) return procs.status();
    if (procs->empty()) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          procs->size(), " processes survive SIGKILL in cgroup ", path_));
    }
    for (pid_t p : *procs) kill(p, SIGKILL);
    // Killed processes leave the group only once the kernel tears them down.
    std::this_thread::sleep_for(absl::ToChronoMicroseconds(backoff));
    backoff = std::min(backoff * 2, absl::Milliseconds(20));
  }
}

absl::Status Cgroup::Destroy() {
  if (destroyed_) return absl::OkStatus();
  Handle h(cgroup_new_cgroup(path_.c_str()));
  for (const char* name : Controllers(version_)) {
    cgroup_add_controller(h.get(), name);
  }
  if (int rc = cgroup_delete_cgroup_ext(h.get(), CGFLAG_DELETE_EMPTY_ONLY);
      rc != 0 && rc != ECGROUPNOTEXIST) {
    return absl::FailedPreconditionError(absl::StrCat(
        "delete cgroup ", path_, ": ", cgroup_strerror(rc),
        rc == ECGOTHER
            ? absl::StrCat(" (", strerror(cgroup_get_last_errno()), ")")
            : ""));
  }
  destroyed_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::string> Cgroup::Read(const std::string& controller,
                                         const std::string& file) {
  absl::StatusOr<std::vector<std::string>> lines =
      ReadLines(controller.c_str(), path_, file.c_str());
  if (!lines.ok()) {
    return absl::NotFoundError(absl::StrCat("no ", file, " in cgroup ", path_,
                                            ": ", lines.status().message()));
  }
  return absl::StrJoin(*lines, "\n");
}

absl::StatusOr<std::string> Cgroup::Dir(const std::string& controller) {
  absl::StatusOr<std::string> mount = MountPoint(controller);
  if (!mount.ok()) return mount.status();
  return absl::StrCat(*mount, "/", path_);
}

absl::Status Cgroup::DestroyTree(const std::string& path) {
  absl::StatusOr<CgroupVersion> v = Init();
  if (!v.ok()) return v.status();
  // Kill first, deepest groups included, so the recursive delete has
  // nothing to migrate.
  for (const char* name : Controllers(*v)) {
    absl::StatusOr<std::string> mount = MountPoint(name);
    if (!mount.ok()) return mount.status();
    std::filesystem::path root = std::filesystem::path(*mount) / path;
    std::error_code ec;
    if (!std::filesystem::exists(root, ec)) continue;
    std::vector<std::string> groups = {path};
    for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
         !ec && it != std::filesystem::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_directory()) {
        groups.push_back(
            std::filesystem::relative(it->path(), *mount).string());
      }
    }
    for (const std::string& g : groups) {
      Cgroup cg(g, *v);
      absl::Status s = cg.KillAll(absl::Seconds(10));
      if (absl::IsDeadlineExceeded(s)) return s;
    }
    std::sort(groups.begin(), groups.end(),
              [](const std::string& a, const std::string& b) {
                return a.size() > b.size();  // children before parents
              });
    for (const std::string& g : groups) {
      std::filesystem::path dir = std::filesystem::path(*mount) / g;
      if (rmdir(dir.c_str()) != 0 && errno != ENOENT) {
        return absl::ErrnoToStatus(errno, absl::StrCat("rmdir ", dir.string()));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::agent
