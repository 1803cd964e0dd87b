#include "agent/server/reconcile.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace berth::agent {
namespace {

absl::string_view KindName(Action::Kind kind) {
  switch (kind) {
    case Action::Kind::kLaunch:
      return "launch";
    case Action::Kind::kStop:
      return "stop";
    case Action::Kind::kRecordExit:
      return "record_exit";
    case Action::Kind::kMarkStopped:
      return "mark_stopped";
    case Action::Kind::kForget:
      return "forget";
  }
  return "?";
}

Action Make(Action::Kind kind, const std::string& id) {
  return Action{kind, id, std::nullopt};
}

// What to do about one id; `local` and `spec` may each be missing (not
// both).
void Decide(const std::string& id, const agentpb::AllocationSpec* spec,
            bool desired_known, const LocalAlloc* local,
            std::vector<Action>& out) {
  bool terminal = false;
  bool running = false;
  if (local != nullptr) {
    terminal = IsTerminal(local->record.state);
    if (local->exit.has_value() && !terminal) {
      out.push_back(Action{Action::Kind::kRecordExit, id, local->exit});
      terminal = true;
    }
    running = local->in_runtime && !local->exit.has_value();
  }
  if (!desired_known) return;
  auto stop_if_needed = [&] {
    if (!local->stopping) out.push_back(Make(Action::Kind::kStop, id));
  };

  if (spec == nullptr) {  // moved away or deleted by the scheduler
    if (running) {
      stop_if_needed();
    } else {
      out.push_back(Make(Action::Kind::kForget, id));
    }
    return;
  }
  if (local == nullptr) {
    out.push_back(Make(spec->desired() == agentpb::DESIRED_STOP
                           ? Action::Kind::kMarkStopped
                           : Action::Kind::kLaunch,
                       id));
    return;
  }
  if (spec->attempt() > local->record.attempt) {
    if (running) {
      stop_if_needed();
    } else if (spec->desired() == agentpb::DESIRED_STOP) {
      out.push_back(Make(Action::Kind::kMarkStopped, id));
    } else {
      out.push_back(Make(Action::Kind::kLaunch, id));
    }
    return;
  }
  if (spec->desired() == agentpb::DESIRED_STOP) {
    if (running) {
      stop_if_needed();
    } else if (!terminal) {
      out.push_back(Make(Action::Kind::kMarkStopped, id));
    }
    return;
  }
  // Desired RUN, same attempt. A record that never got a task (the agent
  // died mid-launch, or the launch is still to happen) is launched; a
  // terminal one stays as it is.
  if (!running && !terminal && !local->in_runtime) {
    out.push_back(Make(Action::Kind::kLaunch, id));
  }
}

}  // namespace

std::string ToString(const Action& action) {
  if (action.exit.has_value()) {
    return absl::StrCat(KindName(action.kind), "(", action.alloc_id, ", ",
                        action.exit->ToString(), ")");
  }
  return absl::StrCat(KindName(action.kind), "(", action.alloc_id, ")");
}

std::vector<Action> Reconcile(
    const std::map<std::string, agentpb::AllocationSpec>& desired,
    bool desired_known, const std::map<std::string, LocalAlloc>& local) {
  std::set<std::string> ids;
  for (const auto& [id, spec] : desired) ids.insert(id);
  for (const auto& [id, alloc] : local) ids.insert(id);
  std::vector<Action> out;
  for (const std::string& id : ids) {
    auto d = desired.find(id);
    auto l = local.find(id);
    if (!desired_known && l == local.end()) continue;
    Decide(id, d == desired.end() ? nullptr : &d->second, desired_known,
           l == local.end() ? nullptr : &l->second, out);
  }
  return out;
}

}  // namespace berth::agent
