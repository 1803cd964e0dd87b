#include "lockservice/lockd/node_authorizer.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/tls/peer.h"
#include "google/protobuf/descriptor.h"

namespace berth::lockd {
namespace {

constexpr char kRule[] =
    "an agent may write only its node key, the status of allocations placed "
    "on it, and its own leases";

std::string Quote(absl::string_view key) {
  return absl::StrCat("\"", absl::CHexEscape(key), "\"");
}

absl::Status Denied(absl::string_view node, absl::string_view what) {
  return absl::PermissionDeniedError(absl::StrCat("agent certificate for node ",
                                                  Quote(node), " may not ",
                                                  what, ": ", kRule));
}

absl::StatusOr<bool> Exists(lock::StateMachine& sm, const std::string& key) {
  lockpb::RangeRequest req;
  req.set_key(key);
  req.set_count_only(true);
  absl::StatusOr<lockpb::RangeResponse> r = sm.Range(req);
  if (!r.ok()) return r.status();
  return r->count() > 0;
}

absl::Status KeyWritable(absl::string_view node, absl::string_view key,
                         lock::StateMachine& sm) {
  if (key == absl::StrCat(kAuthzNodesPrefix, node)) return absl::OkStatus();
  if (absl::StartsWith(key, kAuthzStatusPrefix)) {
    absl::string_view alloc = key.substr(sizeof(kAuthzStatusPrefix) - 1);
    if (!alloc.empty() && alloc.find('/') == absl::string_view::npos) {
      absl::StatusOr<bool> placed =
          Exists(sm, absl::StrCat(kAuthzAgentAllocsPrefix, node, "/", alloc));
      if (!placed.ok()) return placed.status();
      if (*placed) return absl::OkStatus();
      return Denied(node, absl::StrCat("write ", Quote(key), " (allocation ",
                                       Quote(alloc), " is not placed on it)"));
    }
  }
  return Denied(node, absl::StrCat("write ", Quote(key)));
}

absl::Status PutAllowed(absl::string_view node, const lockpb::PutRequest& put,
                        lock::StateMachine& sm) {
  if (absl::Status s = KeyWritable(node, put.key(), sm); !s.ok()) return s;
  if (put.lease() == 0) return absl::OkStatus();
  return AuthorizeAgentLease(node, put.lease(), sm);
}

absl::Status DeleteAllowed(absl::string_view node,
                           const lockpb::DeleteRangeRequest& del,
                           lock::StateMachine& sm) {
  if (!del.range_end().empty()) {
    return Denied(node, absl::StrCat("delete the range from ", Quote(del.key()),
                                     " to ", Quote(del.range_end())));
  }
  return KeyWritable(node, del.key(), sm);
}

absl::Status TxnAllowed(absl::string_view node, const lockpb::TxnRequest& txn,
                        lock::StateMachine& sm) {
  for (const auto* ops : {&txn.success(), &txn.failure()}) {
    for (const lockpb::RequestOp& op : *ops) {
      absl::Status s = absl::OkStatus();
      if (op.has_request_put()) s = PutAllowed(node, op.request_put(), sm);
      if (op.has_request_delete_range()) {
        s = DeleteAllowed(node, op.request_delete_range(), sm);
      }
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

// The command's name as in lockd_internal.proto ("lock_acquire").
std::string OpName(const lockpb::Command& cmd) {
  const google::protobuf::FieldDescriptor* f =
      cmd.GetDescriptor()->FindFieldByNumber(static_cast<int>(cmd.op_case()));
  return f == nullptr ? "send an empty command" : f->name();
}

}  // namespace

std::optional<std::string> AgentNodeOf(const grpc::ServerContextBase& ctx) {
  std::optional<tls::PeerIdentity> id = tls::PeerIdentityOf(ctx);
  if (!id.has_value() || id->kind != "agent") return std::nullopt;
  return id->name;
}

absl::Status DenyAgent(const grpc::ServerContextBase& ctx,
                       absl::string_view what) {
  std::optional<std::string> node = AgentNodeOf(ctx);
  return node.has_value() ? Denied(*node, what) : absl::OkStatus();
}

absl::Status AuthorizeAgentLease(absl::string_view node, int64_t lease,
                                 lock::StateMachine& sm) {
  absl::StatusOr<lockpb::LeaseTimeToLiveResponse> ttl =
      sm.TimeToLive(lease, /*keys=*/true);
  if (!ttl.ok()) return ttl.status();
  if (ttl->ttl() < 0) return absl::OkStatus();
  for (const std::string& key : ttl->keys()) {
    if (!KeyWritable(node, key, sm).ok()) {
      return Denied(
          node, absl::StrCat("use lease ", lease,
                             ", which is another's: it holds ", Quote(key)));
    }
  }
  absl::StatusOr<bool> queued = sm.LeaseInLockQueue(lease);
  if (!queued.ok()) return queued.status();
  if (*queued) {
    return Denied(node, absl::StrCat("use lease ", lease,
                                     ", which holds or waits for a lock"));
  }
  return absl::OkStatus();
}

absl::Status AuthorizeAgentCommand(absl::string_view node,
                                   const lockpb::Command& cmd,
                                   lock::StateMachine& sm) {
  switch (cmd.op_case()) {
    case lockpb::Command::kPut:
      return PutAllowed(node, cmd.put(), sm);
    case lockpb::Command::kDeleteRange:
      return DeleteAllowed(node, cmd.delete_range(), sm);
    case lockpb::Command::kTxn:
      return TxnAllowed(node, cmd.txn(), sm);
    case lockpb::Command::kLeaseGrant:
      return absl::OkStatus();
    case lockpb::Command::kLeaseRevoke:
      return AuthorizeAgentLease(node, cmd.lease_revoke().id(), sm);
    case lockpb::Command::kLeaseKeepalive:
      return AuthorizeAgentLease(node, cmd.lease_keepalive().id(), sm);
    default:
      return Denied(node, OpName(cmd));
  }
}

}  // namespace berth::lockd
