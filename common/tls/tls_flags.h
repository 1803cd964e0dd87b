// The TLS flags every berth daemon takes, with the environment as default:
//   --tls-ca (BERTH_TLS_CA), --tls-cert (BERTH_TLS_CERT),
//   --tls-key (BERTH_TLS_KEY), --insecure.
// TLS is the default: with none of them a daemon refuses to start, and
// --insecure is the explicit way to serve plaintext (`berth dev`, which runs
// the daemons in-process, needs neither).
//
// Thread safety: call from main before starting threads (reads getenv).
#ifndef BERTH_COMMON_TLS_TLS_FLAGS_H_
#define BERTH_COMMON_TLS_TLS_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/program_options.hpp"
#include "common/tls/credentials.h"

namespace berth::tls {

struct TlsFlags {
  TlsFiles files;
  bool insecure = false;
};

// Adds the four flags to `desc`, writing into `flags`.
void AddTlsFlags(boost::program_options::options_description* desc,
                 TlsFlags* flags);

// After parsing: fills unset paths from BERTH_TLS_* (unless --insecure) and
// picks the daemon's credentials (DaemonCredentials).
absl::StatusOr<Credentials> DaemonCredentialsFromFlags(TlsFlags flags);

// The same environment defaults, for clients.
TlsFiles WithEnvironment(TlsFiles files);

// The flags for a daemon that a local tool (a benchmark, a test harness)
// starts: none when BERTH_TLS_* in the environment, which the daemon
// inherits, gives it TLS; else --insecure.
std::vector<std::string> LocalDaemonTlsFlags();

}  // namespace berth::tls

#endif  // BERTH_COMMON_TLS_TLS_FLAGS_H_
