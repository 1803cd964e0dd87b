// Namespace existence as every scheduler operation checks it: "default"
// always exists, others once `berth namespace create` stored them.
#ifndef BERTH_SCHEDULER_SERVER_NAMESPACE_CHECKS_H_
#define BERTH_SCHEDULER_SERVER_NAMESPACE_CHECKS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/keys.h"

namespace berth::sched {

inline bool NamespaceExists(const ClusterState& s, const std::string& ns) {
  return ns == kDefaultNamespace || s.namespaces().count(ns) > 0;
}

inline absl::Status UnknownNamespace(const std::string& ns) {
  return absl::NotFoundError(
      absl::StrCat("namespace \"", ns,
                   "\" does not exist (create it with: berth namespace "
                   "create ",
                   ns, ")"));
}

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_SERVER_NAMESPACE_CHECKS_H_
