#include "lockservice/client/session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lockservice/client/client.h"
#include "lockservice/client/internal/router.h"

namespace berth::lock {

struct Session::StreamOutcome {
  std::string addr;
  grpc::Status status;
  int successes = 0;
  // The replica stopped answering mid-stream (e.g. it is frozen): the next
  // stream must go elsewhere even though earlier keepalives succeeded.
  bool stuck = false;
  bool lease_gone = false;  // the server says the lease does not exist
};

absl::StatusOr<std::unique_ptr<Session>> Session::Create(
    Client* client, SessionOptions options) {
  absl::Time started = absl::Now();
  int64_t id = options.lease_id;
  absl::Duration ttl = absl::Ceil(options.ttl, absl::Seconds(1));
  if (id == 0) {
    absl::StatusOr<LeaseGrant> grant = client->GrantLease(options.ttl);
    if (!grant.ok()) return grant.status();
    id = grant->id;
    ttl = absl::Seconds(grant->ttl_seconds);
  } else {
    absl::StatusOr<LeaseInfo> info = client->LeaseTimeToLive(id);
    if (!info.ok()) return info.status();
    if (info->ttl_seconds <= 0) {
      return absl::NotFoundError(
          absl::StrCat("lease ", id, " does not exist or has expired"));
    }
    ttl = absl::Seconds(info->granted_ttl_seconds);
  }
  if (ttl <= absl::ZeroDuration()) {
    return absl::InternalError(
        absl::StrCat("lockd granted lease ", id, " a non-positive TTL"));
  }
  return std::unique_ptr<Session>(
      new Session(client, id, ttl, started + ttl, std::move(options.on_lost)));
}

Session::Session(Client* client, int64_t lease_id, absl::Duration ttl,
                 absl::Time expires_at,
                 std::function<void(const absl::Status&)> on_lost)
    : client_(client),
      lease_id_(lease_id),
      ttl_(ttl),
      on_lost_(std::move(on_lost)),
      expires_at_(expires_at) {
  thread_ = std::thread([this] { KeepAliveLoop(); });
}

Session::~Session() {
  Close().IgnoreError();
  if (thread_.joinable()) thread_.join();
}

bool Session::lost() const {
  absl::MutexLock l(&mu_);
  return !lost_.ok() || absl::Now() >= expires_at_;
}

absl::Status Session::lost_reason() const {
  absl::MutexLock l(&mu_);
  if (lost_.ok() && absl::Now() >= expires_at_) {
    return absl::UnavailableError(absl::StrCat("session lease ", lease_id_,
                                               " expired without a keepalive"));
  }
  return lost_;
}

absl::Status Session::Close() {
  bool was_lost;
  {
    absl::MutexLock l(&mu_);
    if (closed_) return absl::OkStatus();
    closed_ = true;
    closing_ = true;
    if (stream_ctx_ != nullptr) stream_ctx_->TryCancel();
    was_lost = !lost_.ok();
  }
  // on_lost may call Close from the keepalive thread, which cannot join
  // itself; the destructor joins it later.
  if (std::this_thread::get_id() != thread_.get_id() && thread_.joinable()) {
    thread_.join();
  }
  if (was_lost) return absl::OkStatus();
  return client_->RevokeLease(lease_id_);
}

bool Session::WaitOrClose(absl::Duration d) {
  absl::MutexLock l(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&closing_), d);
  return closing_;
}

void Session::MarkLost(absl::Status why) {
  {
    absl::MutexLock l(&mu_);
    if (!lost_.ok()) return;
    lost_ = std::move(why);
  }
  if (on_lost_) on_lost_(lost_reason());
}

void Session::RunStream(StreamOutcome* out) {
  internal::Stubs* stubs = client_->router().Pick();
  out->addr = stubs->addr;
  grpc::ClientContext ctx;
  // A Read can hang on a replica that silently went away (SIGSTOP, a
  // partition). Give each stream at most half of the lease's remaining
  // life, so that a hung stream still leaves time to find the new leader.
  absl::Duration budget;
  {
    absl::MutexLock l(&mu_);
    budget = std::clamp((expires_at_ - absl::Now()) / 2,
                        absl::Milliseconds(100), ttl_);
  }
  const absl::Time stream_deadline = absl::Now() + budget;
  ctx.set_deadline(absl::ToChronoTime(stream_deadline));
  {
    absl::MutexLock l(&mu_);
    if (closing_) return;
    stream_ctx_ = &ctx;
  }
  auto stream = stubs->lease->LeaseKeepAlive(&ctx);
  lockpb::LeaseKeepAliveRequest req;
  req.set_id(lease_id_);
  lockpb::LeaseKeepAliveResponse resp;
  // Set when we end the stream ourselves; the server's own status (with a
  // possible leader hint) must not be masked by a cancellation.
  bool hang_up = false;
  while (true) {
    absl::Time sent = absl::Now();
    if (!stream->Write(req) || !stream->Read(&resp)) {
      out->stuck = absl::Now() >= stream_deadline;
      break;
    }
    client_->router().NoteHeader(resp.header());
    if (resp.ttl() <= 0) {
      out->lease_gone = true;
      hang_up = true;
      break;
    }
    {
      absl::MutexLock l(&mu_);
      expires_at_ = sent + absl::Seconds(resp.ttl());
    }
    ++out->successes;
    if (absl::Now() + ttl_ / 3 >= stream_deadline) {
      hang_up = true;  // planned rotation, before the deadline can hit
      break;
    }
    if (WaitOrClose(ttl_ / 3)) {
      hang_up = true;
      break;
    }
  }
  if (hang_up) ctx.TryCancel();
  out->status = stream->Finish();
  absl::MutexLock l(&mu_);
  stream_ctx_ = nullptr;
}

void Session::KeepAliveLoop() {
  internal::Backoff backoff = client_->router().NewBackoff();
  while (true) {
    StreamOutcome out;
    RunStream(&out);
    {
      absl::MutexLock l(&mu_);
      if (closing_) return;
    }
    if (out.lease_gone ||
        out.status.error_code() == grpc::StatusCode::NOT_FOUND) {
      MarkLost(absl::NotFoundError(
          absl::StrCat("session lease ", lease_id_, " is gone (lockd ",
                       out.addr, " reports it expired or revoked)")));
      return;
    }
    internal::Classification c = internal::Classify(
        out.status, internal::Idempotency::kIdempotent, /*maybe_sent=*/true);
    bool rotated = out.successes > 0 && !out.stuck;
    if (c.verdict == internal::Verdict::kRedirect && !c.hint->addr.empty()) {
      client_->router().NoteLeader(c.hint->addr);
      rotated = true;
    } else if (!rotated) {
      client_->router().NoteFailure(out.addr);
    }
    absl::Time expires_at;
    {
      absl::MutexLock l(&mu_);
      expires_at = expires_at_;
    }
    absl::Time now = absl::Now();
    if (now >= expires_at) {
      MarkLost(absl::UnavailableError(absl::StrCat(
          "session lease ", lease_id_, " expired: no keepalive succeeded for ",
          absl::FormatDuration(ttl_), "; last error from ", out.addr, ": ",
          out.status.error_message())));
      return;
    }
    if (rotated) {
      backoff.Reset();
      continue;
    }
    if (WaitOrClose(std::min(backoff.Next(), expires_at - now))) return;
  }
}

}  // namespace berth::lock
