#include "cli/sched_client.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace berth::cli {
namespace {

// Worth asking again: no scheduler leads yet (an election or a failover in
// progress; Scheduler::NotLeaderLocked's wording), one is still loading its
// mirror, or lockd behind it is busy. Other FAILED_PRECONDITIONs (a stopped
// job, a kind change) are answers, not a passing state.
bool Transient(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
          absl::StartsWith(s.error_message(), "not the leader"));
}

// The login name, sent as "berth-user" so the scheduler's audit log can say
// who a call claims to come from (only a TLS certificate proves it).
const std::string& LoginName() {
  static const std::string name = [] {
    if (const passwd* pw = getpwuid(geteuid()); pw != nullptr) {
      return std::string(pw->pw_name);
    }
    const char* user = std::getenv("USER");
    return std::string(user != nullptr ? user : "");
  }();
  return name;
}

}  // namespace

absl::Status SchedClient::RunImpl(const Call& call, bool with_deadline) {
  const absl::Time deadline = absl::Now() + timeout_;
  absl::Status last = absl::UnavailableError("no --scheduler address given");
  absl::Duration backoff = absl::Milliseconds(100);
  // Rounds over every address until one answers or the deadline passes, as
  // etcdctl and nomad do: a failover or a scheduler still loading must not
  // fail a command that --timeout allows to wait.
  while (true) {
    std::vector<std::string> targets = endpoints_;
    bool redirected = false;
    for (size_t i = 0; i < targets.size(); ++i) {
      auto channel = grpc::CreateChannel(targets[i], credentials_);
      auto stub = schedpb::Scheduler::NewStub(channel);
      grpc::ClientContext ctx;
      if (!LoginName().empty()) ctx.AddMetadata("berth-user", LoginName());
      if (with_deadline) ctx.set_deadline(absl::ToChronoTime(deadline));
      grpc::Status s = call(stub.get(), &ctx);
      if (s.ok()) return absl::OkStatus();
      last = absl::Status(
          static_cast<absl::StatusCode>(s.error_code()),
          absl::StrCat(s.error_message(), " (scheduler ", targets[i], ")"));
      if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
          !redirected) {
        auto md = ctx.GetServerTrailingMetadata();
        auto it = md.find("berth-leader");
        if (it != md.end()) {
          redirected = true;
          targets.insert(targets.begin() + i + 1,
                         std::string(it->second.data(), it->second.size()));
          continue;
        }
      }
      if (!Transient(s) &&
          s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
        return last;
      }
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration() ||
        last.code() == absl::StatusCode::kDeadlineExceeded) {
      return last;
    }
    sleep_(std::min(backoff, left));
    backoff = std::min(backoff * 2, absl::Seconds(1));
  }
}

}  // namespace berth::cli
