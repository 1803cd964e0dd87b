#include "lockservice/client/watch.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "lockservice/client/client.h"
#include "lockservice/client/internal/convert.h"
#include "lockservice/client/internal/endpoints.h"
#include "lockservice/client/internal/router.h"

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
  return std::unique_ptr<Watch>(
      new Watch(client, std::move(key), std::move(range_end),
                std::move(options), std::move(callback)));
}

Watch::Watch(Client* client, std::string key, std::string range_end,
             WatchOptions options, Callback callback)
    : client_(client),
      key_(std::move(key)),
      range_end_(std::move(range_end)),
      options_(std::move(options)),
      callback_(std::move(callback)) {
  next_revision_ = options_.start_revision;
  thread_ = std::thread([this] { Loop(); });
}

Watch::~Watch() {
  Cancel();
  thread_.join();
}

void Watch::Cancel() {
  absl::MutexLock l(&mu_);
  stopping_ = true;
  if (ctx_ != nullptr) ctx_->TryCancel();
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
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
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

std::optional<absl::Status> Watch::RunStream(bool* progressed) {
  internal::Router& router = client_->router();
  internal::Stubs* stubs = router.Pick();
  grpc::ClientContext ctx;
  lockpb::WatchRequest req;
  {
    absl::MutexLock l(&mu_);
    if (stopping_) return absl::CancelledError("watch canceled by the caller");
    ctx_ = &ctx;
    req.mutable_create_request()->set_start_revision(next_revision_);
  }
  lockpb::WatchCreateRequest* create = req.mutable_create_request();
  create->set_key(key_);
  create->set_range_end(range_end_);
  create->set_prev_kv(options_.prev_kv);

  std::optional<absl::Status> terminal;
  auto stream = stubs->watch->Watch(&ctx);
  lockpb::WatchResponse resp;
  bool stream_open = false;
  if (stream->Write(req)) {
    while (!terminal.has_value() && (stream_open = stream->Read(&resp))) {
      router.NoteHeader(resp.header());
      if (resp.compact_revision() > 0) {
        absl::MutexLock l(&mu_);
        compact_revision_ = resp.compact_revision();
        terminal = absl::OutOfRangeError(absl::StrCat(
            "watch on \"", key_, "\" from revision ", next_revision_,
            " failed: history compacted; oldest available revision is ",
            resp.compact_revision()));
        break;
      }
      if (resp.canceled()) {
        std::optional<internal::LeaderHint> hint =
            internal::ParseLeaderHint(resp.cancel_reason());
        if (hint.has_value()) {
          if (!hint->addr.empty()) router.NoteLeader(hint->addr);
          break;  // not an ending: reconnect where the hint says
        }
        terminal = absl::CancelledError(
            absl::StrCat("watch on \"", key_, "\" canceled by lockd: ",
                         resp.cancel_reason().empty() ? "no reason given"
                                                      : resp.cancel_reason()));
        break;
      }
      WatchBatch batch;
      batch.revision = resp.header().revision();
      for (const lockpb::Event& e : resp.events()) {
        WatchEvent ev;
        ev.type = e.type() == lockpb::Event::DELETE ? WatchEvent::Type::kDelete
                                                    : WatchEvent::Type::kPut;
        ev.kv = internal::FromProto(e.kv());
        if (e.has_prev_kv()) ev.prev_kv = internal::FromProto(e.prev_kv());
        batch.events.push_back(std::move(ev));
      }
      {
        absl::MutexLock l(&mu_);
        if (!batch.events.empty()) {
          next_revision_ = batch.events.back().kv.mod_revision + 1;
        } else if (next_revision_ == 0 || !resp.created()) {
          // Created (from "now") or a progress notice: everything up to the
          // header revision has been seen.
          next_revision_ =
              std::max(next_revision_, resp.header().revision() + 1);
        }
      }
      *progressed = true;
      if (!batch.events.empty()) Deliver(std::move(batch));
    }
  }
  // Hang up only if the stream is still open (we stopped reading); after a
  // failed Read the server's status is what tells us where to go next.
  if (stream_open) ctx.TryCancel();
  grpc::Status status = stream->Finish();
  {
    absl::MutexLock l(&mu_);
    ctx_ = nullptr;
    if (stopping_) return absl::CancelledError("watch canceled by the caller");
  }
  if (terminal.has_value()) return terminal;
  internal::Classification c = internal::Classify(
      status, internal::Idempotency::kIdempotent, /*maybe_sent=*/true);
  switch (c.verdict) {
    case internal::Verdict::kRedirect:
      if (!c.hint->addr.empty()) router.NoteLeader(c.hint->addr);
      return std::nullopt;
    case internal::Verdict::kRetry:
      router.NoteFailure(stubs->addr);
      return std::nullopt;
    default:
      break;
  }
  if (status.ok() || status.error_code() == grpc::StatusCode::CANCELLED) {
    // The server closed the stream without a reason (shutdown); resume.
    router.NoteFailure(stubs->addr);
    return std::nullopt;
  }
  return internal::FromGrpc(status, absl::StrCat("watch \"", key_, "\""),
                            stubs->addr);
}

void Watch::Loop() {
  internal::Backoff backoff = client_->router().NewBackoff();
  while (true) {
    bool progressed = false;
    std::optional<absl::Status> terminal = RunStream(&progressed);
    if (terminal.has_value()) {
      {
        absl::MutexLock l(&mu_);
        if (stopping_ && terminal->code() == absl::StatusCode::kCancelled) {
          ended_ = true;
          terminal_ = *terminal;
          return;  // the caller asked; no need to tell them
        }
      }
      Deliver(*std::move(terminal));
      return;
    }
    if (progressed) backoff.Reset();
    absl::MutexLock l(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff.Next());
  }
}

}  // namespace berth::lock
