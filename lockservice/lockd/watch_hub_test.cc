// WatchHub fan-out: which watches get which events, shared bodies per
// stream, cancellation of slow streams, replay. No threads, no network: the
// sinks are drained with an already-passed deadline.
#include "lockservice/lockd/watch_hub.h"

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::lockd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

lockpb::Event Put(const std::string& key, int64_t rev) {
  lockpb::Event e;
  e.mutable_kv()->set_key(key);
  e.mutable_kv()->set_value("v" + std::to_string(rev));
  e.mutable_kv()->set_mod_revision(rev);
  e.mutable_prev_kv()->set_key(key);
  e.mutable_prev_kv()->set_value("old");
  return e;
}

WatchHub::Spec Prefix(const std::string& p, bool prev_kv = false) {
  std::string end = p;
  end.back() = static_cast<char>(end.back() + 1);
  return WatchHub::Spec{p, end, 0, prev_kv};
}

WatchHub::Spec Key(const std::string& k) { return WatchHub::Spec{k, "", 0}; }

// Everything queued on `sink`, one response per watch id.
std::vector<lockpb::WatchResponse> Drain(WatchSink& sink) {
  std::vector<lockpb::WatchResponse> out;
  sink.Pop(&out, absl::InfinitePast());
  return out;
}

// Keys of the events each watch id received.
std::map<int64_t, std::vector<std::string>> KeysById(
    const std::vector<lockpb::WatchResponse>& rs) {
  std::map<int64_t, std::vector<std::string>> out;
  for (const lockpb::WatchResponse& r : rs) {
    for (const lockpb::Event& e : r.events()) {
      out[r.watch_id()].push_back(e.kv().key());
    }
  }
  return out;
}

TEST(WatchHubTest, EachWatchOnAStreamGetsOnlyItsEvents) {
  WatchHub hub;
  WatchSink sink(1000);
  hub.Add(&sink, 1, Prefix("a/"));
  hub.Add(&sink, 2, Key("b/x"));
  hub.Add(&sink, 3, Prefix("b/"));
  hub.Publish({Put("a/1", 5), Put("b/x", 5), Put("b/y", 5), Put("c", 5)}, 5);
  auto got = KeysById(Drain(sink));
  EXPECT_THAT(got[1], ElementsAre("a/1"));
  EXPECT_THAT(got[2], ElementsAre("b/x"));
  EXPECT_THAT(got[3], ElementsAre("b/x", "b/y"));
  EXPECT_EQ(got.size(), 3u);
}

TEST(WatchHubTest, WatchesWithTheSameMatchShareOneQueuedBody) {
  WatchHub hub;
  WatchSink sink(1000);
  for (int64_t id = 1; id <= 50; ++id) hub.Add(&sink, id, Prefix("k/"));
  hub.Add(&sink, 99, Prefix("k/", /*prev_kv=*/true));
  hub.Publish({Put("k/1", 8)}, 8);
  std::vector<Outbound> batch;
  ASSERT_TRUE(sink.PopBatch(&batch, absl::InfinitePast()));
  // One body for the 50 alike watches, one for the prev_kv watch.
  ASSERT_EQ(batch.size(), 2u);
  size_t ids = 0;
  for (const Outbound& o : batch) {
    ids += o.watch_ids.size();
    const bool with_prev = o.watch_ids == std::vector<int64_t>{99};
    EXPECT_EQ(o.body->events(0).has_prev_kv(), with_prev);
    EXPECT_EQ(o.body->header().revision(), 8);
  }
  EXPECT_EQ(ids, 51u);
}

TEST(WatchHubTest, StartRevisionSkipsOlderEvents) {
  WatchHub hub;
  WatchSink sink(1000);
  WatchHub::Spec spec = Prefix("k/");
  spec.start_revision = 7;
  hub.Add(&sink, 1, spec);
  hub.Publish({Put("k/a", 6), Put("k/b", 7)}, 7);
  EXPECT_THAT(KeysById(Drain(sink))[1], ElementsAre("k/b"));
}

TEST(WatchHubTest, RemovedWatchGetsNothingAndOthersContinue) {
  WatchHub hub;
  WatchSink sink(1000);
  hub.Add(&sink, 1, Key("k"));
  hub.Add(&sink, 2, Key("k"));
  hub.Add(&sink, 3, Prefix("k"));
  hub.Remove(&sink, 1);
  hub.Remove(&sink, 3);
  EXPECT_EQ(hub.size(), 1u);
  hub.Publish({Put("k", 3)}, 3);
  auto got = KeysById(Drain(sink));
  EXPECT_EQ(got.size(), 1u);
  EXPECT_THAT(got[2], ElementsAre("k"));
}

// The hub's indexes (exact keys, prefixes, other ranges) against the
// definition: every watch whose range holds the key, and no other, gets an
// event, through adds, removals and a whole stream going away. Keys use a
// tiny alphabet with 0xff so prefixes, from-key ranges and 0xff-carrying
// prefix ends all occur.
TEST(WatchHubTest, IndexedMatchingEqualsTheRangeDefinition) {
  std::mt19937 rng(20261207);
  const std::string alphabet = std::string("ab/") + '\xff';
  auto random_key = [&](size_t max_len) {
    std::string k;
    const size_t n = rng() % (max_len + 1);
    for (size_t i = 0; i < n; ++i) k += alphabet[rng() % alphabet.size()];
    return k;
  };
  auto prefix_end = [](std::string p) {
    while (!p.empty() && p.back() == '\xff') p.pop_back();
    if (p.empty()) return std::string("\0", 1);
    p.back() = static_cast<char>(static_cast<unsigned char>(p.back()) + 1);
    return p;
  };
  WatchHub hub;
  std::vector<std::unique_ptr<WatchSink>> sinks;
  for (int i = 0; i < 3; ++i)
    sinks.push_back(std::make_unique<WatchSink>(1000000));
  std::map<std::pair<WatchSink*, int64_t>, WatchHub::Spec> live;
  for (int64_t id = 1; id <= 300; ++id) {
    WatchHub::Spec spec;
    spec.key = random_key(4);
    switch (rng() % 4) {
      case 0:  // exact key
        break;
      case 1:  // prefix
        spec.range_end = prefix_end(spec.key);
        break;
      case 2:  // from the key on
        spec.range_end = std::string("\0", 1);
        break;
      default:  // arbitrary, possibly empty
        spec.range_end = random_key(4);
        if (spec.range_end.empty()) spec.range_end = "b";
    }
    WatchSink* sink = sinks[rng() % sinks.size()].get();
    hub.Add(sink, id, spec);
    live[{sink, id}] = spec;
  }
  int64_t rev = 0;
  auto check = [&](const std::string& phase) {
    for (int round = 0; round < 200; ++round) {
      const std::string key = random_key(6);
      hub.Publish({Put(key, ++rev)}, rev);
      std::set<std::pair<WatchSink*, int64_t>> want, got;
      for (const auto& [w, spec] : live) {
        if (KeyInRange(key, spec.key, spec.range_end)) want.insert(w);
      }
      for (const auto& sink : sinks) {
        for (const auto& [id, keys] : KeysById(Drain(*sink))) {
          EXPECT_THAT(keys, ElementsAre(key));
          got.insert({sink.get(), id});
        }
      }
      ASSERT_EQ(got, want) << phase << ", key of " << key.size() << " bytes";
    }
  };
  check("all added");
  // Drop about a third of the watches one by one, then a whole stream.
  for (auto it = live.begin(); it != live.end();) {
    if (rng() % 3 == 0) {
      hub.Remove(it->first.first, it->first.second);
      it = live.erase(it);
    } else {
      ++it;
    }
  }
  check("after removals");
  hub.RemoveSink(sinks[0].get());
  std::erase_if(live,
                [&](const auto& w) { return w.first.first == sinks[0].get(); });
  EXPECT_EQ(hub.size(), live.size());
  check("after a stream went away");
}

TEST(WatchHubTest, SeparateStreamsEachGetTheirWatches) {
  WatchHub hub;
  WatchSink s1(1000), s2(1000);
  hub.Add(&s1, 1, Key("k"));
  hub.Add(&s2, 1, Key("k"));  // ids are per stream
  hub.Publish({Put("k", 4)}, 4);
  EXPECT_THAT(KeysById(Drain(s1))[1], ElementsAre("k"));
  EXPECT_THAT(KeysById(Drain(s2))[1], ElementsAre("k"));
  hub.RemoveSink(&s1);
  hub.Publish({Put("k", 5)}, 5);
  EXPECT_TRUE(Drain(s1).empty());
  EXPECT_EQ(Drain(s2).size(), 1u);
}

TEST(WatchHubTest, SlowStreamHasAllItsWatchesCancelledWithAReason) {
  WatchHub hub;
  WatchSink slow(3), fine(1000);
  hub.Add(&slow, 1, Key("k"));
  hub.Add(&slow, 2, Key("k"));
  hub.Add(&fine, 1, Key("k"));
  hub.Publish({Put("k", 2)}, 2);  // 2 events pending on `slow`
  hub.Publish({Put("k", 3)}, 3);  // 4 would exceed 3: cancelled
  std::vector<lockpb::WatchResponse> got = Drain(slow);
  std::vector<int64_t> cancelled;
  for (const lockpb::WatchResponse& r : got) {
    if (!r.canceled()) continue;
    cancelled.push_back(r.watch_id());
    EXPECT_THAT(r.cancel_reason(), HasSubstr("too slow"));
  }
  EXPECT_THAT(cancelled, UnorderedElementsAre(1, 2));
  EXPECT_EQ(Drain(fine).size(), 2u);
  hub.Publish({Put("k", 4)}, 4);
  EXPECT_TRUE(Drain(slow).empty());
  EXPECT_EQ(hub.size(), 1u);
}

TEST(WatchHubTest, ReplayDeliversMatchingHistoryToOneWatch) {
  WatchHub hub;
  WatchSink sink(1000);
  hub.Add(&sink, 4, Prefix("k/"));
  hub.Add(&sink, 5, Prefix("k/"));
  ASSERT_TRUE(
      hub.Replay(&sink, 4, {Put("k/a", 2), Put("x", 3), Put("k/b", 4)}, 9));
  auto rs = Drain(sink);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].watch_id(), 4);
  EXPECT_EQ(rs[0].header().revision(), 9);
  EXPECT_THAT(KeysById(rs)[4], ElementsAre("k/a", "k/b"));
  EXPECT_FALSE(hub.Replay(&sink, 6, {Put("k/a", 2)}, 9));
}

TEST(WatchHubTest, ClosedSinkReportsEndOnceDrained) {
  WatchSink sink(10);
  lockpb::WatchResponse r;
  r.set_watch_id(3);
  r.set_created(true);
  sink.PushControl(r);
  sink.Close();
  std::vector<lockpb::WatchResponse> out;
  EXPECT_TRUE(sink.Pop(&out, absl::InfinitePast()));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].watch_id(), 3);
  out.clear();
  EXPECT_FALSE(sink.Pop(&out, absl::InfinitePast()));
}

}  // namespace
}  // namespace berth::lockd
