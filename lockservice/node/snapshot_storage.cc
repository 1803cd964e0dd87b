#include "lockservice/node/snapshot_storage.h"

#include <cstdio>
#include <utility>

#include "absl/time/clock.h"

namespace berth::node {

SnapshotStorage::~SnapshotStorage() {
  if (builder_thread_.joinable()) builder_thread_.join();
}

absl::StatusOr<raftpb::Snapshot> SnapshotStorage::GetSnapshot() {
  absl::StatusOr<raftpb::Snapshot> base = log_->GetSnapshot();
  if (!base.ok()) return base;
  // Index 0: the bootstrap membership, which has no image. A stored image
  // (one this replica installed from a leader) is as good as a built one.
  if (base->metadata().index() == 0 || !base->data().empty()) return base;
  {
    absl::MutexLock l(&mu_);
    // A follower that installs the image continues from the entry after
    // it, so the image is useful only while the log still holds that entry.
    if (ready_.has_value() &&
        ready_->metadata().index() + 1 >= log_->FirstIndex()) {
      return *ready_;
    }
    ready_.reset();  // compacted past: a newer image is needed
  }
  wanted_ = true;
  return absl::UnavailableError("snapshot image is being built");
}

void SnapshotStorage::MaybeStartBuild(StateMachine* sm, uint64_t applied,
                                      const raftpb::ConfState& conf) {
  if (!wanted_) return;
  {
    absl::MutexLock l(&mu_);
    if (building_) return;
  }
  wanted_ = false;
  if (builder_thread_.joinable()) builder_thread_.join();  // finished
  absl::StatusOr<uint64_t> term = log_->Term(applied);
  if (applied == 0 || !term.ok()) return;  // nothing worth an image
  absl::StatusOr<std::unique_ptr<SnapshotBuilder>> builder = sm->PinSnapshot();
  if (!builder.ok() || (*builder)->index() != applied) {
    // The view must hold exactly the entries the metadata claims; anything
    // else would give the follower a state that does not match its log.
    fprintf(stderr,
            "raft node %llu: cannot pin a snapshot at applied index %llu: "
            "%s\n",
            static_cast<unsigned long long>(node_id_),
            static_cast<unsigned long long>(applied),
            builder.ok() ? "the view holds another index"
                         : std::string(builder.status().message()).c_str());
    absl::MutexLock l(&mu_);
    ++stats_.failed;
    return;
  }
  raftpb::SnapshotMetadata meta;
  meta.set_index(applied);
  meta.set_term(*term);
  *meta.mutable_conf_state() = conf;
  {
    absl::MutexLock l(&mu_);
    building_ = true;
  }
  builder_thread_ =
      std::thread(&SnapshotStorage::Build, this, std::move(*builder),
                  std::move(meta), std::this_thread::get_id());
}

void SnapshotStorage::Build(std::unique_ptr<SnapshotBuilder> builder,
                            raftpb::SnapshotMetadata meta,
                            std::thread::id requester) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> image = builder->Build();
  builder.reset();
  const absl::Duration took = absl::Now() - start;
  absl::MutexLock l(&mu_);
  building_ = false;
  if (!image.ok()) {
    ++stats_.failed;
    fprintf(stderr,
            "raft node %llu: building the snapshot image at index %llu "
            "failed: %s\n",
            static_cast<unsigned long long>(node_id_),
            static_cast<unsigned long long>(meta.index()),
            std::string(image.status().message()).c_str());
    return;
  }
  ++stats_.built;
  if (std::this_thread::get_id() == requester) ++stats_.built_on_driver;
  fprintf(stderr,
          "raft node %llu: built snapshot image at index %llu (%zu bytes) in "
          "%lld ms off the raft thread\n",
          static_cast<unsigned long long>(node_id_),
          static_cast<unsigned long long>(meta.index()), image->size(),
          static_cast<long long>(absl::ToInt64Milliseconds(took)));
  raftpb::Snapshot snap;
  *snap.mutable_metadata() = std::move(meta);
  snap.set_data(*std::move(image));
  ready_ = std::move(snap);
}

SnapshotStorage::Stats SnapshotStorage::stats() {
  absl::MutexLock l(&mu_);
  return stats_;
}

}  // namespace berth::node
