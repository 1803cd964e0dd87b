#include "lockservice/server/past_range.h"

#include <map>
#include <string>

namespace berth::lock {

lockpb::RangeResponse RangeAtPast(const lockpb::RangeRequest& req,
                                  const lockpb::RangeResponse& current,
                                  const std::vector<lockpb::Event>& later) {
  std::map<std::string, lockpb::KeyValue> state;
  for (const lockpb::KeyValue& kv : current.kvs()) state[kv.key()] = kv;
  for (auto it = later.rbegin(); it != later.rend(); ++it) {
    const lockpb::Event& ev = *it;
    // A put without a previous value created the key; any other event
    // replaced or removed the previous value.
    if (ev.has_prev_kv()) {
      state[ev.kv().key()] = ev.prev_kv();
    } else {
      state.erase(ev.kv().key());
    }
  }
  lockpb::RangeResponse out;
  out.set_count(static_cast<int64_t>(state.size()));
  if (req.count_only()) return out;
  for (auto& [key, kv] : state) {
    if (req.limit() > 0 && out.kvs_size() >= req.limit()) {
      out.set_more(true);
      break;
    }
    lockpb::KeyValue* o = out.add_kvs();
    *o = kv;
    if (req.keys_only()) o->clear_value();
  }
  return out;
}

}  // namespace berth::lock
