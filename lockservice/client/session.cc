#include "lockservice/client/session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "lockservice/client/client.h"
#include "lockservice/client/internal/keepalive_mux.h"

namespace berth::lock {

absl::StatusOr<std::unique_ptr<Session>> Session::Create(
    Client* client, SessionOptions options) {
  absl::Time started = client->clock()->Now();
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
  internal::KeepAliveHandlers h;
  h.on_renewed = [this](absl::Time expires_at) {
    absl::MutexLock l(&mu_);
    expires_at_ = expires_at;
  };
  h.on_lost = [this](const absl::Status& why) { MarkLost(why); };
  keepalive_ = client_->keepalive_mux().Add(lease_id_, ttl_, expires_at, h);
}

Session::~Session() { Close().IgnoreError(); }

bool Session::lost() const {
  absl::MutexLock l(&mu_);
  return !lost_.ok() || client_->clock()->Now() >= expires_at_;
}

absl::Status Session::lost_reason() const {
  absl::MutexLock l(&mu_);
  if (lost_.ok() && client_->clock()->Now() >= expires_at_) {
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
    was_lost = !lost_.ok();
  }
  // Waits for a running on_lost of ours, unless this is it.
  client_->keepalive_mux().Remove(keepalive_);
  if (was_lost) return absl::OkStatus();
  return client_->RevokeLease(lease_id_);
}

void Session::MarkLost(absl::Status why) {
  {
    absl::MutexLock l(&mu_);
    if (!lost_.ok()) return;
    lost_ = std::move(why);
  }
  if (on_lost_) on_lost_(lost_reason());
}

}  // namespace berth::lock
