#include "tests/sim/simulator.h"

#include <algorithm>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/sim/kv_state_machine.h"
#include "tests/sim/linearizability.h"

namespace berth::sim {

namespace {
// Op ids at or above this are the simulator's own liveness probes.
constexpr uint64_t kProbeOpBase = uint64_t{1} << 62;
}  // namespace

Simulator::Simulator(const SimOptions& options)
    : options_(options),
      rng_(options.seed),
      network_(&rng_),
      workload_(WorkloadOptions{}, &rng_) {
  std::uniform_real_distribution<double> u(0, 1);
  profile_.fault_rate = 0.01 + 0.09 * u(rng_);
  profile_.ready_crash_rate = u(rng_) < 0.5 ? 0.0005 + 0.004 * u(rng_) : 0;
  profile_.restart_rate = 0.02 + 0.2 * u(rng_);
  profile_.leader_kill = u(rng_) < 0.5 ? 0 : 0.4 * u(rng_);
  profile_.net.loss = u(rng_) < 0.3 ? 0 : 0.15 * u(rng_);
  profile_.net.duplicate = u(rng_) < 0.5 ? 0 : 0.1 * u(rng_);
  profile_.net.max_delay = 1 + Pick(4);
  profile_.net.long_delay = u(rng_) < 0.5 ? 0 : 0.05 * u(rng_);
  network_.SetFaults(profile_.net);
  // Small messages and tight flow control split a new leader's catch-up
  // traffic into many steps, which opens more interleavings (e.g. old-term
  // entries replicated before the leader's own no-op).
  const uint64_t sizes[] = {1, 64, 256, 4096};
  node_options_.max_size_per_msg = sizes[Pick(4)];
  node_options_.max_inflight_msgs = 1 + static_cast<int>(Pick(8));
  node_options_.snapshot_chunk_bytes = 64 << Pick(4);
  node_options_.unsafe_read_index_without_quorum = options_.plant_stale_read;
  // Mostly lockd's mode; some seeds keep the write before the sends, on
  // leaders or on followers.
  node_options_.async_leader_writes = Pick(5) != 0;
  node_options_.async_follower_writes = Pick(5) != 0;
  next_id_ = options_.nodes + 1;
}

Simulator::~Simulator() = default;

uint64_t Simulator::NodeSeed(uint64_t id) { return rng_() ^ id; }

void Simulator::Trace(const std::string& line) {
  if (options_.verbose) std::cout << "[t=" << now_ << "] " << line << "\n";
}

void Simulator::Fail(const std::string& what) {
  if (!result_.ok) return;
  result_.ok = false;
  result_.violation = absl::StrCat("at tick ", now_, ": ", what);
  Trace(absl::StrCat("VIOLATION ", what));
}

void Simulator::Check(const absl::Status& s) {
  if (!s.ok()) Fail(std::string(s.message()));
}

absl::Status Simulator::AddNode(uint64_t id,
                                const raft::MemoryStorage& initial) {
  absl::StatusOr<std::unique_ptr<SimNode>> n =
      SimNode::Create(id, initial, node_options_, NodeSeed(id), this);
  if (!n.ok()) return n.status();
  nodes_[id] = std::move(*n);
  Trace(absl::StrCat("n", id, " created"));
  return absl::OkStatus();
}

std::vector<uint64_t> Simulator::Members(bool up_only) const {
  std::vector<uint64_t> out;
  for (const auto& [id, n] : nodes_) {
    if (retired_.contains(id)) continue;
    if (up_only && !n->up()) continue;
    out.push_back(id);
  }
  return out;
}

uint64_t Simulator::Leader() {
  uint64_t best = 0;
  uint64_t best_term = 0;
  for (const auto& [id, soft] : soft_) {
    if (soft.role != raft::Role::kLeader || retired_.contains(id)) continue;
    if (!nodes_[id]->up() || Paused(id)) continue;
    if (soft.term >= best_term) {
      best = id;
      best_term = soft.term;
    }
  }
  return best;
}

// --- NodeObserver -----------------------------------------------------------

void Simulator::Send(const raftpb::Message& m) { network_.Send(now_, m); }

bool Simulator::ShouldCrash(uint64_t id, CrashPoint p) {
  if (in_liveness_ || profile_.ready_crash_rate == 0) return false;
  if (!Chance(profile_.ready_crash_rate)) return false;
  ++result_.crashes;
  soft_.erase(id);
  workload_.OnNodeDown(id);
  return true;
}

void Simulator::Persisted(SimNode& node, const raft::Ready& rd) {
  if (rd.snapshot) {
    ++result_.snapshots_installed;
    Trace(absl::StrCat("n", node.id(), " installed snapshot at ",
                       rd.snapshot->metadata().index()));
  }
  if (!rd.soft_state) return;
  const raft::Status st = node.raft().GetStatus();
  const uint64_t term = st.hard_state.term();
  auto& soft = soft_[node.id()];
  const bool was_leader = soft.role == raft::Role::kLeader && soft.term == term;
  soft = SoftView{st.soft_state.role, term};
  Trace(absl::StrCat("n", node.id(), " is ", raft::RoleName(soft.role),
                     " term ", term, " lead ", st.soft_state.lead));
  if (soft.role != raft::Role::kLeader || was_leader) return;
  ++result_.leaders;
  if (!in_liveness_ && Chance(profile_.leader_kill)) {
    // A leader that dies young leaves entries of its term on few nodes:
    // the raw material of the §5.4.2 (Figure 8) scenarios.
    // Cut it off before this Ready's messages leave, so that what it just
    // appended stays on its own disk only.
    for (uint64_t b : Members(false)) {
      if (b != node.id()) network_.Block(node.id(), b);
    }
    scheduled_crashes_.emplace(now_ + Pick(4), node.id());
    Trace(absl::StrCat("n", node.id(), " cut off as a young leader"));
  }
  Check(checker_.ObserveLeader(node.id(), term));
  Check(checker_.CheckLeaderCompleteness(node.id(), term, node.disk()));
}

void Simulator::Applied(uint64_t id, const raftpb::Entry& e,
                        const ApplyResult& r) {
  const bool first = !checker_.committed().contains(e.index());
  Check(checker_.ObserveApplied(id, e));
  if (first && options_.verbose) {
    Trace(absl::StrCat(
        "n", id, " first to apply ", e.index(), " (term ", e.term(),
        e.type() == raftpb::ENTRY_CONF_CHANGE ? ", conf change" : "", ")"));
  }
  if (r.op_id != 0) {
    applied_ops_.insert(r.op_id);
    workload_.OnApplied(id, r.op_id, r.ok, HeaderOf(id));
  }
  if (e.type() != raftpb::ENTRY_CONF_CHANGE) return;
  raftpb::ConfChange cc;
  if (!cc.ParseFromString(e.data())) {
    Fail(absl::StrCat("n", id, " applied an unparsable conf change at ",
                      e.index()));
    return;
  }
  // Acted on after the current event: the applying node may be the subject.
  membership_events_.push_back(cc);
}

void Simulator::ReadServed(uint64_t id, const std::string& ctx,
                           const std::string& value) {
  workload_.OnReadServed(id, ctx, value, HeaderOf(id));
}

// --- ClusterPort ------------------------------------------------------------

LeaderHint Simulator::HeaderOf(uint64_t id) {
  const raft::Status st = nodes_.at(id)->raft().GetStatus();
  return LeaderHint{st.hard_state.term(), st.soft_state.lead};
}

bool Simulator::Active(uint64_t id) const {
  auto it = nodes_.find(id);
  return it != nodes_.end() && it->second->up() && !retired_.contains(id) &&
         !Paused(id);
}

absl::Status Simulator::SubmitWrite(uint64_t node, uint64_t op_id,
                                    std::string payload, LeaderHint* hint) {
  if (!nodes_.at(node)->up()) return absl::UnavailableError("node down");
  if (Paused(node)) {
    deferred_[node].push_back(
        DeferredRequest{false, op_id, std::move(payload)});
    return absl::OkStatus();
  }
  return HandleWrite(node, std::move(payload), hint);
}

absl::Status Simulator::SubmitRead(uint64_t node, uint64_t op_id,
                                   const std::string& key, LeaderHint* hint) {
  if (!nodes_.at(node)->up()) return absl::UnavailableError("node down");
  if (Paused(node)) {
    deferred_[node].push_back(DeferredRequest{true, op_id, key});
    return absl::OkStatus();
  }
  return HandleRead(node, op_id, key, hint);
}

absl::Status Simulator::HandleWrite(uint64_t node, std::string payload,
                                    LeaderHint* hint) {
  SimNode& n = *nodes_.at(node);
  *hint = HeaderOf(node);
  if (hint->leader != node) {
    return absl::FailedPreconditionError("not the leader");
  }
  absl::Status s = n.Propose(std::move(payload));
  if (s.ok()) Check(n.Drain());
  return s;
}

absl::Status Simulator::HandleRead(uint64_t node, uint64_t op_id,
                                   const std::string& key, LeaderHint* hint) {
  SimNode& n = *nodes_.at(node);
  *hint = HeaderOf(node);
  if (hint->leader == node && !checker_.leaders().empty() &&
      checker_.leaders().rbegin()->first > hint->term) {
    ++result_.deposed_leader_reads;
    const bool minority = InMinority(node);
    if (minority) ++result_.minority_leader_reads;
    Trace(absl::StrCat("n", node, " (leader of term ", hint->term, ", deposed",
                       minority ? ", in a minority partition" : "",
                       ") asked to read ", key));
  }
  absl::Status s = n.Read(ReadContext(op_id), key);
  if (s.ok()) Check(n.Drain());
  return s;
}

bool Simulator::InMinority(uint64_t id) const {
  const std::vector<uint64_t> all = Members(false);
  size_t reach = 1;  // itself
  for (uint64_t m : all) {
    if (m != id && network_.Connected(id, m) && network_.Connected(m, id)) {
      ++reach;
    }
  }
  return 2 * reach <= all.size();
}

// --- Faults -----------------------------------------------------------------

void Simulator::CrashNode(uint64_t id) {
  SimNode& n = *nodes_.at(id);
  if (!n.up()) return;
  n.Crash();
  ++result_.crashes;
  soft_.erase(id);
  if (paused_until_.erase(id) > 0) network_.Release(id);
  deferred_.erase(id);
  workload_.OnNodeDown(id);
  Trace(absl::StrCat("n", id, " CRASH (between Ready batches)"));
}

void Simulator::RestartNode(uint64_t id) {
  SimNode& n = *nodes_.at(id);
  if (n.up()) return;
  absl::Status s = n.Restart(NodeSeed(id));
  if (!s.ok()) {
    Fail(absl::StrCat("restarting n", id, ": ", s.ToString()));
    return;
  }
  Trace(absl::StrCat("n", id, " restarted from durable state, applied ",
                     n.kv().applied()));
  Check(n.Drain());
}

void Simulator::HandleMembershipEvents() {
  std::vector<raftpb::ConfChange> events = std::move(membership_events_);
  membership_events_.clear();
  for (const raftpb::ConfChange& cc : events) {
    const uint64_t x = cc.node_id();
    if (retired_.contains(x)) continue;
    if (cc.type() == raftpb::CONF_REMOVE_NODE) {
      retired_.insert(x);
      learners_.erase(x);
      if (auto it = nodes_.find(x); it != nodes_.end() && it->second->up()) {
        it->second->Crash();
        soft_.erase(x);
        if (paused_until_.erase(x) > 0) network_.Release(x);
        deferred_.erase(x);
        workload_.OnNodeDown(x);
      }
      Trace(absl::StrCat("n", x, " removed from the cluster and shut down"));
      continue;
    }
    if (cc.type() == raftpb::CONF_ADD_LEARNER) learners_.insert(x);
    if (cc.type() == raftpb::CONF_ADD_VOTER) learners_.erase(x);
    if (!nodes_.contains(x)) Check(AddNode(x, raft::MemoryStorage()));
  }
}

bool Simulator::EveryoneCompacted() {
  bool all = true;
  for (uint64_t id : Members(false)) {
    SimNode& n = *nodes_[id];
    if (n.disk().durable().FirstIndex() > 1) continue;
    all = false;
    if (n.up() && !Paused(id)) Check(n.Compact(0));
  }
  return all;
}

void Simulator::ChangeMembership() {
  const uint64_t lead = Leader();
  if (lead == 0) return;
  raft::Raft& r = nodes_[lead]->raft();
  const raft::Status st = r.GetStatus();
  const auto& voters = st.conf_state.voters();
  const auto& learners = st.conf_state.learners();
  raftpb::ConfChange cc;
  if (!learners.empty()) {
    const uint64_t x = learners[Pick(learners.size())];
    auto p = st.progress.find(x);
    if (p == st.progress.end() || p->second.match < st.hard_state.commit()) {
      return;  // not caught up yet
    }
    cc.set_type(raftpb::CONF_ADD_VOTER);
    cc.set_node_id(x);
  } else if (voters.size() > 3 &&
             (voters.size() > options_.nodes || Chance(0.3))) {
    cc.set_type(raftpb::CONF_REMOVE_NODE);
    cc.set_node_id(voters[Pick(voters.size())]);
  } else if (voters.size() < options_.nodes + 1) {
    if (options_.joiner_workaround && !EveryoneCompacted()) return;
    cc.set_type(raftpb::CONF_ADD_LEARNER);
    cc.set_node_id(next_id_);
  } else {
    return;
  }
  absl::Status s = r.ProposeConfChange(cc);
  Trace(absl::StrCat("propose ", raftpb::ConfChangeType_Name(cc.type()), " n",
                     cc.node_id(), " via leader n", lead, ": ", s.ToString()));
  if (!s.ok()) return;
  ++result_.conf_changes;
  if (cc.type() == raftpb::CONF_ADD_LEARNER) ++next_id_;
  Check(nodes_[lead]->Drain());
}

void Simulator::InjectFault() {
  const std::vector<uint64_t> all = Members(false);
  const std::vector<uint64_t> up = Members(true);
  switch (Pick(11)) {
    case 0: {  // symmetric partition: a random minority is cut off
      std::vector<uint64_t> group = all;
      std::shuffle(group.begin(), group.end(), rng_);
      group.resize(1 + Pick(std::max<size_t>(1, all.size() / 2)));
      // Cutting off the leader is where the interesting cases are.
      const uint64_t lead = Leader();
      if (lead != 0 && Chance(0.5) &&
          std::find(group.begin(), group.end(), lead) == group.end()) {
        group[0] = lead;
      }
      Partition(group, all);
      Trace(absl::StrCat("partition {", absl::StrJoin(group, ","), "}"));
      break;
    }
    case 1: {  // asymmetric: a can no longer reach b, b still reaches a
      const uint64_t a = all[Pick(all.size())];
      const uint64_t b = all[Pick(all.size())];
      if (a == b) break;
      network_.Block(a, b);
      Trace(absl::StrCat("block link n", a, " -> n", b));
      break;
    }
    case 2:
      network_.HealAll();
      workload_.HealClients();
      Trace("heal all links");
      break;
    case 3: {
      const uint64_t lead = Leader();
      if (lead != 0 && Chance(0.5)) {
        CrashNode(lead);
      } else if (!up.empty()) {
        CrashNode(up[Pick(up.size())]);
      }
      break;
    }
    case 4: {  // the network's weather changes
      NetworkFaults f = profile_.net;
      f.loss *= 2 * std::uniform_real_distribution<double>(0, 1)(rng_);
      f.max_delay = 1 + Pick(profile_.net.max_delay + 3);
      network_.SetFaults(f);
      Trace(absl::StrCat("network loss ", f.loss, " max delay ", f.max_delay));
      break;
    }
    case 5:
    case 6:
      ChangeMembership();
      break;
    case 7: {
      const uint64_t lead = Leader();
      if (lead == 0) break;
      const raft::Status st = nodes_[lead]->raft().GetStatus();
      const auto& voters = st.conf_state.voters();
      if (voters.empty()) break;
      const uint64_t to = voters[Pick(voters.size())];
      absl::Status s = nodes_[lead]->raft().TransferLeadership(to);
      Trace(absl::StrCat("transfer leadership n", lead, " -> n", to, ": ",
                         s.ToString()));
      Check(nodes_[lead]->Drain());
      break;
    }
    case 8:
      if (!up.empty()) {
        const uint64_t id = up[Pick(up.size())];
        if (!Paused(id)) Check(nodes_[id]->Compact(Pick(20)));
      }
      break;
    case 9: {  // a process pause (GC, SIGSTOP, a stalled VM), mostly the
               // leader's: it wakes up believing it still leads
      const uint64_t lead = Leader();
      if (!options_.pauses) {
        // No pauses: cut the leader off alone instead, so the partition
        // nemesis by itself must leave clients on a deposed leader.
        if (lead == 0) break;
        Partition({lead}, all);
        Trace(absl::StrCat("partition {", lead, "} (the leader)"));
        break;
      }
      uint64_t id = lead;
      if (id == 0 || Chance(0.25)) {
        if (up.empty()) break;
        id = up[Pick(up.size())];
      }
      if (Paused(id)) break;
      // Long enough, often, for the others to elect a leader and commit
      // writes meanwhile (election timeouts are 10..20 ticks).
      PauseNode(id, 5 + Pick(150));
      if (Chance(0.5)) {
        // ...and, often, cut off from the others too, so that after waking
        // it stays leader until check-quorum deposes it.
        Partition({id}, all);
        Trace(absl::StrCat("partition {", id, "}"));
      }
      break;
    }
    case 10: {  // clock skew: a node's clock runs slow (faketime, a VM
                // starved of CPU), mostly the leader's, so its timers,
                // check-quorum's among them, fire late
      if (!options_.slow_clocks) break;
      const uint64_t lead = Leader();
      uint64_t id = lead;
      if (id == 0 || Chance(0.25)) {
        if (up.empty()) break;
        id = up[Pick(up.size())];
      }
      const uint64_t factor = 2 + Pick(4);
      const uint64_t ticks = 20 + Pick(200);
      slow_clocks_[id] = SlowClock{factor, now_ + ticks};
      Trace(absl::StrCat("n", id, " clock runs ", factor, "x slow for ", ticks,
                         " ticks"));
      break;
    }
  }
}

void Simulator::Partition(const std::vector<uint64_t>& group,
                          const std::vector<uint64_t>& all) {
  network_.Isolate(group, all);
  workload_.SplitClients(group, all);
}

bool Simulator::ClockTicks(uint64_t id) {
  auto it = slow_clocks_.find(id);
  if (it == slow_clocks_.end()) return true;
  if (it->second.until <= now_) {
    slow_clocks_.erase(it);
    Trace(absl::StrCat("n", id, " clock back to normal rate"));
    return true;
  }
  return now_ % it->second.factor == 0;
}

void Simulator::PauseNode(uint64_t id, uint64_t ticks) {
  paused_until_[id] = now_ + ticks;
  network_.Hold(id);
  ++result_.pauses;
  Trace(absl::StrCat("n", id, " PAUSED for ", ticks, " ticks"));
}

// --- Main loop --------------------------------------------------------------

void Simulator::RunTick(bool faults) {
  if (faults) {
    while (!scheduled_crashes_.empty() &&
           scheduled_crashes_.begin()->first <= now_) {
      const uint64_t id = scheduled_crashes_.begin()->second;
      scheduled_crashes_.erase(scheduled_crashes_.begin());
      if (!retired_.contains(id)) CrashNode(id);
      for (uint64_t b : Members(false)) network_.Unblock(id, b);
    }
    if (Chance(profile_.fault_rate)) InjectFault();
    for (uint64_t id : Members(false)) {
      if (!nodes_[id]->up() && Chance(profile_.restart_rate)) RestartNode(id);
    }
  }
  // Nodes whose pause ends wake up to their queued messages and requests.
  std::vector<DeferredRequest> woken_requests;
  std::vector<uint64_t> woken_nodes;
  for (auto it = paused_until_.begin(); it != paused_until_.end();) {
    if (it->second > now_ && faults) {
      ++it;
      continue;
    }
    const uint64_t id = it->first;
    it = paused_until_.erase(it);
    network_.Release(id);
    Trace(absl::StrCat("n", id, " resumed"));
    for (DeferredRequest& r : deferred_[id]) {
      woken_requests.push_back(std::move(r));
      woken_nodes.push_back(id);
    }
    deferred_.erase(id);
  }
  HandleMembershipEvents();
  workload_.Tick(now_, Members(false), *this, !in_liveness_);

  // This tick's events: every due message, one Tick per active node and the
  // requests a woken node finds waiting, in a seeded random interleaving.
  struct Event {
    uint64_t node;
    std::optional<raftpb::Message> msg;
    const DeferredRequest* request = nullptr;
    // A node's outstanding asynchronous fsync completes.
    bool complete_writes = false;
  };
  std::vector<Event> events;
  for (raftpb::Message& m : network_.TakeDue(now_)) {
    events.push_back(Event{m.to(), std::move(m)});
  }
  for (uint64_t id : Members(true)) {
    if (!Paused(id) && ClockTicks(id)) {
      events.push_back(Event{id, std::nullopt});
    }
  }
  for (size_t i = 0; i < woken_requests.size(); ++i) {
    events.push_back(Event{woken_nodes[i], std::nullopt, &woken_requests[i]});
  }
  // A node's outstanding fsync finishes at a random point among this
  // tick's events, or in a later tick: on a leader before or after the
  // followers' acks, on a follower holding its acks back until then.
  for (uint64_t id : Members(true)) {
    if (!Paused(id) && nodes_[id]->has_async_writes() && Chance(0.6)) {
      events.push_back(Event{id, std::nullopt, nullptr, true});
    }
  }
  std::shuffle(events.begin(), events.end(), rng_);
  for (Event& ev : events) {
    if (!result_.ok) return;
    if (!Active(ev.node)) continue;
    SimNode& n = *nodes_[ev.node];
    if (ev.request != nullptr) {
      const DeferredRequest& r = *ev.request;
      LeaderHint hint;
      const absl::Status s = r.read
                                 ? HandleRead(ev.node, r.op_id, r.data, &hint)
                                 : HandleWrite(ev.node, r.data, &hint);
      if (!s.ok()) workload_.OnRefused(ev.node, r.op_id, hint);
    } else if (ev.complete_writes) {
      Check(n.CompleteWrites());
    } else {
      Check(ev.msg ? n.Step(*ev.msg) : n.Tick());
    }
    HandleMembershipEvents();
  }
}

void Simulator::CheckLogs() {
  std::map<uint64_t, raft::Storage*> logs;
  for (auto& [id, n] : nodes_) logs[id] = &n->disk().durable();
  Check(CheckLogMatching(logs));
}

bool Simulator::LivenessPhase() {
  in_liveness_ = true;
  Trace("=== liveness phase: heal everything, restart every member ===");
  network_.HealAll();
  workload_.HealClients();
  slow_clocks_.clear();
  network_.SetFaults(NetworkFaults{});
  for (uint64_t id : Members(false)) RestartNode(id);
  // The probe must commit within liveness_ticks. Convergence may take
  // longer when a member is far behind under tight flow control, so the
  // deadline extends while the slowest member keeps applying entries, up to
  // a hard cap: a stalled member still fails, a slow one does not.
  uint64_t deadline = now_ + options_.liveness_ticks;
  const uint64_t hard_deadline = now_ + 5 * options_.liveness_ticks;
  uint64_t slowest_applied = 0;
  const uint64_t probe = kProbeOpBase + options_.seed % kProbeOpBase;
  uint64_t proposed_at = 0;
  bool proposed = false;
  for (; now_ < deadline && result_.ok; ++now_) {
    RunTick(false);
    if (!result_.ok) return false;
    const uint64_t lead = Leader();
    if (!applied_ops_.contains(probe)) {
      // (Re)propose the probe to whoever leads now; its op id makes a
      // second copy harmless.
      if (lead != 0 && (!proposed || now_ - proposed_at > 50)) {
        proposed =
            nodes_[lead]
                ->Propose(KvStateMachine::EncodePut(probe, "probe", "alive"))
                .ok();
        proposed_at = now_;
        Check(nodes_[lead]->Drain());
      }
      continue;
    }
    if (lead == 0 || !workload_.idle()) continue;
    // Converged when every member in the leader's configuration is up and
    // has applied exactly what the leader has.
    const raft::Status st = nodes_[lead]->raft().GetStatus();
    const KvStateMachine& want = nodes_[lead]->kv();
    if (want.applied() < st.hard_state.commit()) continue;
    bool converged = true;
    std::vector<uint64_t> members(st.conf_state.voters().begin(),
                                  st.conf_state.voters().end());
    members.insert(members.end(), st.conf_state.learners().begin(),
                   st.conf_state.learners().end());
    uint64_t slowest = UINT64_MAX;
    for (uint64_t id : members) {
      auto it = nodes_.find(id);
      if (it == nodes_.end() || !it->second->up()) {
        converged = false;
        slowest = 0;
        continue;
      }
      slowest = std::min<uint64_t>(slowest, it->second->kv().applied());
      if (it->second->kv().applied() != want.applied() ||
          it->second->kv().Serialize() != want.Serialize()) {
        converged = false;
      }
    }
    if (!converged && slowest != UINT64_MAX && slowest > slowest_applied) {
      slowest_applied = slowest;
      deadline = std::min(hard_deadline, std::max(deadline, now_ + 200));
    }
    if (converged) {
      Trace(absl::StrCat("converged: leader n", lead, " applied ",
                         want.applied(), " members {",
                         absl::StrJoin(members, ","), "}"));
      return true;
    }
  }
  std::vector<std::string> states;
  for (auto& [id, n] : nodes_) {
    if (retired_.contains(id)) continue;
    if (!n->up()) {
      states.push_back(absl::StrCat("n", id, " down"));
      continue;
    }
    const raft::Status st = n->raft().GetStatus();
    states.push_back(absl::StrCat(
        "n", id, " ", raft::RoleName(st.soft_state.role), " term ",
        st.hard_state.term(), " commit ", st.hard_state.commit(), " applied ",
        n->kv().applied(), " last ", st.last_index, " voters {",
        absl::StrJoin(st.conf_state.voters(), ","), "}"));
  }
  Fail(
      absl::StrCat("liveness: no convergence within ", options_.liveness_ticks,
                   " ticks after healing (probe ",
                   applied_ops_.contains(probe) ? "committed" : "not committed",
                   "); ", absl::StrJoin(states, "; ")));
  return false;
}

void Simulator::CheckHistory() {
  workload_.Finish();
  History h;
  for (const Op& op : workload_.history()) {
    if (op.outcome == Outcome::kUnknown) {
      // A write that no replica ever applied had no effect in this run.
      if (op.kind == OpKind::kGet || !applied_ops_.contains(op.id)) continue;
      ++result_.unknown_ops;
    }
    h.push_back(op);
  }
  result_.ops = h.size();
  LinearizabilityResult r = CheckLinearizable(h);
  result_.lin_states = r.states_explored;
  if (r.verdict == LinearizabilityResult::Verdict::kViolation) {
    Fail(absl::StrCat("linearizability: ", r.explanation));
  } else if (r.verdict == LinearizabilityResult::Verdict::kGaveUp) {
    result_.lin_gave_up = true;
    Trace(absl::StrCat("linearizability search gave up: ", r.explanation));
  }
}

SimResult Simulator::Run() {
  absl::StatusOr<std::unique_ptr<raft::MemoryStorage>> boot;
  {
    std::vector<uint64_t> voters;
    for (int i = 1; i <= options_.nodes; ++i) voters.push_back(i);
    boot = raft::MemoryStorage::Bootstrap(voters);
  }
  if (!boot.ok()) {
    Fail(boot.status().ToString());
    return result_;
  }
  for (uint64_t i = 1; i <= static_cast<uint64_t>(options_.nodes); ++i) {
    Check(AddNode(i, **boot));
  }
  for (; now_ < options_.steps && result_.ok; ++now_) {
    RunTick(true);
    if (now_ % 50 == 49) CheckLogs();
  }
  if (result_.ok) LivenessPhase();
  if (result_.ok) CheckLogs();
  if (result_.ok) CheckHistory();
  result_.ticks = now_;
  result_.committed = checker_.committed().size();
  return result_;
}

}  // namespace berth::sim
