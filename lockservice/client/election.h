// Election: leader election on top of lockd's lock queue.
//
// Campaign() blocks until this candidate leads (or the timeout passes). The
// leadership lasts until Resign() or until the session is lost; its fencing
// token (`token()`) guards writes the leader makes. Observe() follows who
// leads, for candidates and bystanders alike.
//
// Thread safety: an Election is not thread-safe (one thread at a time); an
// Observer's callback runs on the Observer's own thread. Ownership: the
// Election borrows the Session, and an Observer borrows the Client; both
// must outlive them. Destroying an Observer stops it and joins its thread.
#ifndef BERTH_LOCKSERVICE_CLIENT_ELECTION_H_
#define BERTH_LOCKSERVICE_CLIENT_ELECTION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace grpc {
class ClientContext;
}  // namespace grpc

namespace berth::lock {

class Client;
class Session;

struct LeaderInfo {
  std::string name;   // the election
  std::string key;    // the leader's holder key
  std::string value;  // what the leader proclaimed
  int64_t token = 0;  // fencing token (revision) of this leadership
  int64_t lease = 0;
};

// Follows an election; see Election::Observe.
class Observer {
 public:
  using Callback = std::function<void(const std::optional<LeaderInfo>&)>;
  Observer(Client* client, std::string name, Callback callback);
  ~Observer();
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

 private:
  void Loop();

  Client* client_;
  std::string name_;
  Callback callback_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

class Election {
 public:
  Election(Session* session, std::string name);

  // Blocks until elected, then proclaims `value`. DEADLINE_EXCEEDED when
  // `timeout` passes first.
  absl::Status Campaign(std::string value,
                        absl::Duration timeout = absl::InfiniteDuration());
  // Changes the leader's value; only while leading.
  absl::Status Proclaim(std::string value);
  // Gives up leadership; the next candidate in line takes over.
  absl::Status Resign();

  bool is_leader() const { return leader_.token != 0; }
  // Fencing token of our leadership; 0 when not leading.
  int64_t token() const { return leader_.token; }

  // The current leader, or nullopt when nobody leads.
  absl::StatusOr<std::optional<LeaderInfo>> Leader();

  // Calls `callback` with the current leader and then on every change of
  // leader or value (nullopt while nobody leads), resuming across failover.
  std::unique_ptr<Observer> Observe(Observer::Callback callback);

 private:
  Session* session_;
  std::string name_;
  LeaderInfo leader_;  // ours while leading
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_CLIENT_ELECTION_H_
