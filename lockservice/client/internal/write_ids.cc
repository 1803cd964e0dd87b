#include "lockservice/client/internal/write_ids.h"

#include "absl/random/random.h"

namespace berth::lock::internal {
namespace {

uint64_t RandomClientId() {
  // 64 random bits: two clients of one cluster colliding within the
  // server's idle expiry is out of reach (birthday bound ~2^32 clients).
  absl::BitGen rng;
  uint64_t id = 0;
  while (id == 0) id = absl::Uniform<uint64_t>(rng);
  return id;
}

}  // namespace

WriteIds::WriteIds(uint64_t client_id)
    : client_id_(client_id != 0 ? client_id : RandomClientId()) {}

WriteIds::Ticket WriteIds::Begin() {
  lockpb::WriteId id;
  id.set_client_id(client_id_);
  absl::MutexLock l(&mu_);
  uint64_t seq = next_seq_++;
  in_flight_.insert(seq);
  id.set_seq(seq);
  id.set_acked_below(*in_flight_.begin());
  return Ticket(this, std::move(id));
}

void WriteIds::End(uint64_t seq) {
  absl::MutexLock l(&mu_);
  in_flight_.erase(seq);
}

WriteIds::Ticket::~Ticket() {
  if (ids_ != nullptr) ids_->End(id_.seq());
}

}  // namespace berth::lock::internal
