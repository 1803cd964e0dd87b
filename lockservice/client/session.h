// Session: a lease kept alive in the background, the liveness that locks
// and elections hang on.
//
// Every Session of one Client renews its lease every ttl/3 over the
// Client's one shared LeaseKeepAlive stream to the leader
// (internal/keepalive_mux.h), which is reopened (on another replica if
// need be) after failures or failover. A process with a thousand sessions
// thus keeps one stream and one keepalive thread, not a thousand. The
// session is lost, and `on_lost` fires exactly once, when the server
// reports the lease gone (ttl 0 / NOT_FOUND) or when the TTL passes without
// a successful keepalive. A lost session stays lost: create a new one.
//
// Thread safety: all methods are thread-safe. `on_lost` runs on the
// Client's keepalive thread, so it must be short (it delays the renewals of
// the Client's other sessions); it may call Close() and lost(), but must not
// destroy the Session. Ownership: the Session borrows the Client, which must
// outlive it; Mutex and Election borrow the Session, which must outlive
// them.
#ifndef BERTH_LOCKSERVICE_CLIENT_SESSION_H_
#define BERTH_LOCKSERVICE_CLIENT_SESSION_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace berth::lock {

class Client;

struct SessionOptions {
  // Rounded up to whole seconds.
  absl::Duration ttl = absl::Seconds(10);
  // Adopt this existing lease instead of granting a new one.
  int64_t lease_id = 0;
  // Called once, with the reason, when the session is lost.
  std::function<void(const absl::Status&)> on_lost;
};

class Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Create(
      Client* client, SessionOptions options = {});
  // Closes the session (see Close) if it is still open.
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  int64_t lease_id() const { return lease_id_; }
  absl::Duration ttl() const { return ttl_; }
  Client* client() const { return client_; }

  // True once the lease is known or presumed dead.
  bool lost() const;
  // Why the session was lost; OK while it is alive.
  absl::Status lost_reason() const;

  // Stops the keepalives and revokes the lease, which releases every lock
  // and ephemeral key bound to it. Idempotent; later calls return OK.
  absl::Status Close();

 private:
  Session(Client* client, int64_t lease_id, absl::Duration ttl,
          absl::Time expires_at,
          std::function<void(const absl::Status&)> on_lost);

  void MarkLost(absl::Status why);

  Client* const client_;
  const int64_t lease_id_;
  const absl::Duration ttl_;
  std::function<void(const absl::Status&)> on_lost_;

  // Registration with the Client's keepalive stream (Close removes it).
  int64_t keepalive_ = 0;

  mutable absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status lost_ ABSL_GUARDED_BY(mu_);
  // The lease's expiry as of the last successful keepalive, measured from
  // when that keepalive was sent (so it errs early, never late).
  absl::Time expires_at_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_CLIENT_SESSION_H_
