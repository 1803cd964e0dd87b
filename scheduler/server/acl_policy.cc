#include "scheduler/server/acl_policy.h"

#include "absl/strings/str_cat.h"

namespace berth::sched {
namespace {

constexpr char kRootUser[] = "root";

absl::Status NoIdentity() {
  return absl::UnauthenticatedError(
      "ACLs are enabled; this call needs a client certificate (--tls-ca, "
      "--tls-cert, --tls-key or BERTH_TLS_*)");
}

bool IsUser(const Who& who) { return who.has_value() && who->kind == "user"; }

}  // namespace

bool IsAclAdmin(const Who& who) {
  if (!who.has_value()) return false;
  if (who->kind == "scheduler" || who->kind == "server") return true;
  return who->kind == "user" && who->name == kRootUser;
}

std::string DescribeCaller(const Who& who) {
  if (!who.has_value()) return "anonymous";
  if (who->kind == "user") return absl::StrCat("user \"", who->name, "\"");
  if (who->kind.empty()) {
    return absl::StrCat("certificate \"", who->name, "\" (no kind)");
  }
  return absl::StrCat(who->kind, " \"", who->name, "\"");
}

Rights RightsIn(const AclState& acl, const Who& who, absl::string_view ns) {
  if (!acl.enabled || IsAclAdmin(who)) return kAllRights;
  if (who.has_value() && who->kind == "agent") return kRightRead;
  if (!IsUser(who)) return 0;
  auto it = acl.grants.find(std::string(ns));
  if (it == acl.grants.end()) return 0;
  Rights rights = 0;
  for (const std::string& p : {who->name, std::string(kAnyUser)}) {
    auto e = it->second.find(p);
    if (e != it->second.end()) rights |= e->second.rights;
  }
  return rights;
}

absl::Status AuthorizeRight(const AclState& acl, const Who& who, Rights right,
                            absl::string_view ns) {
  if (!acl.enabled) return absl::OkStatus();
  if (!who.has_value()) return NoIdentity();
  if ((RightsIn(acl, who, ns) & right) == right) return absl::OkStatus();
  const absl::string_view name = RightName(right);
  if (!IsUser(who)) {
    return absl::PermissionDeniedError(absl::StrCat(
        DescribeCaller(who), " has no \"", name, "\" right in namespace \"", ns,
        "\": namespace rights are granted to user "
        "certificates only"));
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "user \"", who->name, "\" has no \"", name, "\" right in namespace \"",
      ns, "\" (berth acl grant ", who->name, " ", ns, " ", name, ")"));
}

absl::Status AuthorizeAdmin(const AclState& acl, const Who& who,
                            absl::string_view what) {
  if (!acl.enabled || IsAclAdmin(who)) return absl::OkStatus();
  if (!who.has_value()) return NoIdentity();
  return absl::PermissionDeniedError(absl::StrCat(
      DescribeCaller(who), " may not call ", what,
      ": with ACLs enabled it needs an admin (a user certificate named "
      "\"root\", or a scheduler's or server's certificate)"));
}

absl::Status AuthorizeAuthenticated(const AclState& acl, const Who& who) {
  if (!acl.enabled || who.has_value()) return absl::OkStatus();
  return NoIdentity();
}

absl::Status AuthorizeAclSwitch(const Who& who) {
  if (IsAclAdmin(who)) return absl::OkStatus();
  if (!who.has_value()) {
    return absl::UnauthenticatedError(
        "switching ACLs needs a client certificate: call with the user "
        "certificate named \"root\" (berth cert issue --kind user --name "
        "root)");
  }
  return absl::PermissionDeniedError(absl::StrCat(
      DescribeCaller(who),
      " may not switch ACLs: that needs a user certificate named \"root\" "
      "(or a scheduler's or server's certificate)"));
}

}  // namespace berth::sched
