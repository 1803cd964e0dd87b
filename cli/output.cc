#include "cli/output.h"

#include <algorithm>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace berth::cli {

Json JStr(std::string s) {
  Json v;
  v.set_string_value(std::move(s));
  return v;
}

Json JNum(int64_t n) {
  Json v;
  v.set_number_value(static_cast<double>(n));
  return v;
}

Json JId(uint64_t id) { return JStr(absl::StrCat(id)); }

Json JBool(bool b) {
  Json v;
  v.set_bool_value(b);
  return v;
}

Json JNull() {
  Json v;
  v.set_null_value(google::protobuf::NULL_VALUE);
  return v;
}

Json JObj(std::initializer_list<std::pair<std::string, Json>> fields) {
  Json v;
  auto* m = v.mutable_struct_value()->mutable_fields();
  for (const auto& [k, f] : fields) (*m)[k] = f;
  return v;
}

Json JList(std::vector<Json> items) {
  Json v;
  auto* l = v.mutable_list_value();
  for (Json& i : items) *l->add_values() = std::move(i);
  return v;
}

Json KeyValueJson(const lock::KeyValue& kv) {
  return JObj({{"key", JStr(kv.key)},
               {"value", JStr(kv.value)},
               {"create_revision", JNum(kv.create_revision)},
               {"mod_revision", JNum(kv.mod_revision)},
               {"version", JNum(kv.version)},
               {"lease", JId(static_cast<uint64_t>(kv.lease))}});
}

Json MemberJson(const lock::Member& m) {
  return JObj({{"id", JId(m.id)},
               {"name", JStr(m.name)},
               {"address", JStr(m.address)},
               {"is_learner", JBool(m.is_learner)}});
}

absl::Status PrintJson(std::ostream& out, const Json& value) {
  std::string text;
  auto st = google::protobuf::util::MessageToJsonString(value, &text);
  if (!st.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print JSON: ", st.ToString(),
                     " (keys and values must be valid UTF-8)"));
  }
  out << text << "\n";
  return absl::OkStatus();
}

void PrintTable(std::ostream& out,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

}  // namespace berth::cli
