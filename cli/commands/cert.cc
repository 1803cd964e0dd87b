// berth cert: a CA and the certificates of a small cluster (mutual TLS,
// docs/security.md). OpenSSL's libcrypto does the work (common/tls/x509.h);
// nothing shells out to the openssl tool.
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli/command.h"
#include "common/tls/x509.h"

namespace berth::cli {
namespace {

absl::StatusOr<absl::Duration> CertDays(const Context& ctx, int64_t fallback) {
  if (!ctx.Has("days")) return absl::Hours(24 * fallback);
  int64_t days = 0;
  if (!absl::SimpleAtoi(ctx.Arg("days"), &days) || days <= 0 || days > 36500) {
    return absl::InvalidArgumentError(
        absl::StrCat("--days '", ctx.Arg("days"),
                     "': expected a whole number of days, 1 "
                     "to 36500"));
  }
  return absl::Hours(24 * days);
}

int CertCa(Context& ctx) {
  auto days = CertDays(ctx, 3650);
  if (!days.ok()) return ctx.UsageError(days.status());
  const std::string out = ctx.Arg("out");
  const std::string name = ctx.Has("name") ? ctx.Arg("name") : "berth CA";
  if (absl::Status s = tls::WriteCa(out, name, *days); !s.ok()) {
    return ctx.Fail(s);
  }
  *ctx.out << "CA \"" << name << "\" in " << out << "/ca.pem; its key is "
           << out << "/ca-key.pem (keep it off the cluster's hosts)\n";
  return kExitOk;
}

int CertIssue(Context& ctx) {
  auto kind = tls::ParseCertKind(ctx.Arg("kind"));
  if (!kind.ok()) return ctx.UsageError(kind.status());
  auto days = CertDays(ctx, 365);
  if (!days.ok()) return ctx.UsageError(days.status());
  tls::IssueRequest req;
  req.kind = *kind;
  req.name = ctx.Arg("name");
  req.validity = *days;
  if (ctx.Has("host")) {
    req.hosts = absl::StrSplit(ctx.Arg("host"), ',', absl::SkipEmpty());
  } else if (*kind != tls::CertKind::kUser) {
    // Daemons are dialed by address; a local test cluster needs these.
    req.hosts = {"127.0.0.1", "localhost"};
  }
  const std::string out = ctx.Arg("out");
  if (absl::Status s = tls::Issue(ctx.Arg("ca"), req, out); !s.ok()) {
    return ctx.Fail(s);
  }
  *ctx.out << tls::CertKindName(*kind) << " certificate for \"" << req.name
           << "\" in " << out << " (cert.pem, key.pem, ca.pem)";
  if (!req.hosts.empty()) {
    *ctx.out << ", valid for " << absl::StrJoin(req.hosts, ",");
  }
  *ctx.out << "\n";
  return kExitOk;
}

}  // namespace

void AddCertCommands(std::vector<Command>* table) {
  table->push_back(
      {"cert ca",
       "make a certificate authority for a cluster (ca.pem, ca-key.pem)",
       {},
       false,
       [](po::options_description& d) {
         d.add_options()("out", po::value<std::string>()->required(),
                         "directory to write ca.pem and ca-key.pem into")(
             "name", po::value<std::string>(),
             "the CA's common name (default \"berth CA\")")(
             "days", po::value<std::string>(),
             "validity in days (default 3650)");
       },
       CertCa});
  table->push_back(
      {"cert issue",
       "issue a server, agent, scheduler or user certificate from a CA",
       {},
       false,
       [](po::options_description& d) {
         d.add_options()("ca", po::value<std::string>()->required(),
                         "the CA directory (`berth cert ca --out`)")(
             "kind", po::value<std::string>()->required(),
             "server (berth-lockd), agent, scheduler or user")(
             "name", po::value<std::string>()->required(),
             "the node id or user name; goes into the certificate's CN")(
             "host", po::value<std::string>(),
             "addresses the holder serves on, ip-or-name[,...], for the "
             "subjectAltName (default 127.0.0.1,localhost; none for user)")(
             "days", po::value<std::string>(),
             "validity in days (default 365)")(
             "out", po::value<std::string>()->required(),
             "directory to write cert.pem, key.pem and ca.pem into");
       },
       CertIssue});
}

}  // namespace berth::cli
