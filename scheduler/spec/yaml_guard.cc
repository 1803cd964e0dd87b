#include "scheduler/spec/yaml_guard.h"

#include <cstdint>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/mark.h"
#include "yaml-cpp/parser.h"

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

// Walks the documents as yaml-cpp's LoadAll does, keeping nothing. LoadAll
// loops "while another document follows"; in yaml-cpp 0.7 a token that
// cannot start a node (a ',', say, outside any [ ] or { }) is reported as a
// null document and left unconsumed, so the next document starts on the
// same token, forever, each one a node LoadAll keeps (yaml-cpp issue 1040,
// fixed upstream in 0.8.0). A document that starts where the previous one
// did is exactly that loop.
class DocumentStarts : public YAML::EventHandler {
 public:
  // True once a document started where the previous one did.
  bool stalled() const { return stalled_; }
  const YAML::Mark& last() const { return last_; }
  int64_t documents() const { return documents_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents_ > 0 && mark.pos == last_.pos) stalled_ = true;
    last_ = mark;
    ++documents_;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  bool stalled_ = false;
  YAML::Mark last_;
  int64_t documents_ = 0;
};

absl::Status CheckDocumentsAdvance(absl::string_view yaml,
                                   absl::string_view filename) {
  std::istringstream in{std::string(yaml)};
  YAML::Parser parser(in);
  DocumentStarts starts;
  try {
    while (parser.HandleNextDocument(starts)) {
      // Every healthy document consumes at least one byte, so more
      // documents than bytes is a loop too, whatever its shape.
      if (starts.stalled() ||
          starts.documents() > static_cast<int64_t>(yaml.size()) + 1) {
        const YAML::Mark& m = starts.last();
        const char c = m.pos >= 0 && static_cast<size_t>(m.pos) < yaml.size()
                           ? yaml[m.pos]
                           : ' ';
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: line %d, column %d: unexpected '%c' where a value should "
            "start (',', ']' and '}' belong inside [ ] or { })",
            filename, m.line + 1, m.column + 1, c));
      }
    }
  } catch (const YAML::Exception&) {
    // Invalid YAML; the real parse reports it with its line.
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
  return CheckDocumentsAdvance(yaml, filename);
}

}  // namespace berth::sched
