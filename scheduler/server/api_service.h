// The Scheduler gRPC service: a thin translation onto Scheduler. A write
// that reaches a follower fails FAILED_PRECONDITION with the trailing
// metadata "berth-leader: host:port", which the CLI follows.
//
// Every write is recorded in the audit log (audit_log.h) with its answer,
// except a follower's "not the leader" redirect (the leader records the
// retried call). Writes from an agent's certificate are refused
// (NotAnAgent).
//
// Namespace ACLs (acl_policy.h) are checked before each call does
// anything, once `berth acl enable` switched them on. A refused read is
// recorded in the audit log too. A follower answers a write the ACLs
// refuse with "not the leader", like any write, so the leader's ACLs (the
// newest) decide and record it.
//
// Thread safety: thread-safe (gRPC calls it from many threads).
// Ownership: borrows the Scheduler and the AuditLog.
#ifndef BERTH_SCHEDULER_SERVER_API_SERVICE_H_
#define BERTH_SCHEDULER_SERVER_API_SERVICE_H_

#include <functional>
#include <string>

#include "proto/scheduler.grpc.pb.h"
#include "scheduler/server/acl_policy.h"
#include "scheduler/server/audit_log.h"
#include "scheduler/server/scheduler.h"

namespace berth::sched {

// PermissionDenied naming the node and `method` when the caller presents
// an agent certificate: agents talk to lockd (where the node authorizer
// bounds them), never to the scheduler API, so a stolen agent certificate
// cannot submit, stop, drain or exec into anything. OK for everyone else.
absl::Status NotAnAgent(const grpc::ServerContext& ctx,
                        absl::string_view method);

class ApiService final : public schedpb::Scheduler::Service {
 public:
  ApiService(Scheduler* scheduler, AuditLog* audit)
      : s_(scheduler), audit_(audit) {}

  grpc::Status SubmitJob(grpc::ServerContext* ctx,
                         const schedpb::SubmitJobRequest* req,
                         schedpb::SubmitJobResponse* resp) override;
  grpc::Status StopJob(grpc::ServerContext* ctx,
                       const schedpb::StopJobRequest* req,
                       schedpb::StopJobResponse* resp) override;
  grpc::Status TriggerJob(grpc::ServerContext* ctx,
                          const schedpb::TriggerJobRequest* req,
                          schedpb::TriggerJobResponse* resp) override;
  grpc::Status CreateNamespace(grpc::ServerContext* ctx,
                               const schedpb::CreateNamespaceRequest* req,
                               schedpb::CreateNamespaceResponse* resp) override;
  grpc::Status ListJobs(grpc::ServerContext* ctx,
                        const schedpb::ListJobsRequest* req,
                        schedpb::ListJobsResponse* resp) override;
  grpc::Status JobStatus(grpc::ServerContext* ctx,
                         const schedpb::JobStatusRequest* req,
                         schedpb::JobStatusResponse* resp) override;
  grpc::Status JobHistory(grpc::ServerContext* ctx,
                          const schedpb::JobHistoryRequest* req,
                          schedpb::JobHistoryResponse* resp) override;
  grpc::Status ListNodes(grpc::ServerContext* ctx,
                         const schedpb::ListNodesRequest* req,
                         schedpb::ListNodesResponse* resp) override;
  grpc::Status DrainNode(grpc::ServerContext* ctx,
                         const schedpb::DrainNodeRequest* req,
                         schedpb::DrainNodeResponse* resp) override;
  grpc::Status Leader(grpc::ServerContext* ctx,
                      const schedpb::LeaderRequest* req,
                      schedpb::LeaderResponse* resp) override;
  grpc::Status SuspendJob(grpc::ServerContext* ctx,
                          const schedpb::SuspendJobRequest* req,
                          schedpb::SuspendJobResponse* resp) override;
  grpc::Status ResumeJob(grpc::ServerContext* ctx,
                         const schedpb::SuspendJobRequest* req,
                         schedpb::SuspendJobResponse* resp) override;
  // Proxies the agent's log stream (logs_proxy.h); api_logs.cc.
  grpc::Status AllocLogs(
      grpc::ServerContext* ctx, const schedpb::AllocLogsRequest* req,
      grpc::ServerWriter<schedpb::AllocLogsChunk>* writer) override;
  // Proxies berth alloc exec to the agent's AgentExec; api_exec.cc.
  grpc::Status AllocExec(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<agentpb::ExecOutput, agentpb::ExecInput>* stream)
      override;
  grpc::Status Audit(grpc::ServerContext* ctx, const schedpb::AuditRequest* req,
                     schedpb::AuditResponse* resp) override;
  // Namespaces and ACLs; api_acl.cc.
  grpc::Status DeleteNamespace(grpc::ServerContext* ctx,
                               const schedpb::DeleteNamespaceRequest* req,
                               schedpb::DeleteNamespaceResponse* resp) override;
  grpc::Status ListNamespaces(grpc::ServerContext* ctx,
                              const schedpb::ListNamespacesRequest* req,
                              schedpb::ListNamespacesResponse* resp) override;
  grpc::Status AclGrant(grpc::ServerContext* ctx,
                        const schedpb::AclGrantRequest* req,
                        schedpb::AclChangeResponse* resp) override;
  grpc::Status AclRevoke(grpc::ServerContext* ctx,
                         const schedpb::AclRevokeRequest* req,
                         schedpb::AclChangeResponse* resp) override;
  grpc::Status AclList(grpc::ServerContext* ctx,
                       const schedpb::AclListRequest* req,
                       schedpb::AclListResponse* resp) override;
  grpc::Status AclSwitch(grpc::ServerContext* ctx,
                         const schedpb::AclSwitchRequest* req,
                         schedpb::AclStatusResponse* resp) override;
  grpc::Status AclStatus(grpc::ServerContext* ctx,
                         const schedpb::AclStatusRequest* req,
                         schedpb::AclStatusResponse* resp) override;

 private:
  // An ACL rule (acl_policy.h) applied to the current ACLs and the caller.
  using Rule = std::function<absl::Status(const AclState&, const Who&)>;
  static Rule NeedRight(Rights right, std::string ns);
  static Rule NeedAdmin(std::string what);
  static Rule NeedIdentity();

  // The rule's answer for this call (Unavailable while the ACLs are not
  // known yet).
  absl::Status Check(const grpc::ServerContext& ctx, const Rule& rule) const;
  // For a write: NotAnAgent, then the rule; on a follower a refusal becomes
  // "not the leader" (see the file comment).
  absl::Status WriteAllowed(const grpc::ServerContext& ctx,
                            absl::string_view method, const Rule& rule) const;
  // For a read: OK, or the refusal, answered and recorded in the audit log.
  grpc::Status ReadAllowed(grpc::ServerContext* ctx, const std::string& method,
                           const std::string& ns, const std::string& target,
                           const Rule& rule);
  // Whether the caller may read a namespace, for filtering lists: true for
  // every namespace while ACLs are off.
  absl::StatusOr<std::function<bool(const std::string&)>> ReadableBy(
      const grpc::ServerContext& ctx) const;
  // Records the call and its answer; returns the answer.
  grpc::Status Audited(grpc::ServerContext* ctx, const std::string& method,
                       const std::string& ns, const std::string& target,
                       const std::string& detail, grpc::Status reply);

  grpc::Status Reply(grpc::ServerContext* ctx, const absl::Status& s);
  template <typename T>
  grpc::Status Reply(grpc::ServerContext* ctx, absl::StatusOr<T> r, T* out) {
    if (!r.ok()) return Reply(ctx, r.status());
    *out = std::move(*r);
    return grpc::Status::OK;
  }

  Scheduler* s_;
  AuditLog* audit_;
};

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_SERVER_API_SERVICE_H_
