#include "lockservice/client/mutex.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lockservice/client/client.h"
#include "lockservice/client/internal/router.h"
#include "lockservice/client/session.h"

namespace berth::lock {

using internal::Idempotency;
using internal::Stubs;

namespace {

// Room for the server to answer its own wait timeout before ours fires.
constexpr absl::Duration kServerSlack = absl::Seconds(5);

}  // namespace

Mutex::Mutex(Session* session, std::string name, std::string value)
    : session_(session), name_(std::move(name)), value_(std::move(value)) {}

absl::Status Mutex::Lock(absl::Duration timeout) {
  if (held()) {
    return absl::FailedPreconditionError(
        absl::StrCat("lock ", name_, " is already held by this Mutex"));
  }
  internal::Router& router = session_->client()->router();
  const absl::Time start = absl::Now();
  lockpb::LockRequest req;
  req.set_name(name_);
  req.set_lease(session_->lease_id());
  req.set_value(value_);
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
  auto resp = router.Call<lockpb::LockResponse>(
      absl::StrCat("lock ", name_), Idempotency::kNonIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::LockResponse* out) {
        return s.lock->Lock(ctx, req, out);
      },
      limits);
  if (!resp.ok()) {
    if (!IsOutcomeUnknown(resp.status())) return resp.status();
    absl::Status adopted = AdoptIfHeld(resp.status());
    // lockd answers an expired wait with DEADLINE_EXCEEDED after taking the
    // waiter out of the queue, which the router cannot tell from a lost
    // write; once our own timeout has passed and the lock is not ours, the
    // wait simply timed out (the state machine drops the waiter at its
    // deadline in any case).
    if (!adopted.ok() && timeout != absl::InfiniteDuration() &&
        absl::Now() - start >= timeout) {
      return absl::DeadlineExceededError(absl::StrCat(
          "timed out after ", absl::FormatDuration(timeout),
          " waiting for lock ", name_, " (", adopted.message(), ")"));
    }
    return adopted;
  }
  return AcceptGrant(resp->header().raft_term(), resp->token(), resp->key());
}

absl::Status Mutex::AcceptGrant(uint64_t term, int64_t token,
                                const std::string& key) {
  // A grant answered by a leader that has since been deposed (its reply sat
  // queued while it was frozen or cut off) may be long over: our lease can
  // have expired and the lock moved on. So can a grant that reaches a
  // session already known lost. Either is checked against the current
  // holder before it is believed; a fresh grant costs nothing extra.
  const uint64_t newest = session_->client()->router().max_term();
  if (term >= newest && !session_->lost()) {
    token_ = token;
    key_ = key;
    return absl::OkStatus();
  }
  absl::StatusOr<LockHolder> holder = Holder();
  if (!holder.ok()) return holder.status();
  if (holder->held && holder->lease == session_->lease_id() &&
      holder->token == token && !session_->lost()) {
    token_ = token;
    key_ = key;
    return absl::OkStatus();
  }
  return absl::AbortedError(absl::StrCat(
      "lock ", name_, ": the grant of token ", token, " (term ", term,
      ", newest term seen ", newest, ") is no longer current",
      session_->lost() ? "; the session was lost" : "",
      holder->held ? absl::StrCat("; held now with token ", holder->token)
                   : std::string("; the lock is free")));
}

absl::Status Mutex::AdoptIfHeld(absl::Status original) {
  absl::StatusOr<LockHolder> holder = Holder();
  if (holder.ok() && holder->held && holder->lease == session_->lease_id()) {
    token_ = holder->token;
    key_ = holder->key;
    return absl::OkStatus();
  }
  return original;
}

absl::StatusOr<bool> Mutex::TryLock() {
  if (held()) return true;
  lockpb::LockRequest req;
  req.set_name(name_);
  req.set_lease(session_->lease_id());
  req.set_value(value_);
  auto resp = session_->client()->router().Call<lockpb::TryLockResponse>(
      absl::StrCat("trylock ", name_), Idempotency::kNonIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::TryLockResponse* out) {
        return s.lock->TryLock(ctx, req, out);
      });
  if (!resp.ok()) {
    if (IsOutcomeUnknown(resp.status())) {
      absl::Status adopted = AdoptIfHeld(resp.status());
      if (!adopted.ok()) return adopted;
      return true;
    }
    return resp.status();
  }
  if (!resp->acquired()) return false;
  absl::Status st =
      AcceptGrant(resp->header().raft_term(), resp->token(), resp->key());
  if (!st.ok()) return st;
  return true;
}

absl::Status Mutex::Unlock() {
  if (!held()) {
    return absl::FailedPreconditionError(
        absl::StrCat("lock ", name_, " is not held by this Mutex"));
  }
  lockpb::UnlockRequest req;
  req.set_name(name_);
  req.set_token(token_);
  auto resp = session_->client()->router().Call<lockpb::UnlockResponse>(
      absl::StrCat("unlock ", name_), Idempotency::kNonIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::UnlockResponse* out) {
        return s.lock->Unlock(ctx, req, out);
      });
  if (!resp.ok() && IsOutcomeUnknown(resp.status())) {
    // Our hold is over once the token stops being current, whoever ended it.
    absl::StatusOr<TokenCheck> check = CheckToken(token_);
    if (!check.ok() || check->valid) return resp.status();
  } else if (!resp.ok()) {
    return resp.status();
  }
  token_ = 0;
  key_.clear();
  return absl::OkStatus();
}

absl::StatusOr<LockHolder> Mutex::Holder() {
  lockpb::HolderRequest req;
  req.set_name(name_);
  auto resp = session_->client()->router().Call<lockpb::HolderResponse>(
      absl::StrCat("holder ", name_), Idempotency::kIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::HolderResponse* out) {
        return s.lock->Holder(ctx, req, out);
      });
  if (!resp.ok()) return resp.status();
  return LockHolder{resp->held(),  resp->key(),   resp->token(),
                    resp->lease(), resp->value(), resp->waiters()};
}

absl::StatusOr<TokenCheck> Mutex::CheckToken(int64_t token) {
  lockpb::CheckTokenRequest req;
  req.set_name(name_);
  req.set_token(token);
  auto resp = session_->client()->router().Call<lockpb::CheckTokenResponse>(
      absl::StrCat("check token ", name_), Idempotency::kIdempotent,
      [&](Stubs& s, grpc::ClientContext* ctx, lockpb::CheckTokenResponse* out) {
        return s.lock->CheckToken(ctx, req, out);
      });
  if (!resp.ok()) return resp.status();
  return TokenCheck{resp->valid(), resp->current_token()};
}

}  // namespace berth::lock
