#include "lockservice/client/internal/keepalive_mux.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/client/internal/retry.h"
#include "lockservice/client/internal/router.h"
#include "proto/lock.grpc.pb.h"

namespace berth::lock::internal {
namespace {

// Renewals due within this much of one another go out in one wake-up (and
// one flush), a little early rather than in many small writes.
constexpr absl::Duration kCoalesce = absl::Milliseconds(50);

}  // namespace

struct KeepAliveMux::StreamOutcome {
  std::string addr;
  grpc::Status status;
  bool progressed = false;  // at least one renewal succeeded
  bool stuck = false;       // the replica stopped answering
  bool hung_up = false;     // we ended the stream ourselves
};

KeepAliveMux::~KeepAliveMux() {
  {
    absl::MutexLock l(&mu_);
    shutdown_ = true;
    if (ctx_ != nullptr) ctx_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

int64_t KeepAliveMux::Add(int64_t lease_id, absl::Duration ttl,
                          absl::Time expires_at, KeepAliveHandlers handlers) {
  absl::MutexLock l(&mu_);
  const int64_t handle = next_handle_++;
  Entry& e = entries_[handle];
  e.lease_id = lease_id;
  e.ttl = ttl;
  e.expires_at = expires_at;
  e.next_due = absl::InfinitePast();
  e.handlers = std::move(handlers);
  IndexLocked(handle, e);
  changed_ = true;
  if (!thread_.joinable()) {
    thread_ = std::thread([this] { Loop(); });
    thread_id_ = thread_.get_id();
  }
  return handle;
}

void KeepAliveMux::Remove(int64_t handle) {
  absl::MutexLock l(&mu_);
  if (std::this_thread::get_id() != thread_id_) {
    auto idle = [this, handle]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return dispatching_ != handle;
    };
    mu_.Await(absl::Condition(&idle));
  }
  auto it = entries_.find(handle);
  if (it != entries_.end()) {
    UnindexLocked(handle, it->second);
    entries_.erase(it);
  }
  changed_ = true;
}

absl::Time KeepAliveMux::EarliestExpiryLocked() const {
  return by_expiry_.empty() ? absl::InfiniteFuture()
                            : by_expiry_.begin()->first;
}

void KeepAliveMux::IndexLocked(int64_t handle, const Entry& e) {
  if (!e.lost.ok()) return;
  by_expiry_.emplace(e.expires_at, handle);
  if (!e.sent.has_value()) due_.emplace(e.next_due, handle);
}

void KeepAliveMux::UnindexLocked(int64_t handle, const Entry& e) {
  by_expiry_.erase({e.expires_at, handle});
  due_.erase({e.next_due, handle});
}

void KeepAliveMux::MarkLostLocked(int64_t handle, Entry& e, absl::Status why) {
  if (!e.lost.ok()) return;
  UnindexLocked(handle, e);
  e.lost = std::move(why);
  lost_.push_back(handle);
}

void KeepAliveMux::ExpireAndDispatchLocked() {
  const absl::Time now = clock_->Now();
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    const int64_t h = by_expiry_.begin()->second;
    Entry& e = entries_.at(h);
    // Name what the mux was waiting on when time ran out: after a
    // redirect the last error is the follower's, not the stream that
    // actually failed to renew.
    std::string waiting;
    if (!stream_addr_.empty() && !in_flight_.empty()) {
      waiting = absl::StrCat(
          "; no answer from ", stream_addr_, " for ",
          absl::FormatDuration(absl::Trunc(now - in_flight_.front().sent,
                                           absl::Milliseconds(1))));
    }
    MarkLostLocked(
        h, e,
        absl::UnavailableError(absl::StrCat(
            "session lease ", e.lease_id,
            " expired: no keepalive succeeded for ",
            absl::FormatDuration(e.ttl), waiting,
            last_error_.empty() ? "" : "; last error from ", last_error_)));
  }
  while (!lost_.empty()) {
    const int64_t handle = lost_.front();
    lost_.pop_front();
    auto it = entries_.find(handle);
    if (it == entries_.end()) continue;  // removed before its on_lost ran
    const absl::Status why = it->second.lost;
    std::function<void(const absl::Status&)> on_lost =
        it->second.handlers.on_lost;
    dispatching_ = handle;
    mu_.Unlock();
    if (on_lost) on_lost(why);
    mu_.Lock();
    dispatching_ = 0;
    entries_.erase(handle);  // a lost lease stays lost
  }
}

template <typename Stream>
void KeepAliveMux::ReadLoop(Stream* stream, grpc::ClientContext* ctx,
                            uint64_t generation, const std::string& addr) {
  lockpb::LeaseKeepAliveResponse resp;
  while (stream->Read(&resp)) {
    router_->NoteHeader(resp.header());
    absl::MutexLock l(&mu_);
    if (generation != generation_) break;
    if (in_flight_.empty() || in_flight_.front().lease_id != resp.id()) {
      // The server answers in order; anything else means we lost track of
      // this stream. Start a new one.
      last_error_ = absl::StrCat(addr,
                                 ": unexpected keepalive response for "
                                 "lease ",
                                 resp.id());
      ctx->TryCancel();
      break;
    }
    const InFlight f = in_flight_.front();
    in_flight_.pop_front();
    last_answer_ = clock_->Now();
    auto it = entries_.find(f.handle);
    if (it == entries_.end()) continue;  // removed meanwhile
    Entry& e = it->second;
    const absl::Time sent = e.sent.value_or(clock_->Now());
    UnindexLocked(f.handle, e);
    e.sent.reset();
    if (resp.ttl() <= 0) {
      MarkLostLocked(f.handle, e,
                     absl::NotFoundError(absl::StrCat(
                         "session lease ", e.lease_id, " is gone (lockd ", addr,
                         " reports it expired or revoked)")));
      changed_ = true;
      continue;
    }
    ++successes_;
    e.expires_at = sent + absl::Seconds(resp.ttl());
    IndexLocked(f.handle, e);
    if (e.handlers.on_renewed) e.handlers.on_renewed(e.expires_at);
    // Answered after its next renewal fell due, or due before the writer
    // planned to wake: the writer is not waiting for that time.
    if (e.next_due <= clock_->Now() + kCoalesce || e.next_due < planned_wake_) {
      changed_ = true;
    }
  }
  absl::MutexLock l(&mu_);
  if (generation == generation_) stream_ended_ = true;
}

void KeepAliveMux::RunStream(StreamOutcome* out) {
  Stubs* stubs = router_->Pick();
  out->addr = stubs->addr;
  grpc::ClientContext ctx;
  uint64_t generation;
  {
    absl::MutexLock l(&mu_);
    if (shutdown_ || entries_.empty()) {
      out->hung_up = true;
      return;
    }
    ctx_ = &ctx;
    stream_addr_ = out->addr;
    generation = ++generation_;
    stream_ended_ = false;
    successes_ = 0;
    last_answer_ = absl::InfinitePast();
    // Requests the previous stream never answered go out again at once.
    const absl::Time now = clock_->Now();
    for (const InFlight& f : in_flight_) {
      auto it = entries_.find(f.handle);
      if (it == entries_.end()) continue;
      UnindexLocked(f.handle, it->second);
      it->second.sent.reset();
      it->second.next_due = now;
      IndexLocked(f.handle, it->second);
    }
    in_flight_.clear();
  }
  auto stream = stubs->lease->LeaseKeepAlive(&ctx);
  std::thread reader(
      [&] { ReadLoop(stream.get(), &ctx, generation, out->addr); });
  std::vector<lockpb::LeaseKeepAliveRequest> batch;
  bool write_failed = false;
  mu_.Lock();
  while (true) {
    ExpireAndDispatchLocked();
    if (shutdown_ || entries_.empty()) {
      out->hung_up = true;
      break;
    }
    if (stream_ended_) break;
    const absl::Time now = clock_->Now();
    // The stream counts as stuck once the oldest request has waited its
    // patience since it was sent or since the last answer, whichever is
    // later.
    absl::Time stuck_at = absl::InfiniteFuture();
    if (!in_flight_.empty()) {
      const InFlight& f = in_flight_.front();
      stuck_at = std::max(f.sent, last_answer_) + f.patience;
    }
    if (now >= stuck_at) {
      out->stuck = true;
      out->hung_up = true;
      break;
    }
    absl::Time wake = EarliestExpiryLocked();
    batch.clear();
    // Leases with a request in flight are not in due_: answered before
    // they fall due (the usual case) they are back in it by then;
    // answered later, the reader wakes us.
    while (!due_.empty() && due_.begin()->first <= now + kCoalesce) {
      const int64_t h = due_.begin()->second;
      Entry& e = entries_.at(h);
      UnindexLocked(h, e);
      e.sent = now;
      e.next_due = now + e.ttl / 3;
      IndexLocked(h, e);
      in_flight_.push_back(
          InFlight{h, e.lease_id, now,
                   std::clamp((e.expires_at - now) / 2, absl::Milliseconds(100),
                              e.ttl)});
      batch.emplace_back().set_id(e.lease_id);
    }
    if (!batch.empty()) {
      mu_.Unlock();
      for (size_t i = 0; i < batch.size() && !write_failed; ++i) {
        grpc::WriteOptions wo;
        // Only the last write of a batch flushes.
        if (i + 1 < batch.size()) wo.set_buffer_hint();
        write_failed = !stream->Write(batch[i], wo);
      }
      mu_.Lock();
      if (write_failed) break;  // the stream is dead; Finish says why
      continue;
    }
    if (!due_.empty()) wake = std::min(wake, due_.begin()->first);
    wake = std::min(wake, stuck_at);
    planned_wake_ = wake;
    changed_ = false;
    auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return shutdown_ || stream_ended_ || changed_;
    };
    clock_->AwaitWithTimeout(&mu_, absl::Condition(&woken),
                             wake - clock_->Now());
  }
  mu_.Unlock();
  // Cancel only streams we end ourselves: the server's own status (with a
  // possible leader hint) must not be masked by a cancellation.
  if (out->hung_up) ctx.TryCancel();
  reader.join();
  out->status = stream->Finish();
  absl::MutexLock l(&mu_);
  ctx_ = nullptr;
  stream_addr_.clear();
  out->progressed = successes_ > 0;
  if (out->status.error_code() == grpc::StatusCode::NOT_FOUND &&
      !in_flight_.empty()) {
    // The server answers in order: the oldest request is the one it failed.
    auto it = entries_.find(in_flight_.front().handle);
    if (it != entries_.end()) {
      MarkLostLocked(
          it->first, it->second,
          absl::NotFoundError(absl::StrCat(
              "session lease ", it->second.lease_id, " is gone (lockd ",
              out->addr, ": ", out->status.error_message(), ")")));
    }
  }
}

void KeepAliveMux::Loop() {
  Backoff backoff = router_->NewBackoff();
  int hops = 0;  // streams reopened at once since the last renewal
  while (true) {
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return shutdown_ || !entries_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (shutdown_) return;
    }
    StreamOutcome out;
    RunStream(&out);
    if (out.hung_up && !out.stuck) {
      backoff.Reset();  // idle or shutting down; not a replica failure
      hops = 0;
      continue;
    }
    if (out.progressed) hops = 0;
    Classification c =
        Classify(out.status, Idempotency::kIdempotent, /*maybe_sent=*/true);
    bool again_now = out.progressed && !out.stuck;
    if (c.verdict == Verdict::kRedirect && !c.hint->addr.empty() &&
        c.hint->addr != out.addr) {
      // The next stream goes to the hinted leader (Pick returns it), at
      // once: every lease on this stream is waiting. Replicas that keep
      // bouncing us (mid-election) get the backoff of a failure instead.
      router_->NoteLeader(c.hint->addr);
      again_now = ++hops <= kMaxRedirectsAtOnce;
    } else if (out.stuck) {
      // This replica sat on our requests for a whole patience: that wait
      // was the backoff; try the next replica at once.
      router_->NoteFailure(out.addr);
      again_now = ++hops <= kMaxRedirectsAtOnce;
    } else if (!again_now) {
      router_->NoteFailure(out.addr);
    }
    absl::MutexLock l(&mu_);
    last_error_ = absl::StrCat(
        out.addr, ": ",
        out.stuck ? "no keepalive answer in time" : out.status.error_message());
    if (again_now) {
      backoff.Reset();
      continue;
    }
    // Back off before the next stream, still expiring leases meanwhile.
    const absl::Time until = clock_->Now() + backoff.Next();
    while (!shutdown_ && !entries_.empty() && clock_->Now() < until) {
      ExpireAndDispatchLocked();
      changed_ = false;
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return shutdown_ || changed_;
      };
      clock_->AwaitWithTimeout(
          &mu_, absl::Condition(&woken),
          std::min(until, EarliestExpiryLocked()) - clock_->Now());
    }
    ExpireAndDispatchLocked();
  }
}

}  // namespace berth::lock::internal
