#include "cli/flags.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace berth::cli {

namespace {

absl::Status Bad(absl::string_view flag, absl::string_view text,
                 absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid value \"", text, "\" for ", flag, ": ", expected));
}

constexpr absl::string_view kDurationHelp =
    "expected a positive number with a unit (ns, us, ms, s, m, h), e.g. "
    "500ms, 10s, 2m";

template <typename T>
absl::StatusOr<T> ParseId(absl::string_view flag, absl::string_view text,
                          absl::string_view what) {
  absl::string_view digits = text;
  int base = 10;
  if (absl::StartsWithIgnoreCase(digits, "0x")) {
    digits.remove_prefix(2);
    base = 16;
  }
  bool ok =
      !digits.empty() && std::all_of(digits.begin(), digits.end(), [&](char c) {
        return base == 16 ? absl::ascii_isxdigit(c) : absl::ascii_isdigit(c);
      });
  uint64_t v = 0;
  if (ok) {
    ok = base == 16 ? absl::SimpleHexAtoi(digits, &v)
                    : absl::SimpleAtoi(digits, &v);
  }
  if (!ok || v == 0 ||
      v > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
    return Bad(flag, text,
               absl::StrCat("expected a non-zero ", what,
                            " in decimal or 0x-prefixed hexadecimal"));
  }
  return static_cast<T>(v);
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDurationFlag(absl::string_view flag,
                                                 absl::string_view text) {
  // absl::ParseDuration also takes "0", "inf" and signs; a flag should not.
  if (text.empty() || !absl::ascii_isdigit(text.front()) ||
      !absl::ascii_isalpha(text.back())) {
    return Bad(flag, text, kDurationHelp);
  }
  absl::Duration d;
  if (!absl::ParseDuration(text, &d)) return Bad(flag, text, kDurationHelp);
  if (d <= absl::ZeroDuration()) {
    return Bad(flag, text, "the duration must be greater than zero");
  }
  return d;
}

absl::StatusOr<absl::Duration> ParseTtlFlag(absl::string_view flag,
                                            absl::string_view text) {
  absl::StatusOr<absl::Duration> d = ParseDurationFlag(flag, text);
  if (!d.ok()) return d.status();
  if (*d < absl::Seconds(1) || absl::Trunc(*d, absl::Seconds(1)) != *d) {
    return Bad(flag, text,
               "a TTL must be a whole number of seconds, at least 1s");
  }
  return d;
}

absl::StatusOr<int64_t> ParseLeaseId(absl::string_view flag,
                                     absl::string_view text) {
  return ParseId<int64_t>(flag, text, "lease id");
}

absl::StatusOr<uint64_t> ParseMemberId(absl::string_view flag,
                                       absl::string_view text) {
  return ParseId<uint64_t>(flag, text, "member id");
}

absl::StatusOr<int64_t> ParseCount(absl::string_view flag,
                                   absl::string_view text) {
  int64_t v = 0;
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(),
                   [](char c) { return absl::ascii_isdigit(c); }) ||
      !absl::SimpleAtoi(text, &v)) {
    return Bad(flag, text, "expected a non-negative integer");
  }
  return v;
}

}  // namespace berth::cli
