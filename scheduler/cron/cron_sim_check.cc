// The simulation's judges. They read nothing of the engine: only the
// store's complete history (MemStore keeps every event; the simulation
// never compacts), the job specs, and the instants at which a leader had
// settled.
#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "scheduler/cron/catch_up.h"
#include "scheduler/cron/cron_sim_internal.h"
#include "scheduler/state/keys.h"

namespace berth::cron::sim {
namespace {

using jobpb::CronPolicy;
using jobpb::CronRun;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// Range minimum over start revisions of quiet instants sorted by time.
class RangeMin {
 public:
  explicit RangeMin(const std::vector<int64_t>& v) {
    table_.push_back(v);
    for (size_t w = 1; 2 * w <= v.size(); w *= 2) {
      const std::vector<int64_t>& prev = table_.back();
      std::vector<int64_t> next(v.size() - 2 * w + 1);
      for (size_t i = 0; i < next.size(); ++i) {
        next[i] = std::min(prev[i], prev[i + w]);
      }
      table_.push_back(std::move(next));
    }
  }
  // Minimum over [lo, hi); kNever when empty.
  int64_t Min(size_t lo, size_t hi) const {
    if (lo >= hi) return kNever;
    size_t k = 0;
    while ((size_t{2} << k) <= hi - lo) ++k;
    return std::min(table_[k][lo], table_[k][hi - (size_t{1} << k)]);
  }

 private:
  std::vector<std::vector<int64_t>> table_;
};

struct JobHistory {
  std::map<int64_t, int> created;              // tick -> creations
  std::map<int64_t, CronRun::Result> first;    // tick -> result at creation
  std::map<int64_t, CronRun::Result> current;  // live run records
  std::vector<std::pair<int64_t, int64_t>> marker;  // (revision, last tick)
  jobpb::CronMarker final_marker;
  int64_t active_creations = 0;
  int64_t manual_creations = 0;
  int64_t skipped_creations = 0;
};

}  // namespace

void CheckHistory(sched::MemStore* store, const std::vector<SimJob>& jobs,
                  const std::vector<Quiet>& quiet,
                  const std::map<std::string, int64_t>& deposed_at,
                  int64_t grace_ms, SimResult* result) {
  auto fail = [&](std::string what) {
    if (result->violations.size() < 50) {
      result->violations.push_back(std::move(what));
    }
  };
  std::map<std::string, const SimJob*> by_name;
  for (const SimJob& j : jobs) by_name[j.args.name] = &j;
  std::map<std::string, JobHistory> hist;
  std::set<std::string> allocs_seen;
  std::map<std::string, agentpb::AllocState> status;  // alloc -> last state
  std::map<std::string, std::set<std::string>> allocs_of;  // job -> allocs

  auto watch = store->Watch(sched::kBerthPrefix, 1);
  auto events = (*watch)->Next(absl::ZeroDuration());
  if (!events.ok()) {
    fail(absl::StrCat("cannot replay history: ", events.status().ToString()));
    return;
  }
  size_t i = 0;
  while (i < events->size()) {
    const int64_t rev = (*events)[i].revision;
    size_t end = i;
    while (end < events->size() && (*events)[end].revision == rev) ++end;
    // Checks against the state before this revision, except that runs a
    // claim finalizes in its own transaction count as finished.
    std::set<std::string> created_allocs;
    std::set<std::pair<std::string, int64_t>> ended_here;
    for (size_t k = i; k < end; ++k) {
      const sched::StoreEvent& e = (*events)[k];
      sched::KeyRef ref = sched::ParseKey(e.key);
      if (ref.type == sched::KeyRef::Type::kSchedAlloc && !e.deleted &&
          !allocs_seen.contains(ref.alloc_id)) {
        created_allocs.insert(ref.alloc_id);
      }
      if (ref.type == sched::KeyRef::Type::kCronRun && !e.deleted) {
        CronRun run;
        run.ParseFromString(e.value);
        if (run.result() != CronRun::ACTIVE) {
          ended_here.insert({ref.job, ref.tick_unix});
        }
      }
    }
    for (size_t k = i; k < end; ++k) {
      const sched::StoreEvent& e = (*events)[k];
      sched::KeyRef ref = sched::ParseKey(e.key);
      if (ref.type != sched::KeyRef::Type::kCronRun || e.deleted) continue;
      JobHistory& h = hist[ref.job];
      if (h.current.contains(ref.tick_unix)) continue;  // an update
      CronRun run;
      run.ParseFromString(e.value);
      std::string where = absl::StrCat(ref.job, " tick ", ref.tick_unix);
      if (++h.created[ref.tick_unix] > 1) {
        fail(absl::StrCat(where, " claimed twice (revision ", rev, ")"));
      }
      h.first.emplace(ref.tick_unix, run.result());
      if (auto d = deposed_at.find(run.claimed_by());
          d != deposed_at.end() && rev > d->second) {
        fail(absl::StrCat(where, " written by deposed leader ",
                          run.claimed_by()));
      }
      if (run.result() == CronRun::SKIPPED) ++h.skipped_creations;
      if (run.result() != CronRun::ACTIVE) continue;
      ++h.active_creations;
      if (run.manual()) ++h.manual_creations;
      if (!created_allocs.contains(run.alloc_id())) {
        fail(absl::StrCat(where, " claimed without its allocation"));
      }
      const SimJob* job = by_name[ref.job];
      if (job->args.concurrency == CronPolicy::FORBID) {
        for (const auto& [t, r] : h.current) {
          if (r == CronRun::ACTIVE && !ended_here.contains({ref.job, t})) {
            fail(absl::StrCat(where, ": forbid overlap with run ", t,
                              " (claimed by ", run.claimed_by(),
                              " at revision ", rev, ")"));
          }
        }
        for (const std::string& a : allocs_of[ref.job]) {
          auto s = status.find(a);
          if (s != status.end() && s->second == agentpb::RUNNING) {
            fail(absl::StrCat(where, ": forbid, but ", a, " still runs"));
          }
        }
      }
    }
    for (size_t k = i; k < end; ++k) {
      const sched::StoreEvent& e = (*events)[k];
      sched::KeyRef ref = sched::ParseKey(e.key);
      switch (ref.type) {
        case sched::KeyRef::Type::kCronRun: {
          JobHistory& h = hist[ref.job];
          if (e.deleted) {
            h.current.erase(ref.tick_unix);
          } else {
            CronRun run;
            run.ParseFromString(e.value);
            h.current[ref.tick_unix] = run.result();
          }
          break;
        }
        case sched::KeyRef::Type::kCronMarker: {
          if (e.deleted) break;
          JobHistory& h = hist[ref.job];
          jobpb::CronMarker m;
          m.ParseFromString(e.value);
          if (!h.marker.empty() &&
              m.last_scheduled_unix() < h.marker.back().second) {
            fail(absl::StrCat(ref.job, ": marker went back from ",
                              h.marker.back().second, " to ",
                              m.last_scheduled_unix()));
          }
          h.marker.emplace_back(rev, m.last_scheduled_unix());
          h.final_marker = m;
          break;
        }
        case sched::KeyRef::Type::kSchedAlloc:
          if (!e.deleted && allocs_seen.insert(ref.alloc_id).second) {
            jobpb::Allocation a;
            a.ParseFromString(e.value);
            allocs_of[a.job()].insert(ref.alloc_id);
          } else if (!e.deleted && created_allocs.contains(ref.alloc_id)) {
            // created in this revision; already recorded
          }
          break;
        case sched::KeyRef::Type::kStatus: {
          agentpb::AllocationStatus s;
          s.ParseFromString(e.value);
          status[ref.alloc_id] = s.state();
          break;
        }
        default:
          break;
      }
    }
    // Replace never leaves two active runs.
    for (const auto& [name, h] : hist) {
      if (by_name[name]->args.concurrency != CronPolicy::REPLACE) continue;
      std::vector<int64_t> active;
      for (const auto& [t, r] : h.current) {
        if (r == CronRun::ACTIVE) active.push_back(t);
      }
      if (active.size() > 1) {
        fail(absl::StrCat(name, ": runs ", absl::StrJoin(active, ", "),
                          " all active at revision ", rev, " under replace"));
      }
    }
    i = end;
  }

  // Exactly once inside the deadline, judged against the quiet instants.
  std::vector<Quiet> q = quiet;
  std::sort(q.begin(), q.end(),
            [](const Quiet& a, const Quiet& b) { return a.now_ms < b.now_ms; });
  std::vector<int64_t> times, revs;
  for (const Quiet& x : q) {
    times.push_back(x.now_ms);
    revs.push_back(x.start_revision);
  }
  RangeMin range(revs);
  const int64_t last_quiet = times.empty() ? 0 : times.back() / 1000;
  for (const SimJob& job : jobs) {
    JobHistory& h = hist[job.args.name];
    TickSource ticks{&*job.schedule, job.every};
    const jobpb::CronPolicy::CatchUp mode = job.args.catch_up;
    const int64_t d = job.args.starting_deadline_ms;
    int64_t limit = d > 0 ? d : kNever / 4;
    if (mode == CronPolicy::NONE) limit = std::min(limit, grace_ms);
    const int64_t submit = job.args.submit_unix_ms / 1000;
    const int64_t final_tick = h.final_marker.last_scheduled_unix();
    const int64_t until = std::max(final_tick, last_quiet);
    for (std::optional<int64_t> t = ticks.Next(submit); t && *t <= until;
         t = ticks.Next(*t)) {
      ++result->ticks_checked;
      std::optional<int64_t> next = ticks.Next(*t);
      int64_t lo = *t * 1000;
      int64_t hi = lo + limit;
      if (mode != CronPolicy::ALL && next) hi = std::min(hi, *next * 1000 - 1);
      size_t a =
          std::lower_bound(times.begin(), times.end(), lo) - times.begin();
      size_t b =
          std::upper_bound(times.begin(), times.end(), hi) - times.begin();
      // The marker never goes back (checked above), so binary search.
      auto pass = std::lower_bound(
          h.marker.begin(), h.marker.end(), *t,
          [](const auto& m, int64_t tick) { return m.second < tick; });
      int64_t pass_rev = pass == h.marker.end() ? kNever : pass->first;
      bool must = range.Min(a, b) < pass_rev;
      auto first = h.first.find(*t);
      bool ran = first != h.first.end() && (first->second == CronRun::ACTIVE ||
                                            first->second == CronRun::SKIPPED);
      if (must && !ran) {
        fail(absl::StrCat(job.args.name, " (", job.args.schedule, ", ",
                          CronPolicy::CatchUp_Name(mode), ", deadline ", d,
                          " ms) tick ", *t,
                          " was due inside its deadline "
                          "at a settled instant but did not run"));
      }
    }
    // Accounting: every scheduled tick up to the marker is claimed,
    // skipped or counted missed, exactly once.
    const jobpb::CronMarker& m = h.final_marker;
    TickCount total = CountTicks(ticks, submit, final_tick);
    int64_t scheduled = m.claimed() - h.manual_creations;
    if (scheduled + m.skipped() + m.missed() != total.count) {
      fail(absl::StrCat(job.args.name, ": ", scheduled, " claimed + ",
                        m.skipped(), " skipped + ", m.missed(),
                        " missed != ", total.count, " ticks to ", final_tick));
    }
    if (m.claimed() != h.active_creations ||
        m.skipped() != h.skipped_creations) {
      fail(absl::StrCat(job.args.name, ": marker counts ", m.claimed(), "/",
                        m.skipped(), " but history shows ", h.active_creations,
                        "/", h.skipped_creations));
    }
    result->claims += h.active_creations;
    result->skipped += h.skipped_creations;
    for (const auto& [t, r] : h.first) {
      result->missed_records += r == CronRun::MISSED;
    }
  }
}

}  // namespace berth::cron::sim
