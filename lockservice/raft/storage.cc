#include "lockservice/raft/storage.h"

#include "absl/strings/match.h"

namespace berth::raft {

namespace {
constexpr char kCompacted[] = "compacted";
constexpr char kUnavailable[] = "unavailable";
}  // namespace

absl::Status CompactedError() {
  return absl::OutOfRangeError(
      "compacted: requested index is at or below the compaction point");
}

absl::Status UnavailableIndexError() {
  return absl::OutOfRangeError(
      "unavailable: requested index is above the last log index");
}

bool IsCompacted(const absl::Status& s) {
  return absl::IsOutOfRange(s) && absl::StartsWith(s.message(), kCompacted);
}

bool IsUnavailableIndex(const absl::Status& s) {
  return absl::IsOutOfRange(s) && absl::StartsWith(s.message(), kUnavailable);
}

}  // namespace berth::raft
