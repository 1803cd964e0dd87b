#include "agent/server/agent.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/server/alloc_convert.h"
#include "agent/server/health_probe.h"
#include "common/monotonic_wait.h"

namespace berth::agent {
namespace {

constexpr absl::Duration kRetryBackoff = absl::Seconds(1);
// Status puts per lockd transaction: under its 128-operation limit, and
// small enough in bytes to stay far below any message limit.
constexpr size_t kReportBatchOps = 64;
constexpr size_t kReportBatchBytes = 256 * 1024;
// While an exited task's pipes drain, the loop looks this often whether
// they are done (the log pump does not signal it), so that a `logs -f`
// ends promptly.
constexpr absl::Duration kDrainCheck = absl::Milliseconds(200);

void Log(const std::string& msg) {
  std::cerr << "berth-agent: " << msg << "\n";
}

}  // namespace

Agent::Agent(AgentOptions options, std::unique_ptr<Runtime> runtime,
             std::unique_ptr<AllocStore> store, lock::Client* client,
             std::unique_ptr<LogPump> pump, std::unique_ptr<Prober> prober)
    : options_(std::move(options)),
      client_(client),
      runtime_(std::move(runtime)),
      store_(std::move(store)),
      pump_(std::move(pump)),
      health_(std::make_unique<HealthChecker>(options_.clock, std::move(prober),
                                              [this] { Wake(); })) {
  if (options_.metrics != nullptr) {
    metrics_ = std::make_unique<AgentMetrics>(options_.metrics);
  }
}

absl::StatusOr<std::unique_ptr<Agent>> Agent::Create(
    AgentOptions options, std::unique_ptr<Runtime> runtime,
    std::unique_ptr<AllocStore> store, std::unique_ptr<lock::Client> client) {
  if (client == nullptr) {
    return absl::InvalidArgumentError("agent: no lockd client");
  }
  absl::StatusOr<std::unique_ptr<Agent>> agent = Create(
      std::move(options), std::move(runtime), std::move(store), client.get());
  if (agent.ok()) (*agent)->owned_client_ = std::move(client);
  return agent;
}

absl::StatusOr<std::unique_ptr<Agent>> Agent::Create(
    AgentOptions options, std::unique_ptr<Runtime> runtime,
    std::unique_ptr<AllocStore> store, lock::Client* client) {
  if (client == nullptr) {
    return absl::InvalidArgumentError("agent: no lockd client");
  }
  if (options.node.empty()) {
    return absl::InvalidArgumentError("agent: node id is empty");
  }
  if (absl::Status s = ValidateLogLimits(options.log_limits); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<LogPump>> pump = LogPump::Create();
  if (!pump.ok()) return pump.status();
  std::unique_ptr<Prober> prober = std::move(options.prober);
  // Exec probes run inside the task, through the runtime.
  if (prober == nullptr) prober = std::make_unique<SystemProber>(runtime.get());
  auto agent = std::unique_ptr<Agent>(
      new Agent(std::move(options), std::move(runtime), std::move(store),
                client, std::move(*pump), std::move(prober)));
  // Before Recover, so that adopted tasks are watched from the start.
  if (absl::Status s = agent->runtime_->SetExitListener(
          [a = agent.get()](const std::string&) { a->Wake(); });
      !s.ok()) {
    return s;
  }
  if (absl::Status s = agent->Recover(); !s.ok()) return s;
  agent->health_->Start();
  agent->loop_ = std::thread([a = agent.get()] { a->Loop(); });
  return agent;
}

Agent::~Agent() {
  Shutdown();
  // No more wake-ups from the runtime's thread into a dying agent.
  runtime_->SetExitListener(nullptr).IgnoreError();
}

void Agent::Wake() {
  absl::MutexLock l(&mu_);
  wake_ = true;
}

std::string Agent::LogDir(const std::string& id) const {
  return absl::StrCat(options_.data_dir, "/allocs/", id, "/logs");
}

std::string Agent::FifoDir(const std::string& id) const {
  if (options_.fifo_dir.empty()) return LegacyFifoDir(id);
  return absl::StrCat(options_.fifo_dir, "/", id);
}

std::string Agent::LegacyFifoDir(const std::string& id) const {
  return absl::StrCat(options_.data_dir, "/allocs/", id, "/fifo");
}

bool Agent::LogsFinished(const std::string& id) const {
  absl::MutexLock l(&mu_);
  return live_logs_.count(id) == 0;
}

void Agent::SetLogsLive(const std::string& id, bool live) {
  absl::MutexLock l(&mu_);
  if (live) {
    live_logs_.insert(id);
  } else {
    live_logs_.erase(id);
  }
}

absl::Status Agent::Recover() {
  absl::StatusOr<std::vector<AllocRecord>> records = store_->List();
  if (!records.ok()) return records.status();
  for (AllocRecord& r : *records) {
    if (r.task.has_value() && !IsTerminal(r.state)) {
      if (absl::Status s = runtime_->Adopt(*r.task); !s.ok()) {
        Log(absl::StrCat("adopt ", r.alloc_id, ": ", s.ToString()));
      } else {
        adopted_.insert(r.alloc_id);
        // The task writes into named FIFOs that outlive the previous agent;
        // read them again so that its output keeps flowing.
        if (!options_.capture_logs) {
          // Nothing was captured; there are no FIFOs to read again.
        } else if (absl::Status s = ReattachLogs(r.alloc_id); s.ok()) {
          SetLogsLive(r.alloc_id, true);
        } else {
          Log(absl::StrCat("logs of ", r.alloc_id, ": ", s.ToString()));
        }
        agentpb::AllocationSpec spec;
        if (spec.ParseFromString(r.spec)) WatchHealth(r.alloc_id, spec);
      }
    }
    // Report every record once: a status written just before the crash may
    // have been lost.
    dirty_.insert(r.alloc_id);
    records_[r.alloc_id] = std::move(r);
  }
  Log(absl::StrCat("recovered ", records_.size(), " allocations, adopted ",
                   adopted_.size()));
  SweepFifoDirs();
  absl::StatusOr<std::optional<std::string>> snap =
      store_->GetMeta(kDesiredSnapshotKey);
  agentpb::DesiredSnapshot snapshot;
  if (snap.ok() && snap->has_value() && snapshot.ParseFromString(**snap) &&
      snapshot.revision() > 0) {
    for (const auto& e : snapshot.allocs()) {
      desired_[e.spec().alloc_id()] = Desired{e.spec(), e.mod_revision()};
    }
    // Known as of that revision; the resumed watch brings the rest.
    desired_known_ = true;
    resume_revision_ = snapshot.revision();
  }
  return absl::OkStatus();
}

absl::Status Agent::ReattachLogs(const std::string& id) {
  absl::Status s =
      pump_->Reattach(id, LogDir(id), FifoDir(id), options_.log_limits);
  // Launched by an agent that kept its FIFOs in the data dir (before
  // --fifo-dir, or with it off): they are still there.
  if (!s.ok() && !options_.fifo_dir.empty()) {
    absl::Status legacy =
        pump_->Reattach(id, LogDir(id), LegacyFifoDir(id), options_.log_limits);
    if (legacy.ok()) return legacy;
  }
  return s;
}

void Agent::SweepFifoDirs() {
  if (options_.fifo_dir.empty()) return;
  // FIFO directories of allocations this agent no longer has (forgotten
  // while a previous agent crashed, say); /run itself empties on reboot.
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator(options_.fifo_dir, ec)) {
    if (records_.count(e.path().filename().string()) == 0) {
      std::filesystem::remove_all(e.path(), ec);
    }
  }
}

void Agent::Shutdown() {
  {
    absl::MutexLock l(&mu_);
    if (shutdown_) return;
    shutdown_ = true;
  }
  if (loop_.joinable()) loop_.join();
  watch_.reset();
  if (options_.stop_tasks_on_exit) {
    for (auto& [id, r] : records_) {
      if (!IsTerminal(r.state) && r.task.has_value()) StartStop(id);
    }
  }
  for (auto& [id, job] : stops_) job.thread.join();
  stops_.clear();
  // Only if empty: FIFOs of tasks left to the next agent stay.
  if (!options_.fifo_dir.empty()) rmdir(options_.fifo_dir.c_str());
  if (options_.stop_tasks_on_exit) {
    for (const auto& [id, alloc] : Observe()) {
      if (alloc.exit.has_value() && !IsTerminal(alloc.record.state)) {
        RecordExit(id, *alloc.exit);
      }
    }
    ReportDirty();
  }
}

void Agent::Loop() {
  while (true) {
    const absl::Duration wait = NextWait();
    {
      absl::MutexLock l(&mu_);
      auto woken = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return shutdown_ || wake_ || !batches_.empty();
      };
      AwaitMonotonic(&mu_, absl::Condition(&woken), wait);
      if (shutdown_) return;
      wake_ = false;
    }
    Tick();
  }
}

absl::Duration Agent::NextWait() const {
  const absl::Time now = options_.clock->Now();
  absl::Time next = now + options_.safety_interval;
  if (session_ == nullptr || !registered_) {
    next = std::min(next, next_register_);
  }
  if (watch_ == nullptr) next = std::min(next, next_watch_);
  // Statuses left dirty after a report failed (while the desired set is
  // unknown nothing is reported, and nothing is retried).
  if (!dirty_.empty() && desired_known_) {
    next = std::min(next, next_report_);
  }
  if (!draining_.empty()) next = std::min(next, now + kDrainCheck);
  for (const auto& [id, r] : records_) {
    if (r.state == AllocState::kRunning) {
      next = std::min(next, next_usage_);
      break;
    }
  }
  return std::max(next - now, absl::ZeroDuration());
}

void Agent::Tick() {
  EnsureRegistered();
  EnsureWatching();
  std::vector<std::pair<uint64_t, absl::StatusOr<lock::WatchBatch>>> batches;
  {
    absl::MutexLock l(&mu_);
    batches.swap(batches_);
  }
  for (auto& [generation, b] : batches) {
    // Left over from a watch already replaced (e.g. its cancellation).
    if (generation != watch_generation_ || watch_ == nullptr) continue;
    if (b.ok()) {
      ApplyBatch(*b);
      continue;
    }
    // The watch ended for good. Compaction (OUT_OF_RANGE) and every other
    // terminal error are handled alike: read the prefix afresh.
    Log(absl::StrCat("watch ended (", b.status().ToString(),
                     "); resyncing from a full read"));
    watch_.reset();
    next_watch_ = options_.clock->Now();
    break;
  }
  if (desired_unsaved_revision_ > 0) {
    SaveDesired(desired_unsaved_revision_);
    desired_unsaved_revision_ = 0;
  }
  JoinFinishedStops();
  for (const std::string& id : health_->TakeChanged()) dirty_.insert(id);
  // Launches go last, together: their records share one store transaction
  // (LaunchAll). Reconcile never asks for a launch and another action on
  // the same allocation in one pass.
  std::vector<std::string> launches;
  for (const Action& a : Reconcile(
           [this] {
             std::map<std::string, agentpb::AllocationSpec> specs;
             for (const auto& [id, d] : desired_) specs[id] = d.spec;
             return specs;
           }(),
           desired_known_, Observe())) {
    if (a.kind == Action::Kind::kLaunch) {
      Log(ToString(a));
      launches.push_back(a.alloc_id);
      continue;
    }
    Execute(a);
  }
  LaunchAll(launches);
  DetachDrained();
  SampleUsage();
  ReportDirty();
  if (metrics_ != nullptr) metrics_->PublishTasks(records_);
}

void Agent::EnsureRegistered() {
  if (session_ != nullptr && !session_->lost() && registered_) return;
  const absl::Time now = options_.clock->Now();
  if (now < next_register_) return;
  next_register_ = now + kRetryBackoff;
  if (session_ == nullptr || session_->lost()) {
    if (session_ != nullptr) {
      Log(absl::StrCat("session lost (", session_->lost_reason().ToString(),
                       "); tasks keep running, re-registering"));
    }
    session_.reset();
    registered_ = false;
    lock::SessionOptions so;
    so.ttl = options_.session_ttl;
    // Runs on the client's keepalive thread: only wake the loop, which
    // re-registers.
    so.on_lost = [this](const absl::Status&) { Wake(); };
    absl::StatusOr<std::unique_ptr<lock::Session>> s =
        lock::Session::Create(client_, so);
    if (!s.ok()) {
      Log(absl::StrCat("open session: ", s.status().ToString()));
      return;
    }
    session_ = std::move(*s);
  }
  agentpb::NodeInfo info = options_.info;
  lock::PutOptions po;
  po.lease = session_->lease_id();
  absl::StatusOr<lock::PutResult> put =
      client_->kv().Put(NodeKey(options_.node), info.SerializeAsString(), po);
  if (!put.ok()) {
    Log(absl::StrCat("register node: ", put.status().ToString()));
    return;
  }
  registered_ = true;
  // Whatever happened while unregistered, the statuses are re-sent.
  for (const auto& [id, r] : records_) {
    if (desired_.count(id) > 0) dirty_.insert(id);
  }
  Log(absl::StrCat("registered ", NodeKey(options_.node), " with lease ",
                   session_->lease_id()));
}

void Agent::EnsureWatching() {
  if (watch_ != nullptr) return;
  const absl::Time now = options_.clock->Now();
  if (now < next_watch_) return;
  next_watch_ = now + kRetryBackoff;
  const std::string prefix = AllocPrefix(options_.node);
  int64_t start = 0;
  if (resume_revision_ > 0) {
    // One try: if that history is compacted the watch ends with
    // OUT_OF_RANGE and the next attempt reads the prefix afresh.
    start = resume_revision_ + 1;
    resume_revision_ = 0;
    Log(absl::StrCat("resuming watch of ", prefix, " from revision ", start,
                     " (", desired_.size(), " allocations known)"));
  } else {
    lock::RangeOptions ro;
    ro.prefix = true;
    absl::StatusOr<lock::RangeResult> range = client_->kv().Range(prefix, ro);
    if (!range.ok()) {
      Log(absl::StrCat("read ", prefix, ": ", range.status().ToString()));
      return;
    }
    desired_.clear();
    for (const lock::KeyValue& kv : range->kvs) {
      SetDesired(kv.key, kv.value, kv.mod_revision);
    }
    desired_known_ = true;
    SaveDesired(range->revision);
    desired_unsaved_revision_ = 0;
    start = range->revision + 1;
  }
  lock::WatchOptions wo;
  wo.prefix = true;
  wo.start_revision = start;
  absl::StatusOr<std::unique_ptr<lock::Watch>> w =
      lock::Watch::Start(client_, prefix, wo,
                         [this, generation = ++watch_generation_](
                             absl::StatusOr<lock::WatchBatch> b) {
                           absl::MutexLock l(&mu_);
                           batches_.emplace_back(generation, std::move(b));
                         });
  if (!w.ok()) {
    Log(absl::StrCat("watch ", prefix, ": ", w.status().ToString()));
    return;
  }
  watch_ = std::move(*w);
}

void Agent::SetDesired(const std::string& key, const std::string& value,
                       int64_t revision) {
  absl::StatusOr<agentpb::AllocationSpec> spec =
      ParseAllocationSpec(options_.node, key, value);
  if (!spec.ok()) {
    Log(absl::StrCat("ignoring ", spec.status().ToString()));
    return;
  }
  const std::string id = spec->alloc_id();
  desired_[id] = Desired{std::move(*spec), revision};
  dirty_.insert(id);
}

void Agent::ApplyBatch(const lock::WatchBatch& batch) {
  int64_t last = 0;
  for (const lock::WatchEvent& ev : batch.events) {
    last = std::max(last, ev.kv.mod_revision);
    if (ev.type == lock::WatchEvent::Type::kPut) {
      SetDesired(ev.kv.key, ev.kv.value, ev.kv.mod_revision);
      continue;
    }
    absl::StatusOr<std::string> id = AllocIdFromKey(options_.node, ev.kv.key);
    if (id.ok()) desired_.erase(*id);
  }
  // Written once per pass of the loop, however many batches it applied.
  if (last > 0) desired_unsaved_revision_ = last;
}

void Agent::SaveDesired(int64_t revision) {
  agentpb::DesiredSnapshot snapshot;
  snapshot.set_revision(revision);
  for (const auto& [id, d] : desired_) {
    agentpb::DesiredSnapshot::Entry* e = snapshot.add_allocs();
    *e->mutable_spec() = d.spec;
    e->set_mod_revision(d.revision);
  }
  // Written by the tick's FlushSaves, in one transaction with its records:
  // two fsyncs of their own per tick sat between a new allocation and its
  // launch. Until then a restart resumes the watch from the older revision.
  unsaved_meta_[kDesiredSnapshotKey] = snapshot.SerializeAsString();
  unsaved_meta_[kWatchRevisionKey] = absl::StrCat(revision);
}

std::map<std::string, LocalAlloc> Agent::Observe() {
  std::map<std::string, LocalAlloc> out;
  for (const auto& [id, r] : records_) {
    LocalAlloc l;
    l.record = r;
    absl::StatusOr<std::optional<ExitStatus>> exit = runtime_->Poll(id);
    l.in_runtime = exit.ok();
    if (exit.ok()) l.exit = *exit;
    l.stopping = stops_.count(id) > 0;
    out[id] = std::move(l);
  }
  return out;
}

void Agent::Execute(const Action& action) {
  Log(ToString(action));
  switch (action.kind) {
    case Action::Kind::kLaunch:
      LaunchAll({action.alloc_id});
      return;
    case Action::Kind::kStop:
      StartStop(action.alloc_id);
      return;
    case Action::Kind::kRecordExit:
      RecordExit(action.alloc_id, *action.exit);
      return;
    case Action::Kind::kMarkStopped:
      MarkStopped(action.alloc_id);
      return;
    case Action::Kind::kForget:
      Forget(action.alloc_id);
      return;
  }
}

void Agent::SampleUsage() {
  const absl::Time now = options_.clock->Now();
  if (now < next_usage_) return;
  next_usage_ = now + options_.usage_interval;
  const double elapsed_ns = last_usage_ == absl::InfinitePast()
                                ? 0
                                : absl::ToDoubleNanoseconds(now - last_usage_);
  last_usage_ = now;
  for (const auto& [id, r] : records_) {
    if (r.state != AllocState::kRunning) continue;
    absl::StatusOr<Usage> u = runtime_->GetUsage(id);
    if (!u.ok()) continue;
    // cpu_ns is cumulative; the rate over the last interval is what a
    // person watching `berth top` wants to see.
    if (auto prev = usage_.find(id); prev != usage_.end() && elapsed_ns > 0 &&
                                     u->cpu_ns >= prev->second.cpu_ns) {
      cpu_millicores_[id] = static_cast<int64_t>(
          static_cast<double>(u->cpu_ns - prev->second.cpu_ns) * 1000.0 /
          elapsed_ns);
    }
    usage_[id] = *u;
    dirty_.insert(id);
  }
}

void Agent::ReportDirty() {
  // What is reported must be on disk first: a restarted agent may not
  // contradict a status it already published.
  FlushSaves();
  // Until the desired set is known, nothing says which ids are ours.
  if (!desired_known_) return;
  const absl::Time now = options_.clock->Now();
  std::vector<std::string> ids;
  std::vector<lock::TxnOp> puts;
  for (auto it = dirty_.begin(); it != dirty_.end();) {
    const std::string& id = *it;
    auto d = desired_.find(id);
    auto r = records_.find(id);
    // Only allocations this node is asked to run are reported; one that was
    // moved away is reported by its new node.
    if (d == desired_.end()) {
      it = dirty_.erase(it);
      continue;
    }
    AllocRecord pending;
    if (r == records_.end()) {
      pending.alloc_id = id;
      pending.job = d->second.spec.job();
      pending.attempt = d->second.spec.attempt();
      pending.state = AllocState::kPending;
    }
    const AllocRecord& rec = r == records_.end() ? pending : r->second;
    std::optional<Usage> usage;
    if (auto u = usage_.find(id); u != usage_.end()) usage = u->second;
    agentpb::AllocationStatus st =
        ToStatus(rec, options_.node, usage, d->second.revision, now);
    if (auto c = cpu_millicores_.find(id); c != cpu_millicores_.end()) {
      st.mutable_usage()->set_cpu_millicores(c->second);
    }
    FillHealth(rec, st);
    ids.push_back(id);
    puts.push_back(lock::TxnOp::Put(StatusKey(id), st.SerializeAsString()));
    ++it;
  }
  // Unconditional puts of distinct keys, many per transaction: one lockd
  // round trip (and one log entry) for a burst of launches or exits
  // instead of one each.
  size_t i = 0;
  while (i < puts.size()) {
    lock::Txn txn = client_->kv().Txn();
    size_t bytes = 0;
    const size_t first = i;
    for (; i < puts.size() && i - first < kReportBatchOps &&
           (i == first || bytes < kReportBatchBytes);
         ++i) {
      bytes += puts[i].key.size() + puts[i].value.size();
      txn.Then(std::move(puts[i]));
    }
    absl::StatusOr<lock::TxnResult> done = txn.Commit();
    if (!done.ok()) {
      Log(absl::StrCat("report ", i - first, " statuses (", ids[first],
                       "...): ", done.status().ToString()));
      next_report_ = now + kRetryBackoff;
      return;  // lockd is unreachable; retry everything after a backoff
    }
    for (size_t j = first; j < i; ++j) dirty_.erase(ids[j]);
  }
}

}  // namespace berth::agent
