// The cron grammar, in one file (STYLE.md: no packaged parser exists).
#include "scheduler/cron/parser.h"

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace berth::cron {
namespace {

enum class Kind { kSecond, kMinute, kHour, kDayOfMonth, kMonth, kDayOfWeek };

struct FieldInfo {
  const char* name;
  int min;
  int max;       // largest value that may be written (7 = Sunday for dow)
  int star_max;  // upper end of '*' and of "a/n" ranges
};

FieldInfo Info(Kind kind) {
  switch (kind) {
    case Kind::kSecond:
      return {"second", 0, 59, 59};
    case Kind::kMinute:
      return {"minute", 0, 59, 59};
    case Kind::kHour:
      return {"hour", 0, 23, 23};
    case Kind::kDayOfMonth:
      return {"day-of-month", 1, 31, 31};
    case Kind::kMonth:
      return {"month", 1, 12, 12};
    case Kind::kDayOfWeek:
      return {"day-of-week", 0, 7, 6};
  }
  return {"?", 0, 0, 0};
}

constexpr std::array<const char*, 12> kMonthNames = {
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN",
    "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<const char*, 7> kDayNames = {"SUN", "MON", "TUE", "WED",
                                                  "THU", "FRI", "SAT"};

absl::Status FieldError(Kind kind, absl::string_view reason) {
  return absl::InvalidArgumentError(
      absl::StrCat("field '", Info(kind).name, "': ", reason));
}

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::StatusOr<int> ParseValue(Kind kind, absl::string_view text) {
  const FieldInfo info = Info(kind);
  if (text.empty()) return FieldError(kind, "missing value");
  if (AllDigits(text)) {
    // Long digit strings are out of range anyway; avoid overflow.
    int value = text.size() > 4 ? 99999 : std::stoi(std::string(text));
    if (value < info.min || value > info.max) {
      return FieldError(kind, absl::StrCat("value ", text, " out of range ",
                                           info.min, "-", info.max));
    }
    return value;
  }
  std::string upper = absl::AsciiStrToUpper(text);
  if (kind == Kind::kMonth) {
    for (size_t i = 0; i < kMonthNames.size(); ++i) {
      if (upper == kMonthNames[i]) return static_cast<int>(i) + 1;
    }
    return FieldError(kind, absl::StrCat("unknown month name '", text,
                                         "' (expected JAN-DEC or 1-12)"));
  }
  if (kind == Kind::kDayOfWeek) {
    for (size_t i = 0; i < kDayNames.size(); ++i) {
      if (upper == kDayNames[i]) return static_cast<int>(i);
    }
    return FieldError(kind, absl::StrCat("unknown day name '", text,
                                         "' (expected SUN-SAT or 0-7)"));
  }
  return FieldError(
      kind, absl::StrCat("invalid value '", text, "' (expected a number)"));
}

// Adds one comma-separated term to `mask` (and `last` for 'L').
absl::Status ParseTerm(Kind kind, absl::string_view term, uint64_t& mask,
                       bool& last) {
  const FieldInfo info = Info(kind);
  if (term.empty()) return FieldError(kind, "empty list element");
  std::vector<absl::string_view> parts = absl::StrSplit(term, '/');
  if (parts.size() > 2) {
    return FieldError(kind,
                      absl::StrCat("term '", term, "' has more than one '/'"));
  }
  absl::string_view base = parts[0];
  bool has_step = parts.size() == 2;

  if (base == "L" || base == "l") {
    if (kind != Kind::kDayOfMonth) {
      return FieldError(kind, "'L' is only allowed in field 'day-of-month'");
    }
    if (has_step) return FieldError(kind, "'L' cannot take a step");
    last = true;
    return absl::OkStatus();
  }

  int lo = 0;
  int hi = 0;
  if (base == "*" || base == "?") {
    if (base == "?" && kind != Kind::kDayOfMonth && kind != Kind::kDayOfWeek) {
      return FieldError(kind,
                        "'?' is only allowed in day-of-month and day-of-week");
    }
    lo = info.min;
    hi = info.star_max;
  } else if (size_t dash = base.find('-'); dash != absl::string_view::npos) {
    absl::StatusOr<int> from = ParseValue(kind, base.substr(0, dash));
    if (!from.ok()) return from.status();
    absl::StatusOr<int> to = ParseValue(kind, base.substr(dash + 1));
    if (!to.ok()) return to.status();
    if (*from > *to && !(kind == Kind::kDayOfWeek && *to == 0)) {
      return FieldError(
          kind, absl::StrCat("range '", base, "' has its start after its end"));
    }
    lo = *from;
    hi = *to;
    // "FRI-SUN" and "5-0": Sunday closes a day range as 7.
    if (kind == Kind::kDayOfWeek && hi == 0 && lo > 0) hi = 7;
  } else {
    absl::StatusOr<int> value = ParseValue(kind, base);
    if (!value.ok()) return value.status();
    lo = *value;
    // "5/15" means "from 5 to the end of the field, every 15".
    hi = has_step ? std::max(lo, info.star_max) : lo;
  }

  int step = 1;
  if (has_step) {
    absl::string_view step_text = parts[1];
    int max_step = info.star_max - info.min;
    if (step_text.empty()) return FieldError(kind, "missing step after '/'");
    if (!AllDigits(step_text)) {
      return FieldError(kind,
                        absl::StrCat("step '", step_text, "' is not a number"));
    }
    step = step_text.size() > 4 ? 99999 : std::stoi(std::string(step_text));
    if (step < 1 || step > max_step) {
      return FieldError(
          kind, absl::StrCat("step ", step_text, " out of range 1-", max_step));
    }
  }
  for (int v = lo; v <= hi; v += step) {
    int bit = (kind == Kind::kDayOfWeek && v == 7) ? 0 : v;
    mask |= uint64_t{1} << bit;
  }
  return absl::OkStatus();
}

absl::Status ParseField(Kind kind, absl::string_view text, uint64_t& mask,
                        bool& star, bool& last) {
  mask = 0;
  star = text == "*" || text == "?";
  for (absl::string_view term : absl::StrSplit(text, ',')) {
    absl::Status status = ParseTerm(kind, term, mask, last);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<ParsedSpec> ParseFields(
    const std::vector<absl::string_view>& words) {
  if (words.size() != 5 && words.size() != 6) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected 5 fields (minute hour day-of-month month day-of-week) or 6 "
        "(second first), got ",
        words.size()));
  }
  size_t i = 0;
  ParsedSpec out;
  Fields& f = out.fields;
  uint64_t mask = 0;
  bool star = false;
  bool last = false;
  if (words.size() == 6) {
    absl::Status s = ParseField(Kind::kSecond, words[i++], mask, star, last);
    if (!s.ok()) return s;
    f.seconds = mask;
  } else {
    f.seconds = 1;  // second 0
  }
  const Kind kinds[] = {Kind::kMinute, Kind::kHour, Kind::kDayOfMonth,
                        Kind::kMonth, Kind::kDayOfWeek};
  for (Kind kind : kinds) {
    absl::string_view word = words[i++];
    absl::Status s = ParseField(kind, word, mask, star, last);
    if (!s.ok()) return s;
    switch (kind) {
      case Kind::kMinute:
        f.minutes = mask;
        break;
      case Kind::kHour:
        f.hours = static_cast<uint32_t>(mask);
        f.elapsed_hours =
            absl::StrContains(word, '*') || absl::StrContains(word, '/');
        break;
      case Kind::kDayOfMonth:
        f.dom = static_cast<uint32_t>(mask);
        f.dom_star = star;
        f.dom_last = last;
        break;
      case Kind::kMonth:
        f.months = static_cast<uint32_t>(mask);
        break;
      case Kind::kDayOfWeek:
        f.dow = static_cast<uint32_t>(mask);
        f.dow_star = star;
        break;
      case Kind::kSecond:
        break;
    }
  }
  f.Finish();
  if (!f.EverFires()) {
    return absl::InvalidArgumentError(
        "fields 'day-of-month' and 'month': the spec never fires, because no "
        "selected day exists in any selected month (e.g. 30 February or 31 "
        "April)");
  }
  return out;
}

}  // namespace

absl::StatusOr<int64_t> ParseEveryDuration(std::string_view std_text) {
  absl::string_view text(std_text.data(), std_text.size());
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "@every: invalid duration '", text,
        "' (expected <digits><unit> groups with units h, m, s in that order, "
        "e.g. 90s, 5m, 1h30m)"));
  };
  if (text.empty()) return bad();
  constexpr absl::string_view kUnits = "hms";
  constexpr int64_t kUnitSeconds[] = {3600, 60, 1};
  int64_t total = 0;
  size_t next_unit = 0;  // units must appear in order, each at most once
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = pos;
    while (pos < text.size() &&
           absl::ascii_isdigit(static_cast<unsigned char>(text[pos]))) {
      ++pos;
    }
    size_t digits = pos - start;
    if (digits == 0 || digits > 9 || pos == text.size()) return bad();
    size_t unit = kUnits.find(text[pos]);
    if (unit == absl::string_view::npos || unit < next_unit) return bad();
    total += std::stoll(std::string(text.substr(start, digits))) *
             kUnitSeconds[unit];
    next_unit = unit + 1;
    ++pos;
  }
  if (total < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("@every: duration '", text, "' must be at least 1s"));
  }
  return total;
}

absl::StatusOr<ParsedSpec> ParseSpec(std::string_view std_spec) {
  absl::string_view spec(std_spec.data(), std_spec.size());
  std::vector<absl::string_view> words =
      absl::StrSplit(spec, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (words.empty()) return absl::InvalidArgumentError("empty cron spec");
  if (words[0][0] != '@') return ParseFields(words);

  std::string macro = absl::AsciiStrToLower(words[0]);
  if (macro == "@every") {
    if (words.size() != 2) {
      return absl::InvalidArgumentError(
          "@every takes exactly one duration, e.g. '@every 90s'");
    }
    absl::StatusOr<int64_t> seconds =
        ParseEveryDuration(std::string_view(words[1].data(), words[1].size()));
    if (!seconds.ok()) return seconds.status();
    ParsedSpec out;
    out.is_every = true;
    out.every_seconds = *seconds;
    return out;
  }
  const std::pair<const char*, const char*> kMacros[] = {
      {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},
      {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
      {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"}};
  for (const auto& [name, expansion] : kMacros) {
    if (macro != name) continue;
    if (words.size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " takes no arguments"));
    }
    std::vector<absl::string_view> expanded = absl::StrSplit(expansion, ' ');
    return ParseFields(expanded);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown macro '", words[0],
      "' (expected @hourly, @daily, @midnight, @weekly, @monthly, @yearly, "
      "@annually or @every <duration>)"));
}

}  // namespace berth::cron
