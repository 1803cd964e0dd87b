// RunSimulation: the seeded whole-system cron simulation (see cron_sim.h).
//
// One thread, one seed. Per step of simulated time: maybe inject a fault
// (kill the leader, kill it right after a claim whose reply was lost, a
// commit that is not applied, a clock step of one hour either way, a manual
// trigger), let the leader settle, let deposed leaders keep trying, let the
// simulated agents start and finish allocations. Afterwards the checkers
// replay the store's complete history and judge it.
#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "scheduler/cron/catch_up.h"
#include "scheduler/cron/cron_sim.h"
#include "scheduler/cron/cron_sim_internal.h"
#include "scheduler/cron/parser.h"
#include "scheduler/state/keys.h"

namespace berth::cron::sim {
namespace {

using jobpb::CronPolicy;

// 2026-03-29T00:20:00Z: Europe/Berlin springs forward 40 minutes later.
constexpr int64_t kStart = 1'774'743'600;
constexpr char kNode[] = "sim-node";

class Agents {
 public:
  Agents(sched::MemStore* store, std::mt19937_64* rng)
      : store_(store), rng_(rng) {}

  void Step(int64_t step, int64_t now_ms) {
    if (!watch_) {
      auto snap = store_->Load(sched::kBerthPrefix);
      view_.Reset(*snap);
      watch_ = *store_->Watch(sched::kBerthPrefix, snap->revision + 1);
    }
    absl::StatusOr<std::vector<sched::StoreEvent>> events =
        watch_->Next(absl::ZeroDuration());
    for (const auto& e : *events) view_.Apply(e);
    for (const auto& [id, a] : view_.allocs()) {
      const agentpb::AllocationStatus* s = view_.FindStatus(id);
      bool terminal = s != nullptr && s->state() >= agentpb::EXITED;
      if (terminal) {
        runs_.erase(id);
        continue;
      }
      auto it = runs_.find(id);
      if (a.value.desired_state() != jobpb::Allocation::RUN) {
        Write(id, agentpb::KILLED, s ? s->start_unix_ms() : 0, now_ms, 0);
        runs_.erase(id);
        continue;
      }
      if (it == runs_.end()) {
        Run r;
        r.start_step = step + static_cast<int64_t>((*rng_)() % 3);
        uint64_t kind = (*rng_)() % 10;
        int64_t secs = kind < 7   ? 1 + (*rng_)() % 8
                       : kind < 9 ? 10 + (*rng_)() % 30
                                  : 0;
        r.end_step = r.start_step + 1 + secs * 4;
        r.exit_code = (*rng_)() % 10 == 0 ? 1 : 0;
        it = runs_.emplace(id, r).first;
      }
      Run& r = it->second;
      if (!r.started && step >= r.start_step) {
        r.started = true;
        r.start_ms = now_ms;
        Write(id, agentpb::RUNNING, now_ms, 0, 0);
      } else if (r.started && step >= r.end_step) {
        Write(id, agentpb::EXITED, r.start_ms, now_ms, r.exit_code);
        runs_.erase(it);
      }
    }
  }

 private:
  struct Run {
    int64_t start_step = 0;
    int64_t end_step = 0;
    int exit_code = 0;
    bool started = false;
    int64_t start_ms = 0;
  };
  void Write(const std::string& id, agentpb::AllocState state, int64_t start_ms,
             int64_t finish_ms, int exit_code) {
    agentpb::AllocationStatus s;
    s.set_alloc_id(id);
    s.set_node(kNode);
    s.set_state(state);
    s.set_start_unix_ms(start_ms);
    s.set_finish_unix_ms(finish_ms);
    s.set_exit_code(exit_code);
    (void)PutStatus(store_, s);  // an agent retries on its next report
  }

  sched::MemStore* store_;
  std::mt19937_64* rng_;
  sched::ClusterState view_;
  std::unique_ptr<sched::StoreWatch> watch_;
  std::map<std::string, Run> runs_;
};

std::vector<SimJob> MakeJobs(int n, std::mt19937_64& rng) {
  struct Shape {
    const char* spec;
    const char* tz;
  };
  static const Shape kShapes[] = {
      {"@every 2s", "UTC"},
      {"@every 5s", "Europe/Berlin"},
      {"@every 7s", "UTC"},
      {"*/3 * * * * *", "UTC"},
      {"*/10 * * * * *", "America/New_York"},
      {"0 * * * * *", "Europe/Berlin"},
      {"15 */2 * * * *", "Asia/Kolkata"},
      {"*/20 * 1-3 * * *", "Europe/Berlin"},  // hours 1-3 local: DST day
      {"30 2 * * *", "Europe/Berlin"},        // 02:30 does not exist today
      {"0 */5 * * * *", "Australia/Lord_Howe"},
  };
  static const CronPolicy::Concurrency kConc[] = {
      CronPolicy::ALLOW, CronPolicy::FORBID, CronPolicy::REPLACE};
  static const CronPolicy::CatchUp kCatch[] = {
      CronPolicy::NONE, CronPolicy::LATEST, CronPolicy::ALL};
  static const int64_t kDeadlines[] = {0, 30'000, 300'000};
  std::vector<SimJob> jobs;
  for (int i = 0; i < n; ++i) {
    const Shape& shape = kShapes[i % std::size(kShapes)];
    SimJob j;
    j.args.name = absl::StrCat("job", i);
    j.args.schedule = shape.spec;
    j.args.timezone = shape.tz;
    j.args.concurrency = kConc[rng() % 3];
    j.args.catch_up = kCatch[rng() % 3];
    j.args.starting_deadline_ms = kDeadlines[rng() % 3];
    j.args.successful_history = 1 + static_cast<int32_t>(rng() % 3);
    j.args.failed_history = 1 + static_cast<int32_t>(rng() % 2);
    j.args.timeout_ms = rng() % 4 == 0 ? 6000 : 0;
    j.args.submit_unix_ms = kStart * 1000;
    j.schedule = *Schedule::Parse(shape.spec, shape.tz);
    auto p = ParseSpec(shape.spec);
    j.every = p->is_every ? p->every_seconds : 0;
    jobs.push_back(std::move(j));
  }
  return jobs;
}

}  // namespace

SimResult RunSimulation(const SimConfig& config) {
  SimResult result;
  std::mt19937_64 rng(config.seed);
  sched::MemStore store;
  SimClock clock(absl::FromUnixSeconds(kStart));
  std::vector<SimJob> jobs = MakeJobs(config.jobs, rng);
  for (const SimJob& j : jobs) (void)PutJob(&store, CronJob(j.args));
  Agents agents(&store, &rng);
  EngineOptions options;

  int64_t token = 0;
  std::unique_ptr<Leader> leader;
  std::string leader_id;
  struct Deposed {
    std::unique_ptr<Leader> leader;
    std::string id;
    int steps_left;
  };
  std::vector<Deposed> deposed;
  std::map<std::string, int64_t> deposed_at;  // leader id -> revision
  int64_t gap = 0;
  std::vector<Quiet> quiet;

  const int64_t steps = config.duration / config.step;
  const int64_t step_forward_at = steps / 10 + rng() % (steps * 8 / 10);
  const int64_t step_back_at = steps / 10 + rng() % (steps * 8 / 10);

  auto depose = [&]() {
    leader->Partition();
    deposed.push_back(
        {std::move(leader), leader_id, 20 + static_cast<int>(rng() % 100)});
    leader.reset();
    gap = static_cast<int64_t>(rng() % 120);  // up to 30 s without a leader
    ++result.failovers;
  };

  for (int64_t step = 0; step < steps; ++step) {
    if (step == step_forward_at || step == step_back_at) {
      clock.Set(clock.Now() + absl::Hours(step == step_forward_at ? 1 : -1));
      ++result.clock_steps;
    }
    const absl::Time now = clock.Now();
    if (!leader && gap-- <= 0) {
      ++token;
      leader_id = absl::StrCat("sched-", token);
      store.SetFence(sched::kLeaderElection, token);
      // From here on lockd refuses every earlier leader.
      for (const Deposed& d : deposed) deposed_at[d.id] = store.revision();
      leader = std::make_unique<Leader>(&store, leader_id, token, options);
      if (!leader->Start(now).ok()) {
        result.violations.push_back("leader failed to start");
        return result;
      }
    }
    if (leader) {
      uint64_t dice = rng() % 10000;
      bool faulted = false;
      if (dice < 4) {
        depose();
      } else if (dice < 8) {
        // Kill between claim and launch: the claim applies, its reply is
        // lost, and the leader dies before learning anything.
        store.FailAfterApply(1);
        int64_t unknown = leader->engine().stats().unknown_outcomes;
        (void)leader->Step(now);
        store.FailAfterApply(0);
        if (leader->engine().stats().unknown_outcomes > unknown) {
          ++result.kills_after_claim;
        }
        depose();
      } else if (dice < 14) {
        store.FailBeforeApply(1);
        faulted = true;
      } else if (dice < 24) {
        const SimJob& j = jobs[rng() % jobs.size()];
        (void)leader->Pump(now);
        auto r = leader->engine().Trigger(
            leader->state(), {j.args.ns, j.args.name}, now, leader->fence());
        if (r.ok()) ++result.manual;
      }
      if (leader) {
        int64_t start_rev = store.revision();
        absl::Status s = leader->Settle(now);
        store.FailBeforeApply(0);
        if (!s.ok() && !faulted) {
          result.violations.push_back(
              absl::StrCat("leader ", leader_id, " failed: ", s.ToString()));
          return result;
        }
        if (s.ok() && !faulted) {
          quiet.push_back({absl::ToUnixMillis(now), start_rev});
        }
      }
    }
    // Deposed leaders keep trying until their fence is refused.
    for (auto it = deposed.begin(); it != deposed.end();) {
      absl::StatusOr<absl::Time> r = it->leader->Step(now);
      if (!r.ok() && absl::IsFailedPrecondition(r.status())) {
        ++result.refused_old_leader;
        it = deposed.erase(it);
      } else if (--it->steps_left <= 0) {
        it = deposed.erase(it);
      } else {
        ++it;
      }
    }
    agents.Step(step, absl::ToUnixMillis(now));
    clock.Advance(config.step);
  }
  CheckHistory(&store, jobs, quiet, deposed_at, options.on_time_grace_ms,
               &result);
  return result;
}

}  // namespace berth::cron::sim
