// Ranges at a past revision, rebuilt from the latest state and the watch
// history: berth keeps only each key's latest version, but every change
// since the compaction point is in the event log with its previous value,
// so undoing the events after revision R, newest first, gives the range
// as it was at R. Pure function; the caller reads both inputs under one
// lock so they describe the same revision.
#ifndef BERTH_LOCKSERVICE_SERVER_PAST_RANGE_H_
#define BERTH_LOCKSERVICE_SERVER_PAST_RANGE_H_

#include <vector>

#include "proto/lock.pb.h"

namespace berth::lock {

// `current`: the range now, every key with its value (no limit). `later`:
// the range's events with revision > req.revision(), in revision order.
// Applies req's limit, keys_only and count_only; leaves the header alone.
lockpb::RangeResponse RangeAtPast(const lockpb::RangeRequest& req,
                                  const lockpb::RangeResponse& current,
                                  const std::vector<lockpb::Event>& later);

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_SERVER_PAST_RANGE_H_
