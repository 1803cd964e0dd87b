// WatchHub fan-out: which watches get which events, shared bodies per
// stream, cancellation of slow streams, replay. No threads, no network: the
// sinks are drained with an already-passed deadline.
#include "lockservice/lockd/watch_hub.h"

#include <map>
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
