// KeepAliveStream: the reactor of one LeaseKeepAlive stream, which renews
// every request that has arrived behind ONE read barrier.
//
// A client with many sessions (berth-agent-swarm: 1,000 agents on one
// Client) sends all their keepalives on one stream, without waiting for
// answers. Answering them one barrier round at a time bounded the stream to
// one renewal per leader round trip. Here the stream keeps reading: the
// requests that arrive while a round is in flight wait, and the next round
// renews all of them. A round is: leader check, one ReadIndex barrier, one
// state-machine read of the batch's leases, then each lease renewed in the
// leader's memory (lease_keeper.h) — or, for a lease whose expiry is being
// proposed, through the log (a LeaseKeepAliveCmd), so the log orders the
// two.
//
// Answers go out in request order (the client matches them by position):
//  * ttl 0 when the lease does not exist (the session is lost);
//  * the first failure (not the leader, barrier failed, leadership lost)
//    ends the stream with that status, after the answers to the requests
//    before it; later requests get no answer. The client reconnects.
// A client half-close ends the stream with OK once every request read has
// been answered.
//
// Threads: gRPC's callback threads (reads, writes, cancel) and the Raft
// driver thread (barrier and proposal completions) meet under mu_. Raft
// calls that may complete inline are made with mu_ released.
//
// Ownership: gRPC's, from the handler's return. Deleted when gRPC has
// called OnDone and no barrier or proposal callback is outstanding. Borrows
// the Core, which must outlive it.
#ifndef BERTH_LOCKSERVICE_LOCKD_KEEPALIVE_STREAM_H_
#define BERTH_LOCKSERVICE_LOCKD_KEEPALIVE_STREAM_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/lockd/core.h"
#include "proto/lock.pb.h"

namespace berth::lockd {

// Counters over all of a service's keepalive streams: how many requests
// were read and how many barrier rounds renewed them.
struct KeepAliveStats {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> rounds{0};
};

class KeepAliveStream final
    : public grpc::ServerBidiReactor<lockpb::LeaseKeepAliveRequest,
                                     lockpb::LeaseKeepAliveResponse> {
 public:
  // Starts reading. At most `max_queued` requests are held unanswered;
  // beyond that the stream stops reading until answers drain (the client
  // has at most one request in flight per lease, so this is only a guard).
  // `stats` is borrowed and must outlive the stream. `agent_node`: the
  // caller's node when it presented an agent certificate; it may then
  // renew only its own leases (node_authorizer.h).
  KeepAliveStream(Core* core, KeepAliveStats* stats, size_t max_queued = 16384,
                  std::optional<std::string> agent_node = std::nullopt);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // One request's answer, in request order. Not ready while its renewal
  // goes through the log.
  struct Answer {
    int64_t id = 0;
    bool ready = false;
    int64_t ttl_ms = 0;
    absl::Status error;  // not OK: end the stream with it instead
    lockpb::ResponseHeader header;
  };
  // A renewal that must go through the log, and where its answer goes.
  struct LogRenewal {
    uint64_t seq;
    int64_t id;
  };

  ~KeepAliveStream() override = default;

  // Starts a round for the waiting requests unless one is running.
  void MaybeStartRound();
  // The barrier of the round for `batch` (leader term `term`) completed.
  void OnBarrier(std::vector<int64_t> batch, uint64_t term, absl::Status st);
  // A renewal through the log completed.
  void OnLogRenewal(uint64_t seq, absl::StatusOr<lockpb::CommandResult> r);
  // Writes the next ready answer, resumes reading, or finishes the stream.
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(const absl::Status& st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A Raft callback is done with `this`; deletes it if gRPC is too.
  void ReleaseOp();

  Core* const core_;
  KeepAliveStats* const stats_;
  const std::optional<std::string> agent_node_;
  const size_t max_queued_;
  lockpb::LeaseKeepAliveRequest req_;  // the read in progress

  absl::Mutex mu_;
  std::vector<int64_t> waiting_ ABSL_GUARDED_BY(mu_);  // read, no round yet
  std::deque<Answer> answers_ ABSL_GUARDED_BY(mu_);
  uint64_t answers_base_ ABSL_GUARDED_BY(mu_) = 0;  // seq of answers_.front()
  lockpb::LeaseKeepAliveResponse out_ ABSL_GUARDED_BY(mu_);  // being written
  bool reading_ ABSL_GUARDED_BY(mu_) = true;
  bool reads_ended_ ABSL_GUARDED_BY(mu_) = false;  // half-close or broken
  bool round_running_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;  // an error answer is queued
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Finish called
  bool done_ ABSL_GUARDED_BY(mu_) = false;      // OnDone called
  int raft_ops_ ABSL_GUARDED_BY(mu_) = 0;       // callbacks outstanding
  // Barrier and proposal tickets, cancelled if the client goes away
  // (cancelling a completed ticket is a no-op).
  std::vector<uint64_t> tickets_ ABSL_GUARDED_BY(mu_);
  // OnCancel ran: a ticket registered after it must be cancelled by
  // whoever registers it (OnCancel only saw the tickets before it).
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_KEEPALIVE_STREAM_H_
