#include "scheduler/state/keys.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace berth::sched {

std::string NamespaceKey(absl::string_view ns) {
  return absl::StrCat(kNamespacesPrefix, ns);
}
std::string JobKey(absl::string_view ns, absl::string_view job) {
  return absl::StrCat(kJobsPrefix, ns, "/", job);
}
std::string SchedAllocKey(absl::string_view alloc_id) {
  return absl::StrCat(kSchedAllocsPrefix, alloc_id);
}
std::string AgentAllocKey(absl::string_view node, absl::string_view alloc_id) {
  return absl::StrCat(kAgentAllocsPrefix, node, "/", alloc_id);
}
std::string StatusKey(absl::string_view alloc_id) {
  return absl::StrCat(kStatusPrefix, alloc_id);
}
std::string NodeKey(absl::string_view node) {
  return absl::StrCat(kNodesPrefix, node);
}
std::string DrainKey(absl::string_view node) {
  return absl::StrCat(kDrainPrefix, node);
}
std::string CronMarkerKey(absl::string_view ns, absl::string_view job) {
  return absl::StrCat(kCronPrefix, ns, "/", job, "/marker");
}
std::string CronRunsPrefix(absl::string_view ns, absl::string_view job) {
  return absl::StrCat(kCronPrefix, ns, "/", job, "/runs/");
}
std::string CronRunKey(absl::string_view ns, absl::string_view job,
                       int64_t tick_unix) {
  return absl::StrCat(CronRunsPrefix(ns, job),
                      absl::StrFormat("%012d", tick_unix));
}
std::string EventsPrefix(absl::string_view ns, absl::string_view job) {
  return absl::StrCat(kEventsPrefix, ns, "/", job, "/");
}
std::string EventKey(absl::string_view ns, absl::string_view job, int64_t seq) {
  return absl::StrCat(EventsPrefix(ns, job), absl::StrFormat("%020d", seq));
}
std::string AclKey(absl::string_view ns, absl::string_view principal) {
  return absl::StrCat(AclNamespacePrefix(ns), principal);
}
std::string AclNamespacePrefix(absl::string_view ns) {
  return absl::StrCat(kAclPrefix, ns, "/");
}
std::string SlotAllocId(absl::string_view ns, absl::string_view job,
                        int32_t slot, int64_t generation) {
  return absl::StrCat(ns, ".", job, ".", slot, ".", generation);
}
std::string CronAllocId(absl::string_view ns, absl::string_view job,
                        int64_t tick_unix) {
  return absl::StrCat(ns, ".", job, ".t", tick_unix);
}

std::string NamespaceOfAllocId(absl::string_view alloc_id) {
  return std::string(alloc_id.substr(0, alloc_id.find('.')));
}

KeyRef ParseKey(absl::string_view key) {
  KeyRef ref;
  if (!absl::ConsumePrefix(&key, kBerthPrefix)) return ref;
  std::vector<absl::string_view> p = absl::StrSplit(key, '/');
  auto set = [&](KeyRef::Type t) { ref.type = t; };
  if (p[0] == "namespaces" && p.size() == 2) {
    ref.ns = std::string(p[1]);
    set(KeyRef::Type::kNamespace);
  } else if (p[0] == "jobs" && p.size() == 3) {
    ref.ns = std::string(p[1]);
    ref.job = std::string(p[2]);
    set(KeyRef::Type::kJob);
  } else if (p[0] == "sched" && p.size() == 3 && p[1] == "allocs") {
    ref.alloc_id = std::string(p[2]);
    set(KeyRef::Type::kSchedAlloc);
  } else if (p[0] == "allocs" && p.size() == 3) {
    ref.node = std::string(p[1]);
    ref.alloc_id = std::string(p[2]);
    set(KeyRef::Type::kAgentAlloc);
  } else if (p[0] == "status" && p.size() == 2) {
    ref.alloc_id = std::string(p[1]);
    set(KeyRef::Type::kStatus);
  } else if (p[0] == "nodes" && p.size() == 2) {
    ref.node = std::string(p[1]);
    set(KeyRef::Type::kNode);
  } else if (p[0] == "drain" && p.size() == 2) {
    ref.node = std::string(p[1]);
    set(KeyRef::Type::kDrain);
  } else if (p[0] == "cron" && p.size() == 4 && p[3] == "marker") {
    ref.ns = std::string(p[1]);
    ref.job = std::string(p[2]);
    set(KeyRef::Type::kCronMarker);
  } else if (p[0] == "cron" && p.size() == 5 && p[3] == "runs" &&
             absl::SimpleAtoi(p[4], &ref.tick_unix)) {
    ref.ns = std::string(p[1]);
    ref.job = std::string(p[2]);
    set(KeyRef::Type::kCronRun);
  } else if (p[0] == "events" && p.size() == 4 &&
             absl::SimpleAtoi(p[3], &ref.seq)) {
    ref.ns = std::string(p[1]);
    ref.job = std::string(p[2]);
    set(KeyRef::Type::kEvent);
  } else if (p[0] == "acl" && p.size() == 3 && !p[2].empty()) {
    ref.ns = std::string(p[1]);
    ref.principal = std::string(p[2]);
    set(KeyRef::Type::kAcl);
  } else if (p[0] == "acl-config" && p.size() == 1) {
    set(KeyRef::Type::kAclConfig);
  }
  return ref;
}

}  // namespace berth::sched
