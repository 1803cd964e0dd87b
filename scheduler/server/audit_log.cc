#include "scheduler/server/audit_log.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "grpcpp/security/auth_context.h"
#include "grpcpp/server_context.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"

namespace berth::sched {
namespace {

// 13 digits of ms hold every time until the year 2286.
constexpr int64_t kInvertFrom = 9999999999999;
constexpr absl::Duration kTrimEvery = absl::Minutes(1);
constexpr int kDefaultLimit = 100;

std::string Inverted(absl::Time time) {
  int64_t ms = std::clamp<int64_t>(absl::ToUnixMillis(time), 0, kInvertFrom);
  return absl::StrFormat("%013d", kInvertFrom - ms);
}

// Everything under kAuditPrefix sorts before this.
std::string PrefixEnd() {
  std::string end = kAuditPrefix;
  end.back() = static_cast<char>(end.back() + 1);
  return end;
}

}  // namespace

std::string AuditKey(absl::Time time, const std::string& scheduler,
                     int64_t seq) {
  return absl::StrCat(kAuditPrefix, Inverted(time), "-", scheduler, "-", seq);
}

std::string AuditKeyBound(absl::Time time) {
  return absl::StrCat(kAuditPrefix, Inverted(time));
}

Caller CallerOf(const grpc::ServerContext& ctx) {
  Caller c;
  c.peer = ctx.peer();
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    // berth cert puts the user or node name in the CN. gRPC's default peer
    // identity prefers the subjectAltName, which is a host address on
    // certificates that also serve; use the CN when there is one.
    std::vector<grpc::string_ref> id =
        auth->FindPropertyValues("x509_common_name");
    if (id.empty()) id = auth->GetPeerIdentity();
    if (!id.empty()) {
      c.principal.assign(id.front().data(), id.front().size());
      c.authenticated = true;
    }
  }
  if (!c.authenticated) c.principal = "anonymous";
  const auto& md = ctx.client_metadata();
  auto it = md.find("berth-user");
  if (it != md.end())
    c.claimed_user.assign(it->second.data(), it->second.size());
  return c;
}

void AuditLog::Record(const grpc::ServerContext& ctx,
                      schedpb::AuditRecord record) {
  Record(CallerOf(ctx), std::move(record));
}

void AuditLog::Record(const Caller& caller, schedpb::AuditRecord record) {
  const absl::Time now = absl::Now();
  record.set_time_unix_ms(absl::ToUnixMillis(now));
  record.set_principal(caller.principal);
  record.set_authenticated(caller.authenticated);
  record.set_peer(caller.peer);
  record.set_claimed_user(caller.claimed_user);
  record.set_scheduler(scheduler_id_);
  const std::string key = AuditKey(now, scheduler_id_, seq_.fetch_add(1));
  auto put = client_->kv().Put(key, record.SerializeAsString());
  if (!put.ok()) {
    std::cerr << "audit: could not store the record of " << record.method()
              << " " << record.namespace_() << "/" << record.target() << " by "
              << caller.principal << " (" << caller.peer << ", claims '"
              << caller.claimed_user << "'), code " << record.code() << ": "
              << put.status() << std::endl;
    return;
  }
  TrimIfDue(now);
}

void AuditLog::TrimIfDue(absl::Time now) {
  {
    absl::MutexLock l(&mu_);
    if (now - last_trim_ < kTrimEvery) return;
    last_trim_ = now;
  }
  lock::DeleteOptions del;
  del.range_end = PrefixEnd();
  // Older records have larger inverted times: [bound(cutoff), end).
  auto st = client_->kv().Delete(AuditKeyBound(now - retention_), del);
  if (!st.ok()) {
    std::cerr << "audit: trimming records older than "
              << absl::FormatDuration(retention_) << " failed: " << st.status()
              << std::endl;
  }
}

absl::StatusOr<std::vector<schedpb::AuditRecord>> AuditLog::List(
    absl::Time since, int limit) const {
  lock::RangeOptions opts;
  // Up to and including the records of `since`'s millisecond.
  opts.range_end = AuditKeyBound(since - absl::Milliseconds(1));
  opts.limit = limit > 0 ? limit : kDefaultLimit;
  auto range = client_->kv().Range(kAuditPrefix, opts);
  if (!range.ok()) return range.status();
  std::vector<schedpb::AuditRecord> out;
  for (auto it = range->kvs.rbegin(); it != range->kvs.rend(); ++it) {
    schedpb::AuditRecord r;
    if (!r.ParseFromString(it->value)) {
      return absl::DataLossError(
          absl::StrCat("audit record ", it->key, " does not parse"));
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace berth::sched
