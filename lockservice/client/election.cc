#include "lockservice/client/election.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/monotonic_wait.h"
#include "lockservice/client/client.h"
#include "lockservice/client/internal/router.h"
#include "lockservice/client/session.h"

namespace berth::lock {

using internal::Idempotency;
using internal::Stubs;

namespace {

constexpr absl::Duration kServerSlack = absl::Seconds(5);

std::optional<LeaderInfo> FromProto(const lockpb::LeaderResponse& r) {
  if (!r.has_kv() && !r.has_leader()) return std::nullopt;
  LeaderInfo info;
  info.name = r.leader().name();
  info.key = r.leader().key().empty() ? r.kv().key() : r.leader().key();
  info.value = r.kv().value();
  info.token = r.leader().rev();
  info.lease = r.leader().lease() != 0 ? r.leader().lease() : r.kv().lease();
  return info;
}

lockpb::LeaderKey ToProto(const LeaderInfo& info) {
  lockpb::LeaderKey key;
  key.set_name(info.name);
  key.set_key(info.key);
  key.set_rev(info.token);
  key.set_lease(info.lease);
  return key;
}

}  // namespace

Election::Election(Session* session, std::string name)
    : session_(session), name_(std::move(name)) {}

absl::Status Election::Campaign(std::string value, absl::Duration timeout) {
  if (is_leader()) return Proclaim(std::move(value));
  internal::Router& router = session_->client()->router();
  lockpb::CampaignRequest req;
  req.set_name(name_);
  req.set_lease(session_->lease_id());
  req.set_value(value);
  internal::CallLimits limits = router.DefaultLimits();
  if (timeout != absl::InfiniteDuration()) {
    req.set_timeout_ms(
        std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout)));
    limits.attempt_timeout = timeout + kServerSlack;
    limits.overall = std::max(limits.overall, timeout + kServerSlack);
  } else {
    limits.attempt_timeout = absl::InfiniteDuration();
    limits.overall = absl::InfiniteDuration();
  }
  auto resp = router.Call<lockpb::CampaignResponse>(
      absl::StrCat("campaign ", name_), Idempotency::kNonIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::CampaignResponse* out) {
        return s.election->Campaign(ctx, req, out);
      },
      limits);
  if (!resp.ok()) {
    if (!IsOutcomeUnknown(resp.status())) return resp.status();
    // The campaign may have won after the connection broke: adopt it.
    absl::StatusOr<std::optional<LeaderInfo>> now = Leader();
    if (now.ok() && now->has_value() && (*now)->lease == session_->lease_id()) {
      leader_ = **now;
      if ((*now)->value != value) return Proclaim(std::move(value));
      return absl::OkStatus();
    }
    return resp.status();
  }
  leader_.name = resp->leader().name().empty() ? name_ : resp->leader().name();
  leader_.key = resp->leader().key();
  leader_.token = resp->leader().rev();
  leader_.lease = resp->leader().lease();
  leader_.value = std::move(value);
  return absl::OkStatus();
}

absl::Status Election::Proclaim(std::string value) {
  if (!is_leader()) {
    return absl::FailedPreconditionError(
        absl::StrCat("not the leader of election ", name_));
  }
  lockpb::ProclaimRequest req;
  *req.mutable_leader() = ToProto(leader_);
  req.set_value(value);
  // Proclaiming the same value twice is harmless, so retry freely.
  auto resp = session_->client()->router().Call<lockpb::ProclaimResponse>(
      absl::StrCat("proclaim ", name_), Idempotency::kIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::ProclaimResponse* out) {
        return s.election->Proclaim(ctx, req, out);
      });
  if (!resp.ok()) return resp.status();
  leader_.value = std::move(value);
  return absl::OkStatus();
}

absl::Status Election::Resign() {
  if (!is_leader()) return absl::OkStatus();
  lockpb::ResignRequest req;
  *req.mutable_leader() = ToProto(leader_);
  // Resigning a leadership that already ended is a no-op on the server.
  auto resp = session_->client()->router().Call<lockpb::ResignResponse>(
      absl::StrCat("resign ", name_), Idempotency::kIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::ResignResponse* out) {
        return s.election->Resign(ctx, req, out);
      });
  if (!resp.ok()) return resp.status();
  leader_ = LeaderInfo();
  return absl::OkStatus();
}

absl::StatusOr<std::optional<LeaderInfo>> Election::Leader() {
  lockpb::LeaderRequest req;
  req.set_name(name_);
  auto resp = session_->client()->router().Call<lockpb::LeaderResponse>(
      absl::StrCat("leader ", name_), Idempotency::kIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::LeaderResponse* out) {
        return s.election->Leader(ctx, req, out);
      });
  if (!resp.ok()) return resp.status();
  return FromProto(*resp);
}

std::unique_ptr<Observer> Election::Observe(Observer::Callback callback) {
  return std::make_unique<Observer>(session_->client(), name_,
                                    std::move(callback));
}

Observer::Observer(Client* client, std::string name, Callback callback)
    : client_(client), name_(std::move(name)), callback_(std::move(callback)) {
  thread_ = std::thread([this] { Loop(); });
}

Observer::~Observer() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    if (ctx_ != nullptr) ctx_->TryCancel();
  }
  thread_.join();
}

void Observer::Loop() {
  internal::Router& router = client_->router();
  internal::Backoff backoff = router.NewBackoff();
  // A redirect names the leader: follow it without waiting, except when
  // replicas keep bouncing the stream (mid-election).
  constexpr int kMaxRedirectsAtOnce = 3;
  int redirects = 0;  // in a row, without a response in between
  lockpb::LeaderRequest req;
  req.set_name(name_);
  while (true) {
    Stubs* stubs = router.Pick();
    grpc::ClientContext ctx;
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
      ctx_ = &ctx;
    }
    auto stream = stubs->election->Observe(&ctx, req);
    lockpb::LeaderResponse resp;
    bool got_any = false;
    while (stream->Read(&resp)) {
      got_any = true;
      router.NoteHeader(resp.header());
      callback_(FromProto(resp));
    }
    grpc::Status status = stream->Finish();
    {
      absl::MutexLock l(&mu_);
      ctx_ = nullptr;
      if (stopping_) return;
    }
    internal::Classification c = internal::Classify(
        status, Idempotency::kIdempotent, /*maybe_sent=*/true);
    if (got_any) {
      backoff.Reset();
      redirects = 0;
    }
    if (c.verdict == internal::Verdict::kRedirect && !c.hint->addr.empty() &&
        c.hint->addr != stubs->addr) {
      router.NoteLeader(c.hint->addr);
      if (++redirects <= kMaxRedirectsAtOnce) continue;
    } else if (!got_any) {
      router.NoteFailure(stubs->addr);
    }
    absl::MutexLock l(&mu_);
    AwaitMonotonic(&mu_, absl::Condition(&stopping_), backoff.Next());
  }
}

}  // namespace berth::lock
