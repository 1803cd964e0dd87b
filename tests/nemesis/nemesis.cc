#include "tests/nemesis/nemesis.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::nemesis {

const char* FaultName(Fault f) {
  switch (f) {
    case Fault::kIsolateLeader:
      return "isolate-leader";
    case Fault::kPartitionLeader:
      return "partition-leader";
    case Fault::kPartitionFollower:
      return "partition-follower";
    case Fault::kBridge:
      return "bridge";
    case Fault::kSlowLink:
      return "slow-link";
    case Fault::kPauseLeader:
      return "pause-leader";
    case Fault::kPauseReplica:
      return "pause-replica";
    case Fault::kKillLeader:
      return "kill-leader";
    case Fault::kKillReplica:
      return "kill-replica";
    case Fault::kFullDisk:
      return "full-disk";
    case Fault::kPauseClient:
      return "pause-client";
    case Fault::kClockSkew:
      return "clock-skew";
    case Fault::kPartitionScheduler:
      return "partition-scheduler";
    case Fault::kPauseScheduler:
      return "pause-scheduler";
    case Fault::kKillScheduler:
      return "kill-scheduler";
  }
  return "?";
}

std::vector<Fault> AllFaults() {
  return {Fault::kIsolateLeader,      Fault::kPartitionLeader,
          Fault::kPartitionFollower,  Fault::kBridge,
          Fault::kSlowLink,           Fault::kPauseLeader,
          Fault::kPauseReplica,       Fault::kKillLeader,
          Fault::kKillReplica,        Fault::kFullDisk,
          Fault::kPauseClient,        Fault::kClockSkew,
          Fault::kPartitionScheduler, Fault::kPauseScheduler,
          Fault::kKillScheduler};
}

bool IsSchedulerFault(Fault f) {
  return f == Fault::kPartitionScheduler || f == Fault::kPauseScheduler ||
         f == Fault::kKillScheduler;
}

namespace {

absl::Duration Uniform(std::mt19937_64& rng, int lo_ms, int hi_ms) {
  return absl::Milliseconds(
      std::uniform_int_distribution<int>(lo_ms, hi_ms)(rng));
}

}  // namespace

void Nemesis::Note(const std::string& line) {
  std::cout << absl::StrFormat("[nemesis %7.1fs] ",
                               absl::ToDoubleSeconds(absl::Now() - start_))
            << line << std::endl;
}

int Nemesis::PickReplica(bool prefer_leader) {
  // Draw before looking at the cluster so the RNG stream does not depend
  // on who leads.
  int any = std::uniform_int_distribution<int>(1, replicas_->count())(rng_);
  if (!prefer_leader) return any;
  int leader = replicas_->Leader();
  return leader != 0 ? leader : any;
}

int Nemesis::PickSchedulerLeader() {
  int any = std::uniform_int_distribution<int>(1, schedulers_->count())(rng_);
  int leader = schedulers_->Leader();
  return leader != 0 ? leader : any;
}

absl::Time Nemesis::AwaitSchedulerLeader(NemesisReport* report) {
  if (schedulers_ == nullptr) return absl::Now();
  absl::Time healed = absl::Now();
  int leader = 0;
  e2e::WaitFor([&] { return (leader = schedulers_->Leader()) != 0; },
               absl::Seconds(15));
  absl::Duration took = absl::Now() - healed;
  report->sched_max_recovery = std::max(report->sched_max_recovery, took);
  if (leader == 0) {
    ++report->sched_slow_recoveries;
    Note("no scheduler leader within 15 s");
  } else {
    Note(absl::StrCat(
        "scheduler leader s", leader, " after ",
        absl::FormatDuration(absl::Trunc(took, absl::Milliseconds(1)))));
  }
  return absl::Now();
}

void Nemesis::ReapInto(NemesisReport* report, bool disk_full, int disk_target) {
  if (schedulers_ != nullptr) {
    for (int i : schedulers_->Reap()) {
      std::string what =
          absl::StrCat("scheduler s", i, " exited on its own (see ",
                       schedulers_->LogPath(i), "*)");
      Note(what);
      report->unexpected_exits.push_back(what);
    }
  }
  for (int id : replicas_->Reap()) {
    if (disk_full && id == disk_target) {
      ++report->full_disk_exits;
      Note(absl::StrCat("replica ", id, " exited on a full disk"));
    } else {
      std::string what =
          absl::StrCat("replica ", id, " exited on its own (see ",
                       replicas_->LogPath(id), "*)");
      Note(what);
      report->unexpected_exits.push_back(what);
    }
  }
}

absl::Status Nemesis::Apply(Fault f, Applied* a) {
  a->fault = f;
  const int n = replicas_->count();
  switch (f) {
    case Fault::kIsolateLeader:
      a->target = PickReplica(true);
      return net_->Isolate(a->target);
    case Fault::kPartitionLeader:
    case Fault::kPartitionFollower: {
      int leader = replicas_->Leader();
      int pick = std::uniform_int_distribution<int>(1, n)(rng_);
      if (f == Fault::kPartitionLeader && leader != 0) pick = leader;
      if (f == Fault::kPartitionFollower && pick == leader) pick = pick % n + 1;
      a->target = pick;
      for (int other = 1; other <= n; ++other) {
        if (other == pick) continue;
        if (absl::Status st = net_->Cut(pick, other); !st.ok()) return st;
      }
      return absl::OkStatus();
    }
    case Fault::kBridge: {
      int a1 = PickReplica(true);
      int step = std::uniform_int_distribution<int>(1, n - 1)(rng_);
      a->target = a1;
      return net_->Cut(a1, (a1 - 1 + step) % n + 1);
    }
    case Fault::kSlowLink:
      a->target = PickReplica(std::bernoulli_distribution(0.7)(rng_));
      return net_->Slow(a->target);
    case Fault::kPauseLeader:
    case Fault::kPauseReplica:
      a->target = PickReplica(f == Fault::kPauseLeader);
      replicas_->Pause(a->target);
      return absl::OkStatus();
    case Fault::kKillLeader:
    case Fault::kKillReplica:
      a->target = PickReplica(f == Fault::kKillLeader);
      replicas_->Kill9(a->target);
      return absl::OkStatus();
    case Fault::kFullDisk: {
      a->target = PickReplica(std::bernoulli_distribution(0.5)(rng_));
      absl::StatusOr<int64_t> n_bytes = replicas_->disk(a->target)->Fill();
      if (!n_bytes.ok()) return n_bytes.status();
      return absl::OkStatus();
    }
    case Fault::kPauseClient:
      a->target = static_cast<int>(rng_() % 1000);
      if (options_.pause_client) options_.pause_client(true, a->target);
      return absl::OkStatus();
    case Fault::kClockSkew: {
      static constexpr int kSteps[] = {-60, -10, 10, 60};
      int step = kSteps[rng_() % 4];
      a->target = PickReplica(std::bernoulli_distribution(0.5)(rng_));
      if (!replicas_->clock_control()) {
        return absl::FailedPreconditionError("no libfaketime");
      }
      Note(absl::StrCat("clock of replica ", a->target, " steps ", step, " s"));
      return replicas_->SetClockOffset(a->target, step);
    }
    case Fault::kPartitionScheduler:
    case Fault::kPauseScheduler:
    case Fault::kKillScheduler:
      if (schedulers_ == nullptr) {
        return absl::FailedPreconditionError("no schedulers");
      }
      a->target = PickSchedulerLeader();
      if (f == Fault::kPauseScheduler) {
        schedulers_->Pause(a->target);
      } else if (f == Fault::kKillScheduler) {
        schedulers_->Kill9(a->target);
      } else {
        // Cut from lockd only: the harness (root namespace) can still ask
        // it whether it believes it leads.
        for (int r = 1; r <= n; ++r) {
          absl::Status st = net_->Cut(schedulers_->host(a->target), r);
          if (!st.ok()) return st;
        }
      }
      return absl::OkStatus();
  }
  return absl::InternalError("unknown fault");
}

void Nemesis::Heal(const Applied& a, NemesisReport* report) {
  absl::Status st = net_->HealAll();
  if (!st.ok()) report->errors.push_back(std::string(st.message()));
  if (a.fault == Fault::kFullDisk) replicas_->disk(a.target)->Free();
  if (a.fault == Fault::kPauseClient && options_.pause_client) {
    options_.pause_client(false, 0);
  }
  ReapInto(report, a.fault == Fault::kFullDisk, a.target);
  for (int id = 1; id <= replicas_->count(); ++id) {
    if (replicas_->clock_control()) {
      if (absl::Status s = replicas_->SetClockOffset(id, 0); !s.ok()) {
        report->errors.push_back(std::string(s.message()));
      }
    }
    replicas_->Resume(id);
    if (!replicas_->Running(id)) {
      if (absl::Status s = replicas_->Start(id); !s.ok()) {
        report->errors.push_back(std::string(s.message()));
      }
    }
  }
  for (int i = 1; schedulers_ != nullptr && i <= schedulers_->count(); ++i) {
    schedulers_->Resume(i);
    if (!schedulers_->Running(i)) {
      if (absl::Status s = schedulers_->Start(i); !s.ok()) {
        report->errors.push_back(std::string(s.message()));
      }
    }
  }
}

void Nemesis::HealAll(NemesisReport* report) {
  Applied none{Fault::kSlowLink, 0};
  if (options_.pause_client) options_.pause_client(false, 0);
  for (int id = 1; id <= replicas_->count(); ++id) {
    if (replicas_->disk(id) != nullptr) replicas_->disk(id)->Free();
  }
  Heal(none, report);
}

NemesisReport Nemesis::Run() {
  NemesisReport report;
  start_ = absl::Now();
  const absl::Time end = start_ + options_.duration;
  while (absl::Now() < end) {
    Fault f = options_.faults[rng_() % options_.faults.size()];
    // Client and scheduler pauses outlast their session TTLs.
    absl::Duration hold = f == Fault::kPauseClient ? Uniform(rng_, 5000, 9000)
                          : f == Fault::kPauseScheduler
                              ? Uniform(rng_, 4000, 9000)
                              : Uniform(rng_, 2000, 8000);
    absl::Duration settle = Uniform(rng_, 1000, 4000);
    Applied a;
    const absl::Time applied = absl::Now();
    absl::Status st = Apply(f, &a);
    ++report.rounds;
    if (!st.ok()) {
      Note(absl::StrCat(FaultName(f), " could not be applied: ", st.message()));
      report.errors.push_back(std::string(st.message()));
    } else {
      ++report.injected[f];
      Note(absl::StrCat(FaultName(f), " on ", a.target, " for ",
                        absl::FormatDuration(hold)));
    }
    absl::Time until = std::min(end, absl::Now() + hold);
    e2e::WaitFor(
        [&] {
          ReapInto(&report, f == Fault::kFullDisk, a.target);
          return absl::Now() >= until;
        },
        absl::InfiniteDuration());
    Heal(a, &report);
    absl::Time healed = absl::Now();
    int leader = 0;
    e2e::WaitFor([&] { return (leader = replicas_->Leader()) != 0; },
                 absl::Seconds(10));
    absl::Duration took = absl::Now() - healed;
    report.max_recovery = std::max(report.max_recovery, took);
    if (leader == 0) {
      ++report.slow_recoveries;
      Note("healed; no leader within 10 s");
    } else {
      Note(absl::StrCat(
          "healed; leader ", leader, " after ",
          absl::FormatDuration(absl::Trunc(took, absl::Milliseconds(1)))));
    }
    report.windows.push_back(
        {f, applied, healed, AwaitSchedulerLeader(&report)});
    e2e::WaitFor([&] { return absl::Now() >= end; }, settle);
  }
  HealAll(&report);
  return report;
}

}  // namespace berth::nemesis
