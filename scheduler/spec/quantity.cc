#include "scheduler/spec/quantity.h"

#include <array>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace berth::sched {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

struct Decimal {
  int64_t whole = 0;
  int64_t frac = 0;        // digits after the dot, as an integer
  int frac_digits = 0;     // how many of them
  absl::string_view rest;  // the unit suffix
};

// Reads "<digits>[.<digits>]" from the front of `text`; the remainder is the
// unit. Fails on no digits, a bare dot, or overflow.
absl::StatusOr<Decimal> ReadDecimal(absl::string_view text, bool allow_frac) {
  Decimal d;
  size_t i = 0;
  while (i < text.size() && absl::ascii_isdigit(text[i])) {
    int digit = text[i] - '0';
    if (d.whole > (kMax - digit) / 10) {
      return absl::InvalidArgumentError("value is too large");
    }
    d.whole = d.whole * 10 + digit;
    ++i;
  }
  if (i == 0) return absl::InvalidArgumentError("must start with a digit");
  if (i < text.size() && text[i] == '.') {
    if (!allow_frac) {
      return absl::InvalidArgumentError("fractions are not allowed here");
    }
    ++i;
    size_t start = i;
    while (i < text.size() && absl::ascii_isdigit(text[i])) {
      if (d.frac_digits >= 9) {
        return absl::InvalidArgumentError("too many decimal places");
      }
      d.frac = d.frac * 10 + (text[i] - '0');
      ++d.frac_digits;
      ++i;
    }
    if (i == start) {
      return absl::InvalidArgumentError("a dot must be followed by digits");
    }
  }
  d.rest = text.substr(i);
  return d;
}

int64_t Pow10(int n) {
  int64_t p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

// whole * mult + frac * mult / 10^digits, requiring an exact integer result.
absl::StatusOr<int64_t> Scale(const Decimal& d, int64_t mult,
                              absl::string_view what) {
  if (d.whole > kMax / mult) {
    return absl::InvalidArgumentError("value is too large");
  }
  int64_t base = d.whole * mult;
  if (d.frac_digits == 0) return base;
  // frac < 10^9 and mult <= 2^40, so use 128-bit arithmetic for the product.
  __int128 num = static_cast<__int128>(d.frac) * mult;
  __int128 den = Pow10(d.frac_digits);
  if (num % den != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be a whole number of ", what));
  }
  __int128 total = base + num / den;
  if (total > kMax) return absl::InvalidArgumentError("value is too large");
  return static_cast<int64_t>(total);
}

absl::Status WithForms(const absl::Status& s, absl::string_view text,
                       absl::string_view forms) {
  return absl::InvalidArgumentError(
      absl::StrCat(s.message(), " in \"", text, "\" (", forms, ")"));
}

}  // namespace

absl::StatusOr<int64_t> ParseCpuMillicores(absl::string_view text) {
  constexpr absl::string_view kForms =
      "expected millicores like 250m or cores like 1 or 1.5";
  absl::StatusOr<Decimal> d = ReadDecimal(text, /*allow_frac=*/true);
  if (!d.ok()) return WithForms(d.status(), text, kForms);
  if (d->rest == "m") {
    if (d->frac_digits > 0) {
      return WithForms(absl::InvalidArgumentError("fractional millicores"),
                       text, kForms);
    }
    return d->whole;
  }
  if (!d->rest.empty()) {
    return WithForms(absl::InvalidArgumentError(
                         absl::StrCat("unknown unit \"", d->rest, "\"")),
                     text, kForms);
  }
  absl::StatusOr<int64_t> m = Scale(*d, 1000, "millicores");
  if (!m.ok()) return WithForms(m.status(), text, kForms);
  return *m;
}

absl::StatusOr<int64_t> ParseMemoryBytes(absl::string_view text) {
  constexpr absl::string_view kForms =
      "expected bytes or a unit: KiB MiB GiB TiB, Ki Mi Gi Ti, KB MB GB TB";
  struct Unit {
    absl::string_view name;
    int64_t mult;
  };
  static constexpr std::array<Unit, 14> kUnits = {{
      {"", 1},
      {"B", 1},
      {"KiB", int64_t{1} << 10},
      {"MiB", int64_t{1} << 20},
      {"GiB", int64_t{1} << 30},
      {"TiB", int64_t{1} << 40},
      {"Ki", int64_t{1} << 10},
      {"Mi", int64_t{1} << 20},
      {"Gi", int64_t{1} << 30},
      {"Ti", int64_t{1} << 40},
      {"KB", 1000},
      {"MB", 1000 * 1000},
      {"GB", 1000 * 1000 * 1000},
      {"TB", int64_t{1000} * 1000 * 1000 * 1000},
  }};
  absl::StatusOr<Decimal> d = ReadDecimal(text, /*allow_frac=*/true);
  if (!d.ok()) return WithForms(d.status(), text, kForms);
  for (const Unit& u : kUnits) {
    if (u.name != d->rest) continue;
    absl::StatusOr<int64_t> b = Scale(*d, u.mult, "bytes");
    if (!b.ok()) return WithForms(b.status(), text, kForms);
    return *b;
  }
  return WithForms(absl::InvalidArgumentError(
                       absl::StrCat("unknown unit \"", d->rest, "\"")),
                   text, kForms);
}

absl::StatusOr<int64_t> ParseDurationMs(absl::string_view text) {
  constexpr absl::string_view kForms =
      "expected groups like 500ms, 2s, 10m, 1h30m";
  if (text == "0") return 0;
  struct Unit {
    absl::string_view name;
    int64_t ms;
  };
  // Longest names first so that "ms" is not read as "m" followed by "s".
  static constexpr std::array<Unit, 4> kUnits = {
      {{"h", 3600 * 1000}, {"ms", 1}, {"m", 60 * 1000}, {"s", 1000}}};
  static constexpr std::array<int, 4> kRank = {0, 3, 1, 2};  // h m s ms
  if (text.empty()) {
    return WithForms(absl::InvalidArgumentError("empty duration"), text,
                     kForms);
  }
  int64_t total = 0;
  int last_rank = -1;
  absl::string_view rest = text;
  while (!rest.empty()) {
    absl::StatusOr<Decimal> d = ReadDecimal(rest, /*allow_frac=*/false);
    if (!d.ok()) return WithForms(d.status(), text, kForms);
    int found = -1;
    size_t len = 0;
    for (size_t u = 0; u < kUnits.size(); ++u) {
      absl::string_view name = kUnits[u].name;
      if (d->rest.substr(0, name.size()) == name &&
          !(name == "m" && d->rest.substr(0, 2) == "ms")) {
        found = static_cast<int>(u);
        len = name.size();
        break;
      }
    }
    if (found < 0) {
      std::string why = d->rest.empty()
                            ? std::string("missing unit")
                            : absl::StrCat("unknown unit at \"", d->rest, "\"");
      return WithForms(absl::InvalidArgumentError(why), text, kForms);
    }
    if (kRank[found] <= last_rank) {
      return WithForms(
          absl::InvalidArgumentError("units must appear once, largest first"),
          text, kForms);
    }
    last_rank = kRank[found];
    int64_t mult = kUnits[found].ms;
    if (d->whole > (kMax - total) / mult) {
      return WithForms(absl::InvalidArgumentError("value is too large"), text,
                       kForms);
    }
    total += d->whole * mult;
    rest = d->rest.substr(len);
  }
  return total;
}

}  // namespace berth::sched
