#include "scheduler/spec/yaml_guard.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace berth::sched {
namespace {

// Length of the UTF-8 sequence at s[i], or 0 if it is not one (overlong
// forms, surrogates and code points past U+10FFFF included).
size_t Utf8Length(absl::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

absl::Status Bad(absl::string_view filename, int line, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(filename, ": line ", line, ": ", why));
}

// A job document is a mapping, so its first line is "key: ...". A ','
// outside quotes and brackets before that ':' (e.g. `"-c", "x"`) is a flow
// separator in block context, the other input yaml-cpp 0.7 allocates on
// without bound (found by jobspec_fuzz).
absl::Status CheckFirstLine(absl::string_view l, absl::string_view filename,
                            int line) {
  int depth = 0;
  char quote = 0;
  for (size_t i = 0; i < l.size(); ++i) {
    const char c = l[i];
    if (quote != 0) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      --depth;
    } else if (c == '#' && (i == 0 || l[i - 1] == ' ')) {
      break;
    } else if (c == ':' && depth == 0 &&
               (i + 1 == l.size() || l[i + 1] == ' ')) {
      break;  // the mapping key ended; the rest is its value
    } else if (c == ',' && depth == 0) {
      return Bad(filename, line,
                 "a job document must start with a 'key: value' line, not "
                 "a ',' separated list");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckYamlInput(absl::string_view yaml,
                            absl::string_view filename) {
  int line = 1;
  for (size_t i = 0; i < yaml.size();) {
    const uint8_t c = static_cast<uint8_t>(yaml[i]);
    if (c == '\n') ++line;
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      return Bad(filename, line,
                 absl::StrFormat("control character 0x%02x; YAML allows only "
                                 "tab, line feed and carriage return",
                                 c));
    }
    if (c == 0x7F) return Bad(filename, line, "control character 0x7f (DEL)");
    const size_t n = Utf8Length(yaml, i);
    if (n == 0) {
      return Bad(filename, line,
                 absl::StrFormat("byte 0x%02x is not valid UTF-8", c));
    }
    i += n;
  }
  // The first token of every document: after "---", blank lines, comments
  // and directives.
  bool at_document_start = true;
  line = 0;
  for (absl::string_view l : absl::StrSplit(yaml, '\n')) {
    ++line;
    absl::string_view rest = l;
    if (absl::StartsWith(l, "---") &&
        (l.size() == 3 || absl::ascii_isspace(l[3]))) {
      at_document_start = true;
      rest = l.substr(3);
    } else if (absl::StartsWith(l, "%") && at_document_start) {
      continue;  // a directive such as %YAML 1.2
    }
    if (!at_document_start) continue;
    rest = absl::StripLeadingAsciiWhitespace(rest);
    if (rest.empty() || rest[0] == '#') continue;
    if (rest[0] == ',') {
      return Bad(filename, line,
                 "a document cannot start with ',' (a flow-collection "
                 "separator outside any [ ] or { })");
    }
    if (absl::Status s = CheckFirstLine(rest, filename, line); !s.ok()) {
      return s;
    }
    at_document_start = false;
  }
  return absl::OkStatus();
}

}  // namespace berth::sched
