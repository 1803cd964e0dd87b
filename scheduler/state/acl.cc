#include "scheduler/state/acl.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace berth::sched {
namespace {

constexpr struct {
  Rights bit;
  const char* name;
} kNames[] = {
    {kRightRead, "read"}, {kRightSubmit, "submit"}, {kRightStop, "stop"}};

Rights Lookup(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (const auto& n : kNames) {
    if (lower == n.name) return n.bit;
  }
  return 0;
}

}  // namespace

absl::string_view RightName(Rights right) {
  for (const auto& n : kNames) {
    if (right == n.bit) return n.name;
  }
  return "";
}

std::vector<std::string> RightNames(Rights rights) {
  std::vector<std::string> out;
  for (const auto& n : kNames) {
    if (rights & n.bit) out.push_back(n.name);
  }
  return out;
}

absl::StatusOr<Rights> ParseRights(const std::vector<std::string>& names) {
  Rights rights = 0;
  for (const std::string& name : names) {
    const Rights bit = Lookup(absl::StripAsciiWhitespace(name));
    if (bit == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown right \"", name,
                       "\" (the rights are read, submit and stop)"));
    }
    rights |= bit;
  }
  if (rights == 0) {
    return absl::InvalidArgumentError(
        "name at least one right (read, submit, stop)");
  }
  return rights;
}

Rights KnownRights(const std::vector<std::string>& names) {
  Rights rights = 0;
  for (const std::string& name : names) rights |= Lookup(name);
  return rights;
}

absl::Status ValidatePrincipal(absl::string_view principal) {
  if (principal.empty()) {
    return absl::InvalidArgumentError(
        "the principal is empty: name a user (its certificate's CN) or \"*\" "
        "for every authenticated user");
  }
  for (char c : principal) {
    if (c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat("principal \"", absl::CEscape(principal),
                       "\" may not contain '/' or control characters"));
    }
  }
  if (principal.size() > 256) {
    return absl::InvalidArgumentError(
        "the principal is longer than 256 characters");
  }
  return absl::OkStatus();
}

}  // namespace berth::sched
