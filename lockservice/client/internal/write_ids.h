// WriteIds: the client half of exactly-once writes (see WriteId in
// proto/lock.proto and lockservice/server/client_sessions.h).
//
// One WriteIds per Client: a random client id, a counter of write seqs and
// the set of seqs still in flight. Each write takes a Ticket for its whole
// life (every retry reuses the same seq); the ticket's end, success or not,
// lets acked_below move past it, which tells the servers they may forget
// its answer and must refuse a late copy of it.
//
// Thread safety: thread-safe; Tickets may live on different threads.
#ifndef BERTH_LOCKSERVICE_CLIENT_INTERNAL_WRITE_IDS_H_
#define BERTH_LOCKSERVICE_CLIENT_INTERNAL_WRITE_IDS_H_

#include <cstdint>
#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proto/lock.pb.h"

namespace berth::lock::internal {

class WriteIds {
 public:
  // client_id 0 picks a random nonzero id.
  explicit WriteIds(uint64_t client_id = 0);
  WriteIds(const WriteIds&) = delete;
  WriteIds& operator=(const WriteIds&) = delete;

  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept : ids_(other.ids_), id_(other.id_) {
      other.ids_ = nullptr;
    }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket();
    // The id to send (with acked_below as of this call).
    const lockpb::WriteId& id() const { return id_; }

   private:
    friend class WriteIds;
    Ticket(WriteIds* ids, lockpb::WriteId id) : ids_(ids), id_(std::move(id)) {}
    WriteIds* ids_;
    lockpb::WriteId id_;
  };

  // A new seq, in flight until the Ticket is destroyed.
  Ticket Begin();

  uint64_t client_id() const { return client_id_; }

 private:
  void End(uint64_t seq);

  const uint64_t client_id_;
  absl::Mutex mu_;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  std::set<uint64_t> in_flight_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::lock::internal

#endif  // BERTH_LOCKSERVICE_CLIENT_INTERNAL_WRITE_IDS_H_
