// Mutex: a distributed lock held by a Session, with a fencing token.
//
// lockd queues waiters FIFO on the server and grants inside Raft apply, so
// Lock() simply blocks in one RPC. The fencing token is the revision of the
// grant and strictly increases per lock name: pass it to the resource you
// protect (or use KV::Txn().Guard(name, token)) so that a holder whose
// session died cannot write after someone else took the lock.
//
// Thread safety: a Mutex is not thread-safe (like std::unique_lock, it
// belongs to one thread at a time). Ownership: it borrows the Session, which
// must outlive it. Destroying a held Mutex does not unlock it; the lock is
// released by Unlock() or when the session ends.
#ifndef BERTH_LOCKSERVICE_CLIENT_MUTEX_H_
#define BERTH_LOCKSERVICE_CLIENT_MUTEX_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::lock {

class Session;

struct LockHolder {
  bool held = false;
  std::string key;  // "<name>/<lease as 16 hex digits>"
  int64_t token = 0;
  int64_t lease = 0;
  std::string value;
  int64_t waiters = 0;
};

struct TokenCheck {
  bool valid = false;
  int64_t current_token = 0;  // 0 when the lock is free
};

class Mutex {
 public:
  // `value` is stored in the holder key for others to read via Holder().
  Mutex(Session* session, std::string name, std::string value = "");

  // Waits up to `timeout` for the lock (InfiniteDuration: forever). Fails
  // with DEADLINE_EXCEEDED when the wait times out.
  absl::Status Lock(absl::Duration timeout = absl::InfiniteDuration());
  // Takes the lock only if it is free; returns whether it did.
  absl::StatusOr<bool> TryLock();
  absl::Status Unlock();

  bool held() const { return token_ != 0; }
  // The fencing token of the current hold; 0 when not held.
  int64_t token() const { return token_; }
  const std::string& key() const { return key_; }
  const std::string& name() const { return name_; }

  // Who holds the lock now (anyone, not only this Mutex).
  absl::StatusOr<LockHolder> Holder();
  // Whether `token` is still the lock's current fencing token.
  absl::StatusOr<TokenCheck> CheckToken(int64_t token);

 private:
  // After a Lock whose outcome is unknown: adopt the lock if our lease
  // holds it.
  absl::Status AdoptIfHeld(absl::Status original);
  // Takes a granted token, unless it may be stale (see mutex.cc).
  // `term` is the Raft term of the replica that answered.
  absl::Status AcceptGrant(uint64_t term, int64_t token,
                           const std::string& key);

  Session* session_;
  std::string name_;
  std::string value_;
  int64_t token_ = 0;
  std::string key_;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_CLIENT_MUTEX_H_
