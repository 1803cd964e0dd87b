#include "lockservice/client/internal/endpoints.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::lock::internal {

absl::StatusOr<std::string> ValidateEndpoint(absl::string_view endpoint) {
  absl::string_view ep = absl::StripAsciiWhitespace(endpoint);
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid lockd endpoint \"", endpoint, "\": ", why,
                     " (expected host:port, e.g. 127.0.0.1:7400)"));
  };
  if (ep.empty()) return bad("empty");
  if (ep.find("://") != absl::string_view::npos) {
    return bad("must not have a scheme");
  }
  size_t colon = ep.rfind(':');
  if (colon == absl::string_view::npos) return bad("missing port");
  absl::string_view host = ep.substr(0, colon);
  absl::string_view port = ep.substr(colon + 1);
  if (host.empty()) return bad("missing host");
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return bad("bad IPv6 host");
  } else if (host.find(':') != absl::string_view::npos) {
    return bad("IPv6 hosts need brackets");
  }
  if (std::any_of(host.begin(), host.end(),
                  [](char c) { return absl::ascii_isspace(c); })) {
    return bad("host contains whitespace");
  }
  uint32_t port_num = 0;
  if (port.empty() ||
      !std::all_of(port.begin(), port.end(),
                   [](char c) { return absl::ascii_isdigit(c); }) ||
      !absl::SimpleAtoi(port, &port_num) || port_num == 0 || port_num > 65535) {
    return bad(absl::StrCat("port \"", port, "\" is not in 1..65535"));
  }
  return std::string(ep);
}

absl::StatusOr<std::vector<std::string>> ParseEndpointList(
    absl::string_view spec) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(spec, ',')) {
    if (absl::StripAsciiWhitespace(part).empty()) continue;
    absl::StatusOr<std::string> ep = ValidateEndpoint(part);
    if (!ep.ok()) return ep.status();
    if (std::find(out.begin(), out.end(), *ep) == out.end()) {
      out.push_back(*std::move(ep));
    }
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no lockd endpoints in \"", spec, "\" (expected host:port,...)"));
  }
  return out;
}

std::optional<LeaderHint> ParseLeaderHint(absl::string_view message) {
  constexpr absl::string_view kTag = "leader=";
  size_t pos = message.find(kTag);
  if (pos == absl::string_view::npos) return std::nullopt;
  absl::string_view rest = message.substr(pos + kTag.size());
  size_t end = rest.find_first_of(" \t\n,;)");
  if (end != absl::string_view::npos) rest = rest.substr(0, end);
  LeaderHint hint;
  size_t at = rest.find('@');
  absl::string_view id = rest.substr(0, at);
  if (!absl::SimpleAtoi(id, &hint.id)) hint.id = 0;
  if (at != absl::string_view::npos && hint.id != 0) {
    absl::StatusOr<std::string> addr = ValidateEndpoint(rest.substr(at + 1));
    if (addr.ok()) hint.addr = *std::move(addr);
  }
  if (hint.addr.empty()) hint.id = 0;
  return hint;
}

std::string PrefixRangeEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

}  // namespace berth::lock::internal
