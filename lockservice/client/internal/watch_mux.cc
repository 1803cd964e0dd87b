#include "lockservice/client/internal/watch_mux.h"

#include <utility>
#include <vector>

#include "common/monotonic_wait.h"
#include "lockservice/client/internal/retry.h"
#include "lockservice/client/internal/router.h"

namespace berth::lock::internal {

WatchMux::~WatchMux() {
  {
    absl::MutexLock l(&mu_);
    shutdown_ = true;
    if (ctx_ != nullptr) {
      hung_up_ = true;
      ctx_->TryCancel();
    }
  }
  if (thread_.joinable()) thread_.join();
}

namespace {

std::string SpecOf(const lockpb::WatchCreateRequest& c) {
  std::string spec = c.key();
  spec.push_back('\0');
  spec += c.range_end();
  spec.push_back(c.prev_kv() ? '1' : '0');
  return spec;
}

}  // namespace

lockpb::WatchRequest WatchMux::GroupCreateLocked(int64_t gid, const Group& g) {
  lockpb::WatchRequest req;
  lockpb::WatchCreateRequest* create = req.mutable_create_request();
  // Resume from the earliest revision a member still needs; members that
  // have seen nothing yet (0) want whatever comes next.
  int64_t start = 0;
  for (size_t i = 0; i < g.members.size(); ++i) {
    lockpb::WatchCreateRequest c = watches_.at(g.members[i])->handlers.create();
    if (i == 0) *create = c;  // members share key, range and prev_kv
    if (c.start_revision() > 0 && (start == 0 || c.start_revision() < start)) {
      start = c.start_revision();
    }
  }
  create->set_start_revision(start);
  create->set_watch_id(gid);
  return req;
}

int64_t WatchMux::Add(WatchHandlers handlers) {
  lockpb::WatchCreateRequest create = handlers.create();
  const std::string spec = SpecOf(create);
  lockpb::WatchRequest req;
  int64_t id;
  uint64_t generation = 0;
  bool send = false;
  {
    absl::MutexLock l(&mu_);
    id = next_id_++;
    if (!thread_.joinable()) {
      thread_ = std::thread([this] { Loop(); });
      thread_id_ = thread_.get_id();
    }
    if (create.start_revision() == 0) {
      for (auto& [gid, g] : groups_) {
        if (!g.joinable || g.spec != spec) continue;
        g.members.push_back(id);
        watches_[id] = std::make_shared<Watch>(Watch{std::move(handlers), gid});
        return id;
      }
    }
    const int64_t gid = next_id_++;
    Group& g = groups_[gid];
    g.spec = spec;
    g.members.push_back(id);
    g.joinable = create.start_revision() == 0;
    watches_[id] = std::make_shared<Watch>(Watch{std::move(handlers), gid});
    // A live stream took its snapshot of watches already: this one is ours
    // to create. Otherwise the next stream's snapshot includes it.
    if (stream_ != nullptr) {
      send = true;
      generation = generation_;
      req = GroupCreateLocked(gid, g);
    }
  }
  if (send) Send(req, generation);
  return id;
}

int64_t WatchMux::ForgetLocked(int64_t id) {
  auto it = watches_.find(id);
  if (it == watches_.end()) return 0;
  const int64_t gid = it->second->group;
  watches_.erase(it);
  auto g = groups_.find(gid);
  if (g == groups_.end()) return 0;
  std::erase(g->second.members, id);
  if (!g->second.members.empty()) return 0;
  groups_.erase(g);
  return gid;
}

void WatchMux::Remove(int64_t id) {
  lockpb::WatchRequest req;
  uint64_t generation = 0;
  bool send = false;
  {
    absl::MutexLock l(&mu_);
    // Even when the watch is already gone (ended, or removed from its own
    // handler) that handler may still be running: wait it out.
    if (std::this_thread::get_id() != thread_id_) {
      auto idle = [this, id]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return dispatching_ != id;
      };
      mu_.Await(absl::Condition(&idle));
    }
    if (!watches_.contains(id)) return;
    const int64_t gid = ForgetLocked(id);
    if (stream_ != nullptr) {
      if (watches_.empty()) {
        // Nothing left to watch: close the stream rather than idle on it.
        hung_up_ = true;
        ctx_->TryCancel();
      } else if (gid != 0) {
        send = true;
        generation = generation_;
        req.mutable_cancel_request()->set_watch_id(gid);
      }
    }
  }
  if (send) Send(req, generation);
}

bool WatchMux::Send(const lockpb::WatchRequest& req, uint64_t generation) {
  absl::MutexLock w(&write_mu_);
  grpc::ClientReaderWriter<lockpb::WatchRequest, lockpb::WatchResponse>* s;
  {
    absl::MutexLock l(&mu_);
    if (generation != generation_ || stream_ == nullptr) return false;
    s = stream_;
  }
  // The stream stays valid: RunStream takes write_mu_ before Finish.
  return s->Write(req);
}

bool WatchMux::Dispatch(int64_t id,
                        const std::function<void(const WatchHandlers&)>& fn) {
  std::shared_ptr<Watch> w;
  {
    absl::MutexLock l(&mu_);
    auto it = watches_.find(id);
    if (it == watches_.end()) return false;
    w = it->second;
    dispatching_ = id;
  }
  fn(w->handlers);
  absl::MutexLock l(&mu_);
  dispatching_ = 0;
  return true;
}

bool WatchMux::RunStream(bool* progressed, bool* redirected_out) {
  Stubs* stubs = router_->Pick();
  grpc::ClientContext ctx;
  auto stream = stubs->watch->Watch(&ctx);
  std::vector<lockpb::WatchRequest> creates;
  uint64_t generation;
  {
    absl::MutexLock l(&mu_);
    if (shutdown_ || watches_.empty()) {
      ctx.TryCancel();
      (void)stream->Finish();
      return true;
    }
    ctx_ = &ctx;
    stream_ = stream.get();
    generation = ++generation_;
    hung_up_ = false;
    for (auto& [gid, g] : groups_) {
      creates.push_back(GroupCreateLocked(gid, g));
      // Resumed from a past revision, it may replay history that a new
      // "from now" watch must not see.
      g.joinable = creates.back().create_request().start_revision() == 0;
    }
  }
  bool writable = true;
  for (const lockpb::WatchRequest& req : creates) {
    if (!(writable = Send(req, generation))) break;
  }

  bool stream_open = false;
  bool redirected = false;
  lockpb::WatchResponse resp;
  while (writable && !redirected && (stream_open = stream->Read(&resp))) {
    router_->NoteHeader(resp.header());
    *progressed = true;
    std::vector<int64_t> members;
    {
      absl::MutexLock l(&mu_);
      auto g = groups_.find(resp.watch_id());
      // Responses for a watch removed meanwhile are dropped here.
      if (g != groups_.end()) members = g->second.members;
    }
    WatchVerdict verdict = WatchVerdict::kContinue;
    for (int64_t id : members) {
      WatchVerdict v = WatchVerdict::kContinue;
      Dispatch(id, [&](const WatchHandlers& h) { v = h.on_response(resp); });
      if (v == WatchVerdict::kEnded) {
        absl::MutexLock l(&mu_);
        ForgetLocked(id);  // the server already dropped its watch
      }
      if (v != WatchVerdict::kContinue) verdict = v;
    }
    if (verdict == WatchVerdict::kEnded) {
      absl::MutexLock l(&mu_);
      if (watches_.empty()) {
        hung_up_ = true;  // nothing left to watch: close, as Remove does
        break;
      }
    }
    redirected = verdict == WatchVerdict::kReconnect;
  }

  bool hung_up;
  {
    absl::MutexLock l(&mu_);
    stream_ = nullptr;
    ctx_ = nullptr;
    hung_up = hung_up_;
  }
  // Hang up only if the stream is still open (we stopped reading); after a
  // failed Read the server's status is what tells us where to go next.
  if (stream_open) ctx.TryCancel();
  { absl::MutexLock w(&write_mu_); }  // no Write is in flight past this point
  grpc::Status status = stream->Finish();
  if (hung_up) return true;
  if (redirected) {
    *redirected_out = true;  // the watch's handler noted the leader
    return false;
  }

  Classification c =
      Classify(status, Idempotency::kIdempotent, /*maybe_sent=*/true);
  switch (c.verdict) {
    case Verdict::kRedirect:
      if (!c.hint->addr.empty() && c.hint->addr != stubs->addr) {
        router_->NoteLeader(c.hint->addr);
        *redirected_out = true;
      }
      return false;
    case Verdict::kRetry:
      router_->NoteFailure(stubs->addr);
      return false;
    default:
      break;
  }
  if (status.ok() || status.error_code() == grpc::StatusCode::CANCELLED) {
    // The server closed the stream without a reason (shutdown); resume.
    router_->NoteFailure(stubs->addr);
    return false;
  }
  // Rejected for good: every watch on the stream ends with this status.
  while (true) {
    int64_t id;
    {
      absl::MutexLock l(&mu_);
      if (watches_.empty()) return false;
      id = watches_.begin()->first;
    }
    Dispatch(id,
             [&](const WatchHandlers& h) { h.on_error(status, stubs->addr); });
    absl::MutexLock l(&mu_);
    ForgetLocked(id);
  }
}

void WatchMux::Loop() {
  // A redirect names the leader: follow it without waiting, except when
  // replicas keep bouncing the stream (mid-election).
  constexpr int kMaxRedirectsAtOnce = 3;
  Backoff backoff = router_->NewBackoff();
  int redirects = 0;  // in a row, without a response in between
  absl::MutexLock l(&mu_);
  while (true) {
    auto wake = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return shutdown_ || !watches_.empty();
    };
    mu_.Await(absl::Condition(&wake));
    if (shutdown_) return;
    bool progressed = false;
    bool redirected = false;
    mu_.Unlock();
    const bool at_once = RunStream(&progressed, &redirected);
    mu_.Lock();
    if (progressed) {
      backoff.Reset();
      redirects = 0;
    }
    if (shutdown_) return;
    if (at_once || watches_.empty()) continue;
    if (redirected && ++redirects <= kMaxRedirectsAtOnce) continue;
    AwaitMonotonic(&mu_, absl::Condition(&shutdown_), backoff.Next());
  }
}

}  // namespace berth::lock::internal
