#include "scheduler/cron/timer_heap.h"

#include <map>
#include <random>
#include <set>
#include <utility>

#include "gtest/gtest.h"

namespace berth::cron {
namespace {

absl::Time T(int64_t s) { return absl::FromUnixSeconds(s); }

TEST(TimerHeap, OrdersByDeadlineThenId) {
  TimerHeap h;
  h.Set(3, T(10));
  h.Set(1, T(20));
  h.Set(2, T(10));
  EXPECT_EQ(h.TopId(), 2u);
  h.Set(2, T(30));  // move later
  EXPECT_EQ(h.TopId(), 3u);
  h.Set(1, T(5));  // move earlier
  EXPECT_EQ(h.TopId(), 1u);
  EXPECT_EQ(h.size(), 3u);
  h.Erase(1);
  EXPECT_FALSE(h.Contains(1));
  EXPECT_EQ(h.TopId(), 3u);
  EXPECT_EQ(h.Deadline(2), T(30));
  EXPECT_EQ(h.Deadline(7), std::nullopt);
}

// Random sets, moves and erases agree with an ordered set.
TEST(TimerHeap, MatchesReferenceUnderRandomOperations) {
  std::mt19937_64 rng(42);
  TimerHeap h;
  std::map<uint32_t, int64_t> where;
  std::set<std::pair<int64_t, uint32_t>> ref;
  for (int i = 0; i < 20000; ++i) {
    uint32_t id = rng() % 300;
    if (rng() % 4 == 0) {
      h.Erase(id);
      if (auto it = where.find(id); it != where.end()) {
        ref.erase({it->second, id});
        where.erase(it);
      }
    } else {
      int64_t d = static_cast<int64_t>(rng() % 1000);
      h.Set(id, T(d));
      if (auto it = where.find(id); it != where.end()) {
        ref.erase({it->second, id});
      }
      where[id] = d;
      ref.insert({d, id});
    }
    ASSERT_EQ(h.size(), ref.size());
    if (!ref.empty()) {
      ASSERT_EQ(h.TopId(), ref.begin()->second) << "step " << i;
      ASSERT_EQ(h.TopDeadline(), T(ref.begin()->first));
    }
  }
}

TEST(TimerHeap, ForEachUntilVisitsExactlyTheEntriesDueByTheLimit) {
  std::mt19937 rng(7);
  TimerHeap h;
  std::map<uint32_t, int64_t> model;
  for (uint32_t id = 0; id < 2000; ++id) {
    int64_t s = static_cast<int64_t>(rng() % 600);
    h.Set(id, T(s));
    model[id] = s;
  }
  for (uint32_t id = 0; id < 2000; id += 3) {
    h.Erase(id);
    model.erase(id);
  }
  for (int64_t limit : {-1, 0, 17, 300, 599, 1000}) {
    std::set<uint32_t> want, got;
    for (const auto& [id, s] : model) {
      if (s <= limit) want.insert(id);
    }
    h.ForEachUntil(T(limit), [&](uint32_t id, absl::Time d) {
      EXPECT_EQ(d, T(model.at(id)));
      EXPECT_TRUE(got.insert(id).second) << "visited twice: " << id;
    });
    EXPECT_EQ(got, want) << "limit " << limit;
  }
}

}  // namespace
}  // namespace berth::cron
