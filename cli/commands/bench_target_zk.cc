// The ZooKeeper BenchTarget, through the multi-threaded C client
// (libzookeeper_mt). Each BenchClient has its own session (zhandle) on one
// server, servers taken round-robin.
//
//   put            zoo_set, creating the node (and its parents) if missing;
//   get            zoo_get; linearizable mode is zoo_async (sync) + zoo_get,
//                  which is NOT equivalent to a linearizable read: ZooKeeper
//                  only orders the read after the sync on that server;
//   cas            zoo_get for the node's version, zoo_set with it;
//   lock           the standard recipe (bench_zk_recipe.h): an
//                  ephemeral-sequential child, watching its predecessor;
//   sessions       one zhandle per session; the C client renews it by itself
//                  (pings every timeout/3), so KeepAlive only checks that it
//                  is still connected: NOT equivalent to a renewal request;
//   watch          one data watch per session on the written node, re-armed
//                  (with a read, since ZooKeeper events carry no data) after
//                  every event and fanned out to the client's watchers. Puts
//                  that land while the watch is re-armed coalesce, and show
//                  up as missing events.
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cli/commands/bench_target.h"
#include "cli/commands/bench_zk_recipe.h"
#include "common/clock.h"

#if BERTH_HAVE_ZOOKEEPER
// The synchronous API is declared only for the multi-threaded library.
#ifndef THREADED
#define THREADED
#endif
#include <zookeeper/zookeeper.h>
#endif

namespace berth::cli {

#if BERTH_HAVE_ZOOKEEPER

namespace {

absl::Status ZkError(int rc, absl::string_view what, absl::string_view path) {
  return absl::UnavailableError(
      absl::StrCat("zookeeper ", what, " ", path, ": ", zerror(rc)));
}

// One ZooKeeper session. zookeeper_close() joins the client's threads, so
// no callback with `this` as context runs after the destructor.
class ZkHandle {
 public:
  static absl::StatusOr<std::unique_ptr<ZkHandle>> Open(
      const std::string& host, absl::Duration timeout) {
    auto h = std::unique_ptr<ZkHandle>(new ZkHandle);
    h->zh_ =
        zookeeper_init(host.c_str(), &ZkHandle::OnSession,
                       static_cast<int>(absl::ToInt64Milliseconds(timeout)),
                       nullptr, h.get(), 0);
    if (h->zh_ == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("zookeeper_init(", host, ") failed"));
    }
    absl::MutexLock l(&h->mu_);
    auto up = [p = h.get()]()
                  ABSL_NO_THREAD_SAFETY_ANALYSIS { return p->connected_; };
    if (!h->mu_.AwaitWithTimeout(absl::Condition(&up), absl::Seconds(30))) {
      return absl::DeadlineExceededError(
          absl::StrCat("no zookeeper session with ", host, " within 30s"));
    }
    return h;
  }
  ~ZkHandle() {
    if (zh_ != nullptr) zookeeper_close(zh_);
  }
  zhandle_t* zh() const { return zh_; }
  bool connected() const { return zoo_state(zh_) == ZOO_CONNECTED_STATE; }

 private:
  ZkHandle() = default;
  static void OnSession(zhandle_t*, int type, int state, const char*,
                        void* ctx) {
    if (type != ZOO_SESSION_EVENT) return;
    auto* self = static_cast<ZkHandle*>(ctx);
    absl::MutexLock l(&self->mu_);
    if (state == ZOO_CONNECTED_STATE) self->connected_ = true;
  }

  zhandle_t* zh_ = nullptr;
  absl::Mutex mu_;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
};

// Waits for one asynchronous completion.
struct Completion {
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  int rc ABSL_GUARDED_BY(mu) = 0;

  static void OnString(int rc, const char*, const void* data) {
    auto* c = static_cast<Completion*>(const_cast<void*>(data));
    absl::MutexLock l(&c->mu);
    c->rc = rc;
    c->done = true;
  }
  int Wait() {
    absl::MutexLock l(&mu);
    mu.Await(absl::Condition(&done));
    return rc;
  }
};

// The data watch of one session on one node, shared by the session's
// watchers; see the file comment. Deliveries happen under `mu_`, so
// Remove() is a barrier for that watcher.
class ZkWatchHub {
 public:
  ZkWatchHub(zhandle_t* zh, std::string path)
      : zh_(zh), path_(std::move(path)) {}

  absl::Status Arm() {
    char buf[4096];
    int len = sizeof(buf);
    struct Stat stat;
    int rc = zoo_wget(zh_, path_.c_str(), &ZkWatchHub::OnWatch, this, buf, &len,
                      &stat);
    if (rc != ZOK) return ZkError(rc, "wget", path_);
    absl::MutexLock l(&mu_);
    last_.assign(buf, len > 0 ? len : 0);
    return absl::OkStatus();
  }
  int64_t Add(WatchEventFn fn) {
    absl::MutexLock l(&mu_);
    fns_[next_id_] = std::move(fn);
    return next_id_++;
  }
  void Remove(int64_t id) {
    absl::MutexLock l(&mu_);
    fns_.erase(id);
  }

 private:
  static void OnWatch(zhandle_t* zh, int type, int, const char*, void* ctx) {
    if (type != ZOO_CHANGED_EVENT && type != ZOO_CREATED_EVENT) return;
    auto* self = static_cast<ZkWatchHub*>(ctx);
    zoo_awget(zh, self->path_.c_str(), &ZkWatchHub::OnWatch, self,
              &ZkWatchHub::OnData, self);
  }
  static void OnData(int rc, const char* value, int len, const struct Stat*,
                     const void* data) {
    auto* self = static_cast<ZkWatchHub*>(const_cast<void*>(data));
    absl::MutexLock l(&self->mu_);
    if (rc != ZOK) {
      for (auto& [id, fn] : self->fns_) fn(ZkError(rc, "re-arm", self->path_));
      return;
    }
    absl::string_view v(value, len > 0 ? len : 0);
    if (v == self->last_) return;
    self->last_.assign(v.data(), v.size());
    for (auto& [id, fn] : self->fns_) fn(v);
  }

  zhandle_t* zh_;
  const std::string path_;
  absl::Mutex mu_;
  std::string last_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, WatchEventFn> fns_ ABSL_GUARDED_BY(mu_);
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

class ZkWatch : public BenchWatch {
 public:
  ZkWatch(ZkWatchHub* hub, int64_t id) : hub_(hub), id_(id) {}
  ~ZkWatch() override { hub_->Remove(id_); }

 private:
  ZkWatchHub* hub_;
  int64_t id_;
};

class ZkTarget;

class ZkClient : public BenchClient {
 public:
  ZkClient(ZkTarget* target, std::unique_ptr<ZkHandle> handle)
      : target_(target), handle_(std::move(handle)) {}
  ~ZkClient() override {
    sessions_.clear();
    handle_.reset();  // no callback runs after this
    hubs_.clear();
  }

  absl::Status Put(absl::string_view key, absl::string_view value) override {
    const std::string path(key);
    int rc = zoo_set(zh(), path.c_str(), value.data(),
                     static_cast<int>(value.size()), -1);
    if (rc == ZNONODE) {
      absl::Status st = EnsureParents(path);
      if (!st.ok()) return st;
      rc = zoo_create(zh(), path.c_str(), value.data(),
                      static_cast<int>(value.size()), &ZOO_OPEN_ACL_UNSAFE,
                      ZOO_PERSISTENT, nullptr, 0);
      if (rc == ZNODEEXISTS) {
        rc = zoo_set(zh(), path.c_str(), value.data(),
                     static_cast<int>(value.size()), -1);
      }
    }
    return rc == ZOK ? absl::OkStatus() : ZkError(rc, "set", path);
  }

  absl::Status Get(absl::string_view key, bool serializable) override {
    const std::string path(key);
    if (!serializable) {
      Completion c;
      int rc = zoo_async(zh(), path.c_str(), &Completion::OnString, &c);
      if (rc != ZOK) return ZkError(rc, "sync", path);
      rc = c.Wait();
      if (rc != ZOK) return ZkError(rc, "sync", path);
    }
    char buf[4096];
    int len = sizeof(buf);
    struct Stat stat;
    int rc = zoo_get(zh(), path.c_str(), 0, buf, &len, &stat);
    if (rc == ZOK || rc == ZNONODE) return absl::OkStatus();
    return ZkError(rc, "get", path);
  }

  absl::StatusOr<bool> CompareAndSwap(absl::string_view key,
                                      absl::string_view value) override {
    const std::string path(key);
    char buf[4096];
    int len = sizeof(buf);
    struct Stat stat;
    int rc = zoo_get(zh(), path.c_str(), 0, buf, &len, &stat);
    if (rc == ZNONODE) {
      absl::Status st = EnsureParents(path);
      if (!st.ok()) return st;
      rc = zoo_create(zh(), path.c_str(), value.data(),
                      static_cast<int>(value.size()), &ZOO_OPEN_ACL_UNSAFE,
                      ZOO_PERSISTENT, nullptr, 0);
      if (rc == ZNODEEXISTS) return false;
      if (rc != ZOK) return ZkError(rc, "create", path);
      return true;
    }
    if (rc != ZOK) return ZkError(rc, "get", path);
    rc = zoo_set(zh(), path.c_str(), value.data(),
                 static_cast<int>(value.size()), stat.version);
    if (rc == ZBADVERSION) return false;
    if (rc != ZOK) return ZkError(rc, "set", path);
    return true;
  }

  absl::StatusOr<absl::Time> LockHandoff(absl::string_view name,
                                         Clock* clock) override {
    const std::string dir(name);
    absl::Status st = EnsurePath(dir);
    if (!st.ok()) return st;
    const std::string prefix = dir + "/n-";
    char created[512];
    int rc = zoo_create(zh(), prefix.c_str(), "", 0, &ZOO_OPEN_ACL_UNSAFE,
                        ZOO_EPHEMERAL_SEQUENTIAL, created, sizeof(created));
    if (rc != ZOK) return ZkError(rc, "create", prefix);
    const std::string mine(created);
    const std::string my_name = mine.substr(dir.size() + 1);
    const absl::Time give_up = clock->Monotonic() + absl::Seconds(60);
    while (true) {
      struct String_vector kids = {0, nullptr};
      rc = zoo_get_children(zh(), dir.c_str(), 0, &kids);
      if (rc != ZOK) return ZkError(rc, "get_children", dir);
      std::vector<std::string> children(kids.data, kids.data + kids.count);
      deallocate_String_vector(&kids);
      auto d = DecideZkLock(my_name, children);
      if (!d.ok()) return d.status();
      if (d->granted) break;
      const std::string pred = dir + "/" + d->predecessor;
      int64_t seen;
      {
        absl::MutexLock l(&wake_mu_);
        seen = wakes_;
      }
      struct Stat stat;
      rc = zoo_wexists(zh(), pred.c_str(), &ZkClient::OnWake, this, &stat);
      if (rc == ZNONODE) continue;  // gone already: look again
      if (rc != ZOK) return ZkError(rc, "exists", pred);
      absl::MutexLock l(&wake_mu_);
      auto woken = [this, seen]()
                       ABSL_NO_THREAD_SAFETY_ANALYSIS { return wakes_ > seen; };
      if (!wake_mu_.AwaitWithTimeout(absl::Condition(&woken),
                                     give_up - clock->Monotonic())) {
        return absl::DeadlineExceededError(
            absl::StrCat("zookeeper lock ", dir, " not granted within 60s"));
      }
    }
    const absl::Time granted = clock->Monotonic();
    rc = zoo_delete(zh(), mine.c_str(), -1);
    if (rc != ZOK) return ZkError(rc, "delete", mine);
    return granted;
  }

  absl::StatusOr<std::unique_ptr<BenchWatch>> Watch(
      absl::string_view prefix, WatchEventFn on_event) override {
    const std::string path = absl::StrCat(prefix, kWatchLeaf);
    auto it = hubs_.find(path);
    if (it == hubs_.end()) {
      // The node must exist for a data watch; create it empty if needed.
      absl::Status st = EnsurePath(path);
      if (!st.ok()) return st;
      auto hub = std::make_unique<ZkWatchHub>(zh(), path);
      st = hub->Arm();
      if (!st.ok()) return st;
      it = hubs_.emplace(path, std::move(hub)).first;
    }
    return std::make_unique<ZkWatch>(it->second.get(),
                                     it->second->Add(std::move(on_event)));
  }

  absl::StatusOr<int64_t> OpenSession(absl::Duration ttl) override;

  absl::Status KeepAlive(int64_t session) override {
    auto it = sessions_.find(session);
    if (it == sessions_.end()) {
      return absl::NotFoundError(absl::StrCat("no session ", session));
    }
    if (!it->second->connected()) {
      return absl::UnavailableError(
          absl::StrCat("zookeeper session ", session, " is not connected"));
    }
    return absl::OkStatus();
  }

  absl::Status CloseSession(int64_t session) override {
    sessions_.erase(session);
    return absl::OkStatus();
  }

 private:
  zhandle_t* zh() const { return handle_->zh(); }

  static void OnWake(zhandle_t*, int, int, const char*, void* ctx) {
    auto* self = static_cast<ZkClient*>(ctx);
    absl::MutexLock l(&self->wake_mu_);
    ++self->wakes_;
  }

  // Creates `path` and its ancestors as empty persistent nodes if missing.
  absl::Status EnsurePath(const std::string& path) {
    if (made_.contains(path)) return absl::OkStatus();
    absl::Status st = EnsureParents(path);
    if (!st.ok()) return st;
    int rc = zoo_create(zh(), path.c_str(), "", 0, &ZOO_OPEN_ACL_UNSAFE,
                        ZOO_PERSISTENT, nullptr, 0);
    if (rc != ZOK && rc != ZNODEEXISTS) return ZkError(rc, "create", path);
    made_.insert(path);
    return absl::OkStatus();
  }
  absl::Status EnsureParents(const std::string& path) {
    for (const std::string& a : ZkAncestors(path)) {
      if (made_.contains(a)) continue;
      int rc = zoo_create(zh(), a.c_str(), "", 0, &ZOO_OPEN_ACL_UNSAFE,
                          ZOO_PERSISTENT, nullptr, 0);
      if (rc != ZOK && rc != ZNODEEXISTS) return ZkError(rc, "create", a);
      made_.insert(a);
    }
    return absl::OkStatus();
  }

  ZkTarget* target_;
  std::unique_ptr<ZkHandle> handle_;
  std::set<std::string> made_;
  std::map<std::string, std::unique_ptr<ZkWatchHub>> hubs_;
  std::map<int64_t, std::unique_ptr<ZkHandle>> sessions_;
  int64_t next_session_ = 1;
  absl::Mutex wake_mu_;
  int64_t wakes_ ABSL_GUARDED_BY(wake_mu_) = 0;
};

class ZkTarget : public BenchTarget {
 public:
  explicit ZkTarget(PeerTargetOptions options) : options_(std::move(options)) {
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
  }
  std::string name() const override { return "zookeeper"; }

  // A server, round-robin, for the next session.
  const std::string& NextHost() {
    return options_.endpoints[next_.fetch_add(1) % options_.endpoints.size()];
  }

  absl::StatusOr<std::unique_ptr<BenchClient>> NewClient() override {
    auto h = ZkHandle::Open(NextHost(), options_.request_timeout);
    if (!h.ok()) return h.status();
    return std::make_unique<ZkClient>(this, *std::move(h));
  }

 private:
  PeerTargetOptions options_;
  std::atomic<size_t> next_{0};
};

absl::StatusOr<int64_t> ZkClient::OpenSession(absl::Duration ttl) {
  auto h = ZkHandle::Open(target_->NextHost(), ttl);
  if (!h.ok()) return h.status();
  const int64_t id = next_session_++;
  sessions_.emplace(id, *std::move(h));
  return id;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BenchTarget>> NewZooKeeperTarget(
    PeerTargetOptions options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError(
        "--target zookeeper needs --endpoints (e.g. 127.0.0.1:21811)");
  }
  return std::make_unique<ZkTarget>(std::move(options));
}

#else  // !BERTH_HAVE_ZOOKEEPER

absl::StatusOr<std::unique_ptr<BenchTarget>> NewZooKeeperTarget(
    PeerTargetOptions) {
  return absl::UnavailableError(
      "this berth was built without libzookeeper_mt (install "
      "libzookeeper-mt-dev and rebuild) so --target zookeeper is unavailable");
}

#endif  // BERTH_HAVE_ZOOKEEPER

}  // namespace berth::cli
