#include "scheduler/server/scheduler.h"

#include <algorithm>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/monotonic_wait.h"
#include "scheduler/state/keys.h"
#include "scheduler/state/lockd_store.h"
#include "scheduler/state/pack.h"

namespace berth::sched {
namespace {

// Timestamped (UTC, ms): failover and placement timing is read from these.
void Log(const std::string& id, const std::string& msg) {
  std::cerr << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ ", absl::Now(),
                                absl::UTCTimeZone())
            << "berth-scheduler[" << id << "]: " << msg << std::endl;
}

}  // namespace

Scheduler::Scheduler(SchedulerOptions options) : opts_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(
    SchedulerOptions options) {
  if (options.id.empty()) return absl::InvalidArgumentError("--id is empty");
  if (options.lock_endpoints.empty()) {
    return absl::InvalidArgumentError("--lock-endpoints is empty");
  }
  std::unique_ptr<Scheduler> s(new Scheduler(std::move(options)));
  if (s->opts_.metrics != nullptr) s->RegisterMetrics(s->opts_.metrics);
  if (absl::Status st = s->Connect(); !st.ok()) return st;
  return s;
}

std::shared_ptr<grpc::Channel> Scheduler::DialAgent(
    const std::string& address) const {
  return grpc::CreateChannel(address, opts_.credentials.channel());
}

absl::Status Scheduler::Connect() {
  lock::ClientOptions co;
  // A dead replica must not stall the leader loop for long.
  co.dial_timeout = absl::Milliseconds(300);
  co.attempt_timeout = absl::Seconds(3);
  co.request_timeout = absl::Seconds(8);
  co.credentials = opts_.credentials.channel();
  absl::StatusOr<std::unique_ptr<lock::Client>> c =
      lock::Client::Connect(opts_.lock_endpoints, co);
  if (!c.ok()) return c.status();
  client_ = std::move(*c);
  store_ = std::make_unique<LockdStore>(client_.get());
  audit_ = std::make_unique<AuditLog>(client_.get(), opts_.id,
                                      opts_.audit_retention);
  observer_ = std::make_unique<lock::Observer>(
      client_.get(), kLeaderElection,
      [this](const std::optional<lock::LeaderInfo>& info) {
        absl::MutexLock l(&mu_);
        leader_info_ = info;
      });
  mirror_thread_ = std::thread([this] { MirrorLoop(); });
  election_thread_ = std::thread([this] { ElectionLoop(); });
  leader_thread_ = std::thread([this] { LeaderLoop(); });
  return absl::OkStatus();
}

Scheduler::~Scheduler() { Shutdown(); }

void Scheduler::Shutdown() {
  {
    absl::MutexLock l(&mu_);
    if (stopping_ && !mirror_thread_.joinable()) return;
    stopping_ = true;
  }
  if (leader_thread_.joinable()) leader_thread_.join();
  if (election_thread_.joinable()) election_thread_.join();
  if (mirror_thread_.joinable()) mirror_thread_.join();
  observer_.reset();
}

bool Scheduler::is_leader() const {
  absl::MutexLock l(&mu_);
  return leader_;
}

schedpb::LeaderResponse Scheduler::Leader() const {
  absl::MutexLock l(&mu_);
  return LeaderLocked();
}

absl::StatusOr<lock::ClusterStatus> Scheduler::LockClusterStatus() const {
  return client_->Status();
}

schedpb::LeaderResponse Scheduler::LeaderLocked() const {
  schedpb::LeaderResponse r;
  if (leader_info_.has_value()) {
    std::vector<std::string> parts =
        absl::StrSplit(leader_info_->value, absl::MaxSplits(' ', 1));
    r.set_id(parts[0]);
    if (parts.size() > 1) r.set_address(parts[1]);
    r.set_token(leader_info_->token);
  }
  r.set_is_self(leader_);
  if (leader_) {
    r.set_id(opts_.id);
    r.set_address(opts_.advertise_address);
    r.set_token(fence_.token);
  }
  return r;
}

absl::Status Scheduler::MirrorReadyLocked() const {
  if (mirror_ready_) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("scheduler ", opts_.id,
                   " is still loading the cluster state from lockd"));
}

absl::Status Scheduler::NotLeaderLocked() const {
  schedpb::LeaderResponse l = LeaderLocked();
  if (l.address().empty()) {
    return absl::FailedPreconditionError(
        "not the leader, and no scheduler leads right now; retry shortly");
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "not the leader; the leader is ", l.id(), " at ", l.address()));
}

void Scheduler::MirrorLoop() {
  while (true) {
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
    }
    absl::StatusOr<StoreSnapshot> snap = store_->Load(kBerthPrefix);
    if (!snap.ok()) {
      Log(opts_.id, absl::StrCat("loading /berth/ from lockd: ",
                                 snap.status().ToString()));
      absl::SleepFor(absl::Milliseconds(300));
      continue;
    }
    int64_t from = snap->revision + 1;
    {
      absl::MutexLock l(&mu_);
      if (snap->revision >= state_.revision()) {
        state_.Reset(*snap);
        for (const auto& [id, unused] : state_.jobs()) changed_jobs_.insert(id);
        cron_synced_ = false;
      }
      from = state_.revision() + 1;
      mirror_ready_ = true;
      need_reload_ = false;
      kick_ = true;
    }
    absl::StatusOr<std::unique_ptr<StoreWatch>> w =
        store_->Watch(kBerthPrefix, from);
    if (!w.ok()) {
      absl::SleepFor(absl::Milliseconds(300));
      continue;
    }
    while (true) {
      // Short, so that a newly elected leader's reload starts promptly.
      absl::StatusOr<std::vector<StoreEvent>> events =
          (*w)->Next(absl::Milliseconds(50));
      absl::MutexLock l(&mu_);
      if (stopping_) return;
      if (!events.ok()) {
        Log(opts_.id, absl::StrCat("watch ended (", events.status().ToString(),
                                   "); reloading"));
        break;
      }
      for (const StoreEvent& e : *events) {
        state_.Apply(e);
        KeyRef ref = ParseKey(e.key);
        if (ref.type == KeyRef::Type::kJob) {
          changed_jobs_.insert({ref.ns, ref.job});
        }
      }
      if (!events->empty()) kick_ = true;
      if (need_reload_) break;  // cleared once the reload is in
    }
  }
}

void Scheduler::ElectionLoop() {
  while (true) {
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
    }
    lock::SessionOptions so;
    so.ttl = opts_.session_ttl;
    absl::StatusOr<std::unique_ptr<lock::Session>> session =
        lock::Session::Create(client_.get(), so);
    if (!session.ok()) {
      absl::SleepFor(absl::Milliseconds(500));
      continue;
    }
    lock::Election election(session->get(), kLeaderElection);
    const std::string value =
        absl::StrCat(opts_.id, " ", opts_.advertise_address);
    bool elected = false;
    while (!elected) {
      {
        absl::MutexLock l(&mu_);
        if (stopping_) break;
      }
      if ((*session)->lost()) break;
      absl::Status s = election.Campaign(value, absl::Seconds(1));
      if (s.ok()) {
        elected = true;
      } else if (s.code() != absl::StatusCode::kDeadlineExceeded) {
        absl::SleepFor(absl::Milliseconds(200));
      }
    }
    if (elected) {
      Log(opts_.id, absl::StrCat("elected leader, token ", election.token()));
      {
        absl::MutexLock l(&mu_);
        leader_ = true;
        fence_ = Fence{kLeaderElection, election.token()};
        cron::EngineOptions eo;
        if (cron_lag_ != nullptr) {
          eo.on_claim = [this](const JobId&, int64_t tick) {
            cron_lag_->ObserveDuration(opts_.clock->Now() -
                                       absl::FromUnixSeconds(tick));
          };
        }
        cron_ = std::make_unique<cron::CronEngine>(store_.get(), opts_.id,
                                                   std::move(eo));
        cron_synced_ = false;
        // No reload: the mirror already follows /berth/ through its watch,
        // and our grant wrote the election's holder key (under /berth/) at
        // the revision that is our token. The previous leader's fenced
        // writes were all accepted before that revision, so once the mirror
        // has applied it, it shows everything the previous leader did. At
        // 100,000 allocations a reload took seconds of every failover.
        last_commit_revision_ = election.token();
        acl_commit_revision_ = election.token();
        state_.dirty().MarkAll();
        kick_ = true;
      }
      while (true) {
        absl::MutexLock l(&mu_);
        if (stopping_ || !leader_ || (*session)->lost()) break;
        AwaitMonotonic(&mu_, absl::Condition(&stopping_),
                       absl::Milliseconds(200));
      }
      absl::MutexLock l(&mu_);
      if (leader_) {
        Log(opts_.id, (*session)->lost()
                          ? absl::StrCat("leadership ended: ",
                                         (*session)->lost_reason().ToString())
                          : std::string("leadership ended"));
      }
      leader_ = false;
      cron_.reset();
    }
    bool stopping;
    {
      absl::MutexLock l(&mu_);
      stopping = stopping_;
    }
    if (!(*session)->lost()) {
      // Resigning (and revoking the session) hands the lock to the standby
      // at once instead of after the session TTL.
      if (elected) {
        absl::Status r = election.Resign();
        Log(opts_.id, r.ok() ? "resigned leadership"
                             : absl::StrCat("resign failed (the session "
                                            "revoke below still frees it): ",
                                            r.ToString()));
      }
      (*session)->Close().IgnoreError();
    }
    if (stopping) return;
  }
}

void Scheduler::StepDown(int64_t token, const std::string& why) {
  absl::MutexLock l(&mu_);
  // A commit of an earlier term refused after this process was elected
  // again says nothing about the new term: stepping down for it would hand
  // the new leadership away for nothing.
  if (!leader_ || fence_.token != token) return;
  Log(opts_.id, absl::StrCat("stepping down: ", why));
  leader_ = false;
}

void Scheduler::LeaderLoop() {
  absl::Time next = absl::InfinitePast();
  while (true) {
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || kick_;
      };
      absl::Duration wait =
          std::clamp(next - absl::Now(), absl::ZeroDuration(), opts_.idle_pass);
      AwaitMonotonic(&mu_, absl::Condition(&ready), wait);
      if (stopping_) return;
      kick_ = false;
      if (!leader_ || !mirror_ready_ || need_reload_) {
        next = absl::Now() + absl::Milliseconds(100);
        continue;
      }
    }
    const int64_t before = passes_.load();
    const absl::Time start = opts_.clock->Monotonic();
    next = Pass();
    // Only passes that planned (not the early returns while waiting).
    if (pass_duration_ != nullptr && passes_.load() != before) {
      pass_duration_->ObserveDuration(opts_.clock->Monotonic() - start);
    }
  }
}

absl::Time Scheduler::Pass() {
  const absl::Time now = opts_.clock->Now();
  Plan plan;
  Fence fence;
  absl::Time wake = now + opts_.idle_pass;
  {
    absl::MutexLock l(&mu_);
    if (!leader_ || cron_ == nullptr) return now + absl::Milliseconds(100);
    if (state_.revision() < last_commit_revision_) {
      return now + absl::Milliseconds(20);  // wait for our own writes
    }
    fence = fence_;
    if (!cron_synced_) {
      cron_->Sync(state_, now);
      cron_synced_ = true;
      changed_jobs_.clear();
    }
    for (const JobId& id : changed_jobs_) cron_->OnJobChanged(state_, id, now);
    changed_jobs_.clear();
    absl::StatusOr<absl::Time> cron_next = cron_->Step(state_, now, fence);
    if (!cron_next.ok()) {
      if (cron_next.status().code() == absl::StatusCode::kFailedPrecondition) {
        Log(opts_.id, absl::StrCat("cron: ", cron_next.status().ToString()));
        leader_ = false;
        return now + absl::Milliseconds(100);
      }
      wake = std::min(wake, now + absl::Milliseconds(200));
    } else {
      wake = std::min(wake, *cron_next);
    }
    // Only the jobs something happened to (ClusterState's dirty set), plus
    // now and then every job, to catch a dirty mark that was missed.
    EvalScope scope = state_.dirty().Take(now);
    const bool sweep = !scope.all && now >= next_sweep_;
    std::set<JobId> told(scope.jobs.begin(), scope.jobs.end());
    if (sweep || scope.all) {
      scope = EvalScope::All();
      next_sweep_ = now + opts_.reconcile.safety_sweep;
    }
    plan = Reconcile(state_, scope, now, opts_.reconcile);
    for (const auto& [job, t] : plan.wakes) state_.dirty().WakeAt(job, t);
    if (sweep) {
      int64_t missed = 0;
      for (const JobId& id : plan.changed_jobs) missed += !told.count(id);
      if (missed > 0) {
        sweep_missed_ += missed;
        Log(opts_.id, absl::StrCat("safety sweep: ", missed,
                                   " job(s) needed work the dirty set missed (",
                                   sweep_missed_, " in all)"));
      }
    }
  }
  passes_.fetch_add(1);
  wake = std::min(wake, plan.wake);
  if (!plan.changes.empty()) {
    for (const std::string& line : plan.log) Log(opts_.id, line);
    if (!CommitAll(plan.changes, plan.changed_jobs)) {
      return now + absl::Milliseconds(100);
    }
  }
  {
    absl::MutexLock l(&mu_);
    wake = std::min(wake, state_.dirty().NextWake());
  }
  return std::max(wake, now + absl::Milliseconds(10));
}

absl::Status Scheduler::CommitOne(const StoreTxn& txn) {
  Fence fence;
  {
    absl::MutexLock l(&mu_);
    fence = fence_;
  }
  absl::StatusOr<CommitResult> r = store_->Commit(txn, fence);
  if (!r.ok()) {
    if (r.status().code() == absl::StatusCode::kFailedPrecondition) {
      StepDown(fence.token, r.status().ToString());
    }
    return r.status();
  }
  absl::MutexLock l(&mu_);
  // Wait for the mirror only after writes of our own. A refused txn wrote
  // nothing, and its revision is the store's latest, which may belong to a
  // key outside /berth/ that our watch never delivers: waiting for it would
  // stall every pass (no placement at all) until some /berth/ key changed.
  if (r->succeeded) {
    last_commit_revision_ = std::max(last_commit_revision_, r->revision);
  }
  if (!r->succeeded) {
    return absl::AbortedError("a record changed concurrently; retrying");
  }
  return absl::OkStatus();
}

bool Scheduler::CommitAll(const std::vector<StoreTxn>& changes,
                          const std::set<JobId>& jobs) {
  for (const StoreTxn& txn : PackTxns(changes)) {
    absl::Status s = CommitOne(txn);
    if (s.code() == absl::StatusCode::kFailedPrecondition) return false;
    absl::MutexLock l(&mu_);
    if (conflicts_.Record(s)) {
      Log(opts_.id, absl::StrCat(ConflictStreak::kDefaultLimit,
                                 " commits in a row lost to concurrent "
                                 "changes the mirror does not show; "
                                 "reloading it from lockd"));
      need_reload_ = true;
    }
    if (!s.ok()) {
      Log(opts_.id, absl::StrCat("commit: ", s.ToString()));
      // The mirror may never show what did not happen: evaluate the pass's
      // jobs again rather than lose the ones in this transaction.
      for (const JobId& id : jobs) state_.dirty().Mark(id);
    }
  }
  return true;
}

}  // namespace berth::sched
