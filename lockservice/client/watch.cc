#include "lockservice/client/watch.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/monotonic_wait.h"
#include "lockservice/client/client.h"
#include "lockservice/client/internal/convert.h"
#include "lockservice/client/internal/endpoints.h"
#include "lockservice/client/internal/router.h"
#include "lockservice/client/internal/watch_mux.h"
#include "proto/lock.pb.h"

namespace berth::lock {

absl::StatusOr<std::unique_ptr<Watch>> Watch::Start(Client* client,
                                                    std::string key,
                                                    WatchOptions options,
                                                    Callback callback) {
  if (options.start_revision < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "watch start revision must be >= 0, got ", options.start_revision));
  }
  std::string range_end =
      options.prefix ? internal::PrefixRangeEnd(key) : options.range_end;
  std::unique_ptr<Watch> w(new Watch(client, std::move(key),
                                     std::move(range_end), std::move(options),
                                     std::move(callback)));
  Watch* self = w.get();
  const int64_t id = w->mux_->Add(internal::WatchHandlers{
      [self] { return self->CreateRequest(); },
      [self](const lockpb::WatchResponse& r) { return self->OnResponse(r); },
      [self](const grpc::Status& status, const std::string& addr) {
        self->End(internal::FromGrpc(
            status, absl::StrCat("watch \"", self->key_, "\""), addr));
      }});
  bool cancelled;
  {
    absl::MutexLock l(&w->mu_);
    w->id_ = id;
    cancelled = w->stopping_;  // Cancel() ran (from a callback) before this
  }
  if (cancelled) w->mux_->Remove(id);
  return w;
}

Watch::Watch(Client* client, std::string key, std::string range_end,
             WatchOptions options, Callback callback)
    : client_(client),
      mux_(&client->watch_mux()),
      key_(std::move(key)),
      range_end_(std::move(range_end)),
      options_(std::move(options)),
      callback_(std::move(callback)) {
  next_revision_ = options_.start_revision;
}

Watch::~Watch() { Cancel(); }

void Watch::Cancel() {
  int64_t id;
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    id = id_;
  }
  // Also waits for a running callback of this watch to return.
  if (id != 0) mux_->Remove(id);
}

int64_t Watch::next_revision() const {
  absl::MutexLock l(&mu_);
  return next_revision_;
}

int64_t Watch::compact_revision() const {
  absl::MutexLock l(&mu_);
  return compact_revision_;
}

absl::StatusOr<std::optional<WatchBatch>> Watch::Next(absl::Duration timeout) {
  if (callback_) {
    return absl::FailedPreconditionError(
        "Watch::Next is not available on a watch with a callback");
  }
  absl::MutexLock l(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || ended_ || stopping_;
  };
  AwaitMonotonic(&mu_, absl::Condition(&ready), timeout);
  if (!queue_.empty()) {
    WatchBatch batch = std::move(queue_.front());
    queue_.pop_front();
    return std::optional<WatchBatch>(std::move(batch));
  }
  if (ended_) return terminal_;
  if (stopping_) return absl::CancelledError("watch canceled by the caller");
  return std::optional<WatchBatch>();
}

void Watch::Deliver(absl::StatusOr<WatchBatch> item) {
  if (callback_) {
    callback_(std::move(item));
    return;
  }
  absl::MutexLock l(&mu_);
  if (item.ok()) {
    queue_.push_back(*std::move(item));
  } else {
    ended_ = true;
    terminal_ = item.status();
  }
}

lockpb::WatchCreateRequest Watch::CreateRequest() {
  lockpb::WatchCreateRequest create;
  {
    absl::MutexLock l(&mu_);
    create.set_start_revision(next_revision_);
  }
  create.set_key(key_);
  create.set_range_end(range_end_);
  create.set_prev_kv(options_.prev_kv);
  return create;
}

void Watch::End(absl::Status status) {
  {
    absl::MutexLock l(&mu_);
    if (stopping_) {
      // The caller asked for the end; no need to tell them.
      ended_ = true;
      terminal_ = absl::CancelledError("watch canceled by the caller");
      return;
    }
  }
  Deliver(std::move(status));
}

internal::WatchVerdict Watch::OnResponse(const lockpb::WatchResponse& resp) {
  if (resp.compact_revision() > 0) {
    int64_t from;
    {
      absl::MutexLock l(&mu_);
      compact_revision_ = resp.compact_revision();
      from = next_revision_;
    }
    End(absl::OutOfRangeError(absl::StrCat(
        "watch on \"", key_, "\" from revision ", from,
        " failed: history compacted; oldest available revision is ",
        resp.compact_revision())));
    return internal::WatchVerdict::kEnded;
  }
  if (resp.canceled()) {
    std::optional<internal::LeaderHint> hint =
        internal::ParseLeaderHint(resp.cancel_reason());
    if (hint.has_value()) {
      // Not an ending: reopen where the hint says.
      if (!hint->addr.empty()) client_->router().NoteLeader(hint->addr);
      return internal::WatchVerdict::kReconnect;
    }
    End(absl::CancelledError(
        absl::StrCat("watch on \"", key_, "\" canceled by lockd: ",
                     resp.cancel_reason().empty() ? "no reason given"
                                                  : resp.cancel_reason())));
    return internal::WatchVerdict::kEnded;
  }
  WatchBatch batch;
  batch.revision = resp.header().revision();
  batch.events.reserve(resp.events_size());
  for (const lockpb::Event& e : resp.events()) {
    WatchEvent& ev = batch.events.emplace_back();
    ev.type = e.type() == lockpb::Event::DELETE ? WatchEvent::Type::kDelete
                                                : WatchEvent::Type::kPut;
    ev.kv = internal::FromProto(e.kv());
    if (e.has_prev_kv()) ev.prev_kv = internal::FromProto(e.prev_kv());
  }
  {
    absl::MutexLock l(&mu_);
    if (stopping_) return internal::WatchVerdict::kContinue;
    if (!batch.events.empty()) {
      next_revision_ = batch.events.back().kv.mod_revision + 1;
    } else if (next_revision_ == 0 || !resp.created()) {
      // Created (from "now") or a progress notice: everything up to the
      // header revision has been seen.
      next_revision_ = std::max(next_revision_, resp.header().revision() + 1);
    }
  }
  if (!batch.events.empty()) Deliver(std::move(batch));
  return internal::WatchVerdict::kContinue;
}

}  // namespace berth::lock
