#include "scheduler/spec/yaml_fields.h"

#include <algorithm>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "scheduler/spec/quantity.h"

namespace berth::sched::spec_internal {
namespace {

const char* TypeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "empty";
    default:
      return "a scalar";
  }
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Applies a quantity parser to a scalar and prefixes its error with the path.
template <typename F>
absl::StatusOr<int64_t> ReadQuantity(const Value& v, F parse) {
  absl::StatusOr<std::string> s = ReadString(v);
  if (!s.ok()) return s.status();
  absl::StatusOr<int64_t> q = parse(*s);
  if (!q.ok()) return Error(v, q.status().message());
  return *q;
}

}  // namespace

int LineOf(const YAML::Node& node, int fallback) {
  // An empty value ("key:") has no token of its own; yaml-cpp marks it at
  // the next token, possibly lines later, so report the key's line.
  if (!node.IsDefined() || node.IsNull()) return fallback;
  int line = node.Mark().line;
  return line >= 0 ? line + 1 : fallback;
}

absl::Status Error(const Value& at, absl::string_view reason) {
  return absl::InvalidArgumentError(
      absl::StrCat("line ", at.line, ": ", at.path, ": ", reason));
}

std::string DidYouMean(absl::string_view word,
                       const std::vector<absl::string_view>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (absl::string_view c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_d) {
      best_d = d;
      best = std::string(c);
    }
  }
  return best;
}

absl::StatusOr<MapReader> MapReader::Read(
    const Value& v, std::vector<absl::string_view> allowed) {
  if (!v.node.IsMap()) {
    return Error(v, absl::StrCat("must be a mapping, got ", TypeName(v.node)));
  }
  MapReader r;
  r.self_ = v;
  for (auto it = v.node.begin(); it != v.node.end(); ++it) {
    int key_line = LineOf(it->first, v.line);
    if (!it->first.IsScalar()) {
      return Error(Value{it->first, v.path, key_line},
                   "keys must be plain names");
    }
    std::string key = it->first.Scalar();
    Value child{it->second, r.PathOf(key), LineOf(it->second, key_line)};
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string hint = DidYouMean(key, allowed);
      Value at{it->first, child.path, key_line};
      return Error(at, hint.empty()
                           ? std::string("unknown field")
                           : absl::StrCat("unknown field (did you mean \"",
                                          hint, "\"?)"));
    }
    if (r.entries_.count(key) > 0) {
      return Error(Value{it->first, child.path, key_line}, "duplicate field");
    }
    r.order_.push_back(key);
    r.entries_.emplace(key, std::move(child));
  }
  return r;
}

bool MapReader::Has(absl::string_view key) const {
  return entries_.find(key) != entries_.end();
}

std::optional<Value> MapReader::Get(absl::string_view key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

absl::Status MapReader::Missing(absl::string_view key) const {
  return Error(Value{self_.node, PathOf(key), self_.line}, "is required");
}

std::string MapReader::PathOf(absl::string_view key) const {
  return self_.path.empty() ? std::string(key)
                            : absl::StrCat(self_.path, ".", key);
}

absl::StatusOr<std::string> ReadString(const Value& v) {
  if (!v.node.IsScalar()) {
    return Error(v, absl::StrCat("must be a scalar, got ", TypeName(v.node)));
  }
  return v.node.Scalar();
}

absl::StatusOr<int64_t> ReadInt(const Value& v, int64_t min, int64_t max) {
  absl::StatusOr<std::string> s = ReadString(v);
  if (!s.ok()) return s.status();
  int64_t n = 0;
  bool digits_only =
      !s->empty() && s->find_first_not_of("-0123456789") == std::string::npos;
  if (!digits_only || !absl::SimpleAtoi(*s, &n)) {
    return Error(v, absl::StrCat("must be an integer, got \"", *s, "\""));
  }
  if (n < min) return Error(v, absl::StrCat("must be >= ", min, ", got ", n));
  if (n > max) return Error(v, absl::StrCat("must be <= ", max, ", got ", n));
  return n;
}

absl::StatusOr<bool> ReadBool(const Value& v) {
  absl::StatusOr<std::string> s = ReadString(v);
  if (!s.ok()) return s.status();
  if (*s == "true") return true;
  if (*s == "false") return false;
  return Error(v, absl::StrCat("must be true or false, got \"", *s, "\""));
}

absl::StatusOr<int64_t> ReadDurationMs(const Value& v) {
  return ReadQuantity(v, ParseDurationMs);
}
absl::StatusOr<int64_t> ReadCpu(const Value& v) {
  return ReadQuantity(v, ParseCpuMillicores);
}
absl::StatusOr<int64_t> ReadMemory(const Value& v) {
  return ReadQuantity(v, ParseMemoryBytes);
}

absl::StatusOr<std::vector<Value>> ReadSequence(const Value& v) {
  if (!v.node.IsSequence()) {
    return Error(v, absl::StrCat("must be a list, got ", TypeName(v.node)));
  }
  std::vector<Value> out;
  for (size_t i = 0; i < v.node.size(); ++i) {
    YAML::Node item = v.node[i];
    out.push_back(
        Value{item, absl::StrCat(v.path, "[", i, "]"), LineOf(item, v.line)});
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> ReadStringList(const Value& v) {
  absl::StatusOr<std::vector<Value>> items = ReadSequence(v);
  if (!items.ok()) return items.status();
  std::vector<std::string> out;
  for (const Value& item : *items) {
    absl::StatusOr<std::string> s = ReadString(item);
    if (!s.ok()) return s.status();
    out.push_back(*std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<Value, std::string>>> ReadStringMap(
    const Value& v) {
  if (!v.node.IsMap()) {
    return Error(v, absl::StrCat("must be a mapping, got ", TypeName(v.node)));
  }
  std::vector<std::pair<Value, std::string>> out;
  for (auto it = v.node.begin(); it != v.node.end(); ++it) {
    int key_line = LineOf(it->first, v.line);
    std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
    Value key_at{it->first, absl::StrCat(v.path, ".", key), key_line};
    if (!it->first.IsScalar()) return Error(key_at, "keys must be scalars");
    for (const auto& [seen, unused] : out) {
      if (seen.node.Scalar() == key) return Error(key_at, "duplicate key");
    }
    Value val{it->second, key_at.path, LineOf(it->second, key_line)};
    absl::StatusOr<std::string> s = ReadString(val);
    if (!s.ok()) return s.status();
    out.emplace_back(key_at, *std::move(s));
  }
  return out;
}

}  // namespace berth::sched::spec_internal
