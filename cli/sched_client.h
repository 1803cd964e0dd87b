// SchedClient: calls berth-scheduler for the `berth job|namespace|node`
// commands. It tries the --scheduler addresses in turn, and when a
// follower answers a write with FAILED_PRECONDITION it follows the
// "berth-leader" trailing metadata to the leader (once per round). While
// every scheduler answers UNAVAILABLE or "not the leader" (a failover, a
// mirror still loading) it tries again, with backoff up to 1 s, until
// --timeout; any other error is returned at once.
//
// Thread safety: one thread at a time.
#ifndef BERTH_CLI_SCHED_CLIENT_H_
#define BERTH_CLI_SCHED_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/tls/credentials.h"
#include "grpcpp/grpcpp.h"
#include "proto/scheduler.grpc.pb.h"

namespace berth::cli {

class SchedClient {
 public:
  // Waits between rounds; tests record instead of waiting.
  using Sleeper = std::function<void(absl::Duration)>;

  // `credentials` dial the schedulers (GlobalOptions::credentials); null =
  // plaintext.
  SchedClient(std::vector<std::string> endpoints, absl::Duration timeout,
              std::shared_ptr<grpc::ChannelCredentials> credentials,
              Sleeper sleep = absl::SleepFor)
      : endpoints_(std::move(endpoints)),
        timeout_(timeout),
        credentials_(credentials != nullptr
                         ? std::move(credentials)
                         : tls::Credentials::Insecure().channel()),
        sleep_(std::move(sleep)) {}

  using Call = std::function<grpc::Status(schedpb::Scheduler::Stub*,
                                          grpc::ClientContext*)>;
  // Runs `call` against the schedulers; the error names the address.
  absl::Status Run(const Call& call) { return RunImpl(call, true); }
  // The same without the --timeout deadline, for server streams that may
  // last as long as the caller wants (berth job logs -f). `call` may run
  // again on the next scheduler after a partial stream, so it must resume
  // where the previous attempt stopped.
  absl::Status Stream(const Call& call) { return RunImpl(call, false); }

 private:
  absl::Status RunImpl(const Call& call, bool deadline);

  std::vector<std::string> endpoints_;
  absl::Duration timeout_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  Sleeper sleep_;
};

}  // namespace berth::cli

#endif  // BERTH_CLI_SCHED_CLIENT_H_
