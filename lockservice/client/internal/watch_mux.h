// WatchMux: every Watch of one Client shares one gRPC Watch stream, the way
// etcd clients multiplex watches. Each watch has a client-chosen id, unique
// for the life of the mux, that its create request, cancel request and
// every response carry. One thread per mux reads the stream and hands each
// response to its watch; when the stream breaks it reconnects (to the
// leader if known) and re-creates every live watch from the revision that
// watch asks for, so each one resumes at its own place.
//
// Watches that are alike (same key, range and prev_kv) and start "from
// now" share one server-side watch: the server then sends each change once
// per stream instead of once per watch, and the mux hands it to every
// member. A member that joins an existing server watch may therefore also
// see changes committed a moment before it started (never fewer changes).
// A watch with an explicit start revision gets its own server watch, and
// after a reconnect each server watch resumes from the earliest revision
// any of its members still needs.
//
// The stream exists only while at least one watch does.
//
// Thread safety: all methods are thread-safe. Handlers run on the mux
// thread, one at a time; they may call Add and Remove (also for their own
// watch). Ownership: the mux borrows the Router, which must outlive it; the
// mux must outlive every watch added to it.
#ifndef BERTH_LOCKSERVICE_CLIENT_INTERNAL_WATCH_MUX_H_
#define BERTH_LOCKSERVICE_CLIENT_INTERNAL_WATCH_MUX_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "proto/lock.grpc.pb.h"

namespace berth::lock::internal {

class Router;

// What a watch tells the mux after handling one of its responses.
enum class WatchVerdict : int {
  kContinue,   // keep going
  kEnded,      // the watch is over; forget it (the server already did)
  kReconnect,  // the server redirected: reopen the stream elsewhere
};

struct WatchHandlers {
  // The create request to (re)open the watch with, resuming where it left
  // off. Its watch_id is overwritten by the mux.
  std::function<lockpb::WatchCreateRequest()> create;
  std::function<WatchVerdict(const lockpb::WatchResponse&)> on_response;
  // The stream failed for good (the server rejected it): the watch is over.
  std::function<void(const grpc::Status&, const std::string& addr)> on_error;
};

class WatchMux {
 public:
  explicit WatchMux(Router* router) : router_(router) {}
  // Ends the stream. Every watch must have been removed.
  ~WatchMux();
  WatchMux(const WatchMux&) = delete;
  WatchMux& operator=(const WatchMux&) = delete;

  // Registers a watch and opens it on the stream; returns its id.
  int64_t Add(WatchHandlers handlers);
  // Cancels the watch on the server and forgets it. On return none of its
  // handlers is running or will run, unless Remove is called from one of
  // them (then that one call finishes normally).
  void Remove(int64_t id);

 private:
  struct Watch {
    WatchHandlers handlers;
    int64_t group;  // server watch id
  };
  // One server-side watch and the local watches it feeds.
  struct Group {
    std::string spec;  // key, range_end and prev_kv: what members share
    std::vector<int64_t> members;
    // New "from now" watches may join: it was created from now on this
    // stream, so it never replays history.
    bool joinable = false;
  };

  void Loop();
  // Runs one stream until it breaks, is redirected or becomes idle. Sets
  // `progressed` if any response arrived, and `redirected` if a replica
  // named the leader (the Router now points there). True if the next
  // stream may open at once (we hung up ourselves), false if it should
  // back off first (Loop skips that wait for a few redirects in a row).
  bool RunStream(bool* progressed, bool* redirected);
  // Writes on the stream of `generation`; false if that stream is gone.
  bool Send(const lockpb::WatchRequest& req, uint64_t generation);
  // The create request that (re)opens group `gid`.
  lockpb::WatchRequest GroupCreateLocked(int64_t gid, const Group& g)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets local watch `id` (and its group once empty). Returns the group
  // id to cancel on the server, or 0.
  int64_t ForgetLocked(int64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls `fn` for watch `id` with mu_ released, keeping Remove(id) waiting
  // meanwhile. False if the watch is gone.
  bool Dispatch(int64_t id,
                const std::function<void(const WatchHandlers&)>& fn);

  Router* const router_;

  // Serializes writes (gRPC allows one at a time per stream) and keeps
  // Finish from racing a write. Taken before mu_.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  // Local watch id -> watch, and server watch id -> group. Both kinds of
  // id come from next_id_.
  std::map<int64_t, std::shared_ptr<Watch>> watches_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, Group> groups_ ABSL_GUARDED_BY(mu_);
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  // The watch whose handler runs right now (0: none).
  int64_t dispatching_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  // The live stream, its context and its generation (bumped per stream).
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpc::ClientReaderWriter<lockpb::WatchRequest, lockpb::WatchResponse>* stream_
      ABSL_GUARDED_BY(mu_) = nullptr;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  // We hung up ourselves (idle or shutting down): not a replica failure.
  bool hung_up_ ABSL_GUARDED_BY(mu_) = false;
  std::thread::id thread_id_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // started by the first Add
};

}  // namespace berth::lock::internal

#endif  // BERTH_LOCKSERVICE_CLIENT_INTERNAL_WATCH_MUX_H_
