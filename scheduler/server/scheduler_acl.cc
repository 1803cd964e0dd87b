// Scheduler's namespace and ACL operations: fenced writes of /berth/acl/,
// /berth/acl-config and /berth/namespaces/, and reads from the mirror.
// Deciding who may call them is api_service.cc's (acl_policy.h).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/monotonic_wait.h"
#include "proto/acl.pb.h"
#include "scheduler/server/namespace_checks.h"
#include "scheduler/server/scheduler.h"
#include "scheduler/state/keys.h"

namespace berth::sched {
namespace {

// How long a leader's ACL check waits for its mirror to show its own last
// write: a watch round trip, normally milliseconds.
constexpr absl::Duration kAclCatchUp = absl::Seconds(2);

schedpb::AclEntry EntryOf(const std::string& principal, const std::string& ns,
                          Rights rights) {
  schedpb::AclEntry e;
  e.set_principal(principal);
  e.set_namespace_(ns);
  for (std::string& r : RightNames(rights)) e.add_rights(std::move(r));
  return e;
}

std::string PrincipalText(const std::string& principal) {
  return principal == kAnyUser ? std::string("every user (*)")
                               : absl::StrCat("\"", principal, "\"");
}

// The grant of `principal` in `ns`, or nullptr.
const AclEntry* FindGrant(const AclState& acl, const std::string& ns,
                          const std::string& principal) {
  auto in_ns = acl.grants.find(ns);
  if (in_ns == acl.grants.end()) return nullptr;
  auto it = in_ns->second.find(principal);
  return it == in_ns->second.end() ? nullptr : &it->second;
}

StoreOp PutGrant(const std::string& key, Rights rights, const std::string& by,
                 absl::Time now) {
  aclpb::AclGrant g;
  for (std::string& r : RightNames(rights)) g.add_rights(std::move(r));
  g.set_updated_by(by);
  g.set_updated_unix_ms(absl::ToUnixMillis(now));
  return StoreOp::Put(key, g.SerializeAsString());
}

// A grant's conditional write that lost to a concurrent change of it is
// not retried: the caller decides again from what is there now.
absl::Status GrantCommitError(absl::Status s, const std::string& principal,
                              const std::string& ns) {
  if (s.code() != absl::StatusCode::kAborted) return s;
  return absl::AbortedError(absl::StrCat("the grant of ",
                                         PrincipalText(principal), " in ", ns,
                                         " changed concurrently; retry"));
}

}  // namespace

absl::StatusOr<AclState> Scheduler::Acl() const {
  absl::MutexLock l(&mu_);
  if (absl::Status st = MirrorReadyLocked(); !st.ok()) return st;
  if (leader_) {
    auto caught_up = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || state_.revision() >= acl_commit_revision_;
    };
    if (!AwaitMonotonic(&mu_, absl::Condition(&caught_up), kAclCatchUp) ||
        stopping_) {
      return absl::UnavailableError(absl::StrCat(
          "scheduler ", opts_.id,
          " has not yet seen its own latest write to lockd; retry"));
    }
  }
  return state_.acl();
}

void Scheduler::AclCommitted() {
  absl::MutexLock l(&mu_);
  acl_commit_revision_ = std::max(acl_commit_revision_, last_commit_revision_);
}

absl::StatusOr<schedpb::DeleteNamespaceResponse> Scheduler::DeleteNamespace(
    const std::string& name) {
  StoreTxn txn;
  {
    absl::MutexLock l(&mu_);
    if (!leader_) return NotLeaderLocked();
    if (name == kDefaultNamespace) {
      return absl::InvalidArgumentError(
          "namespace \"default\" always exists and cannot be deleted");
    }
    if (!NamespaceExists(state_, name)) return UnknownNamespace(name);
    int jobs = 0;
    for (const auto& [id, v] : state_.jobs()) jobs += id.first == name;
    if (jobs > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "namespace \"", name, "\" still has ", jobs,
          jobs == 1 ? " job" : " jobs",
          " (stopped ones count until purged: berth job stop --purge -n ", name,
          " JOB)"));
    }
    // A job submitted between this check and the commit would be left in a
    // deleted namespace; the store has no "prefix is empty" condition.
    txn.ops.push_back(StoreOp::Delete(NamespaceKey(name)));
    txn.ops.push_back(StoreOp::DeletePrefix(AclNamespacePrefix(name)));
  }
  if (absl::Status s = CommitOne(txn); !s.ok()) return s;
  AclCommitted();
  schedpb::DeleteNamespaceResponse resp;
  resp.set_message(absl::StrCat("namespace ", name, " deleted"));
  return resp;
}

absl::StatusOr<schedpb::ListNamespacesResponse> Scheduler::ListNamespaces()
    const {
  absl::MutexLock l(&mu_);
  if (absl::Status st = MirrorReadyLocked(); !st.ok()) return st;
  std::map<std::string, int> counts = {{kDefaultNamespace, 0}};
  for (const std::string& ns : state_.namespaces()) counts[ns];
  for (const auto& [id, v] : state_.jobs()) ++counts[id.first];
  schedpb::ListNamespacesResponse resp;
  for (const auto& [ns, jobs] : counts) {
    schedpb::NamespaceView* v = resp.add_namespaces();
    v->set_name(ns);
    v->set_jobs(jobs);
  }
  return resp;
}

absl::StatusOr<schedpb::AclChangeResponse> Scheduler::AclGrant(
    const schedpb::AclGrantRequest& req, const std::string& by) {
  if (absl::Status s = ValidatePrincipal(req.principal()); !s.ok()) return s;
  absl::StatusOr<Rights> add = ParseRights(
      std::vector<std::string>(req.rights().begin(), req.rights().end()));
  if (!add.ok()) return add.status();
  const std::string key = AclKey(req.namespace_(), req.principal());
  StoreTxn txn;
  Rights now = *add;
  {
    absl::MutexLock l(&mu_);
    if (!leader_) return NotLeaderLocked();
    if (!NamespaceExists(state_, req.namespace_())) {
      return UnknownNamespace(req.namespace_());
    }
    const AclEntry* old =
        FindGrant(state_.acl(), req.namespace_(), req.principal());
    if (old != nullptr) {
      now |= old->rights;
      if (now == old->rights) {
        schedpb::AclChangeResponse resp;
        *resp.mutable_entry() = EntryOf(req.principal(), req.namespace_(), now);
        resp.set_message("unchanged");
        return resp;
      }
      txn.conds.push_back(StoreCond::ModRevision(key, old->mod_revision));
    } else {
      txn.conds.push_back(StoreCond::Absent(key));
    }
  }
  txn.ops.push_back(PutGrant(key, now, by, opts_.clock->Now()));
  if (absl::Status s = CommitOne(txn); !s.ok()) {
    return GrantCommitError(s, req.principal(), req.namespace_());
  }
  AclCommitted();
  schedpb::AclChangeResponse resp;
  *resp.mutable_entry() = EntryOf(req.principal(), req.namespace_(), now);
  resp.set_changed(true);
  resp.set_message(absl::StrCat(PrincipalText(req.principal()), " may now ",
                                absl::StrJoin(RightNames(now), ", "), " in ",
                                req.namespace_()));
  return resp;
}

absl::StatusOr<schedpb::AclChangeResponse> Scheduler::AclRevoke(
    const schedpb::AclRevokeRequest& req, const std::string& by) {
  if (absl::Status s = ValidatePrincipal(req.principal()); !s.ok()) return s;
  Rights take = kAllRights;
  if (!req.rights().empty()) {
    absl::StatusOr<Rights> r = ParseRights(
        std::vector<std::string>(req.rights().begin(), req.rights().end()));
    if (!r.ok()) return r.status();
    take = *r;
  }
  const std::string key = AclKey(req.namespace_(), req.principal());
  StoreTxn txn;
  Rights left = 0;
  {
    absl::MutexLock l(&mu_);
    if (!leader_) return NotLeaderLocked();
    if (!NamespaceExists(state_, req.namespace_())) {
      return UnknownNamespace(req.namespace_());
    }
    const AclEntry* old =
        FindGrant(state_.acl(), req.namespace_(), req.principal());
    if (old == nullptr || (old->rights & take) == 0) {
      schedpb::AclChangeResponse resp;
      *resp.mutable_entry() = EntryOf(req.principal(), req.namespace_(),
                                      old == nullptr ? 0 : old->rights);
      resp.set_message(absl::StrCat(
          PrincipalText(req.principal()), " held none of ",
          absl::StrJoin(RightNames(take), ", "), " in ", req.namespace_()));
      return resp;
    }
    left = old->rights & ~take;
    txn.conds.push_back(StoreCond::ModRevision(key, old->mod_revision));
  }
  if (left == 0) {
    txn.ops.push_back(StoreOp::Delete(key));
  } else {
    txn.ops.push_back(PutGrant(key, left, by, opts_.clock->Now()));
  }
  if (absl::Status s = CommitOne(txn); !s.ok()) {
    return GrantCommitError(s, req.principal(), req.namespace_());
  }
  AclCommitted();
  schedpb::AclChangeResponse resp;
  *resp.mutable_entry() = EntryOf(req.principal(), req.namespace_(), left);
  resp.set_changed(true);
  resp.set_message(
      left == 0 ? absl::StrCat(PrincipalText(req.principal()),
                               " holds no rights in ", req.namespace_(), " now")
                : absl::StrCat(PrincipalText(req.principal()), " may now ",
                               absl::StrJoin(RightNames(left), ", "), " in ",
                               req.namespace_()));
  return resp;
}

absl::StatusOr<schedpb::AclListResponse> Scheduler::AclList(
    const std::string& ns) const {
  absl::MutexLock l(&mu_);
  if (absl::Status st = MirrorReadyLocked(); !st.ok()) return st;
  if (!ns.empty() && !NamespaceExists(state_, ns)) return UnknownNamespace(ns);
  schedpb::AclListResponse resp;
  resp.set_enabled(state_.acl().enabled);
  for (const auto& [n, principals] : state_.acl().grants) {
    if (!ns.empty() && n != ns) continue;
    for (const auto& [p, e] : principals) {
      *resp.add_entries() = EntryOf(p, n, e.rights);
    }
  }
  return resp;
}

absl::StatusOr<schedpb::AclStatusResponse> Scheduler::AclSwitch(
    bool enable, const std::string& by) {
  schedpb::AclStatusResponse resp;
  {
    absl::MutexLock l(&mu_);
    if (!leader_) return NotLeaderLocked();
    const AclState& acl = state_.acl();
    if (acl.enabled == enable) {
      resp.set_enabled(acl.enabled);
      resp.set_changed_by(acl.changed_by);
      resp.set_changed_unix_ms(acl.changed_unix_ms);
      return resp;
    }
  }
  aclpb::AclConfig c;
  c.set_enabled(enable);
  c.set_changed_by(by);
  c.set_changed_unix_ms(absl::ToUnixMillis(opts_.clock->Now()));
  StoreTxn txn;
  txn.ops.push_back(StoreOp::Put(kAclConfigKey, c.SerializeAsString()));
  if (absl::Status s = CommitOne(txn); !s.ok()) return s;
  AclCommitted();
  resp.set_enabled(enable);
  resp.set_changed_by(by);
  resp.set_changed_unix_ms(c.changed_unix_ms());
  resp.set_changed(true);
  return resp;
}

}  // namespace berth::sched
