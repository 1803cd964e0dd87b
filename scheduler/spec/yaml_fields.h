// Typed, position-aware reading of yaml-cpp nodes for the job spec parser.
// Internal to scheduler/spec.
//
// Every error is InvalidArgument with the message "line L: <path>: <reason>"
// (L 1-based); the caller adds the file and document. None of these
// functions throw: they only touch nodes through calls that cannot throw
// (no operator[] on missing keys), and yaml-cpp conversions are replaced by
// strict absl parsing. Values borrow nothing: YAML::Node is ref-counted.
#ifndef BERTH_SCHEDULER_SPEC_YAML_FIELDS_H_
#define BERTH_SCHEDULER_SPEC_YAML_FIELDS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

namespace berth::sched::spec_internal {

// A YAML value together with where it came from.
struct Value {
  YAML::Node node;
  std::string path;  // e.g. "task.restart.policy", "task.command[2]"
  int line = 0;      // 1-based; 0 when unknown
};

// 1-based line of `node`, or `fallback` when yaml-cpp has no mark for it
// (empty values such as "key:" with nothing after it).
int LineOf(const YAML::Node& node, int fallback);

absl::Status Error(const Value& at, absl::string_view reason);

// Closest of `candidates` to `word` within a small edit distance, or "".
std::string DidYouMean(absl::string_view word,
                       const std::vector<absl::string_view>& candidates);

// The keys of one YAML mapping, checked against an allowed set.
class MapReader {
 public:
  // Fails when `v` is not a mapping, has a non-scalar or duplicate key, or
  // has a key outside `allowed` (with a "did you mean" hint).
  static absl::StatusOr<MapReader> Read(const Value& v,
                                        std::vector<absl::string_view> allowed);

  bool Has(absl::string_view key) const;
  std::optional<Value> Get(absl::string_view key) const;
  // Error about a missing key, reported at the mapping's own line.
  absl::Status Missing(absl::string_view key) const;
  std::string PathOf(absl::string_view key) const;
  const Value& self() const { return self_; }
  // Keys in document order.
  const std::vector<std::string>& keys() const { return order_; }

 private:
  Value self_;
  std::map<std::string, Value, std::less<>> entries_;
  std::vector<std::string> order_;
};

absl::StatusOr<std::string> ReadString(const Value& v);
absl::StatusOr<int64_t> ReadInt(const Value& v, int64_t min, int64_t max);
absl::StatusOr<bool> ReadBool(const Value& v);
absl::StatusOr<int64_t> ReadDurationMs(const Value& v);
absl::StatusOr<int64_t> ReadCpu(const Value& v);
absl::StatusOr<int64_t> ReadMemory(const Value& v);
absl::StatusOr<std::vector<std::string>> ReadStringList(const Value& v);
// A sequence; each element gets path "<path>[i]".
absl::StatusOr<std::vector<Value>> ReadSequence(const Value& v);
// A mapping of scalar keys to scalar values, in document order.
absl::StatusOr<std::vector<std::pair<Value, std::string>>> ReadStringMap(
    const Value& v);

// Maps a scalar through `table`; the error lists the accepted names.
template <typename E>
absl::StatusOr<E> ReadEnum(
    const Value& v, const std::vector<std::pair<absl::string_view, E>>& table) {
  absl::StatusOr<std::string> s = ReadString(v);
  if (!s.ok()) return s.status();
  std::string names;
  for (const auto& [name, value] : table) {
    if (name == *s) return value;
    if (!names.empty()) names += ", ";
    names.append(name.data(), name.size());
  }
  return Error(v, "must be one of " + names + ", got \"" + *s + "\"");
}

}  // namespace berth::sched::spec_internal

#endif  // BERTH_SCHEDULER_SPEC_YAML_FIELDS_H_
