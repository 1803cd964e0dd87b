#include "cli/output.h"

#include <algorithm>
#include <ostream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver_util.h"

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

namespace {

// Finds a string (key or value) that is not UTF-8; JSON cannot carry it.
const std::string* FindNonUtf8(const Json& v) {
  auto bad = [](const std::string& s) {
    return !google::protobuf::internal::IsStructurallyValidUTF8(
        s.data(), static_cast<int>(s.size()));
  };
  switch (v.kind_case()) {
    case Json::kStringValue:
      return bad(v.string_value()) ? &v.string_value() : nullptr;
    case Json::kStructValue:
      for (const auto& [k, f] : v.struct_value().fields()) {
        if (bad(k)) return &k;
        if (const std::string* s = FindNonUtf8(f)) return s;
      }
      return nullptr;
    case Json::kListValue:
      for (const Json& item : v.list_value().values()) {
        if (const std::string* s = FindNonUtf8(item)) return s;
      }
      return nullptr;
    default:
      return nullptr;
  }
}

}  // namespace

absl::Status PrintProtoJson(std::ostream& out,
                            const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  std::string text;
  auto st = google::protobuf::util::MessageToJsonString(message, &text, o);
  if (!st.ok()) return absl::InternalError(st.ToString());
  out << text << "\n";
  return absl::OkStatus();
}

absl::Status PrintJson(std::ostream& out, const Json& value) {
  if (const std::string* s = FindNonUtf8(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot print \"", absl::CHexEscape(*s),
                     "\" as JSON: it is not valid UTF-8 (use --output table)"));
  }
  // Deterministic serialization sorts map keys, so objects print with
  // their keys in sorted order on every run (Struct is a map underneath).
  std::string binary;
  {
    google::protobuf::io::StringOutputStream sos(&binary);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    value.SerializeToCodedStream(&cos);
  }
  static google::protobuf::util::TypeResolver* const resolver =
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          "type.googleapis.com",
          google::protobuf::DescriptorPool::generated_pool());
  std::string text;
  auto st = google::protobuf::util::BinaryToJsonString(
      resolver, "type.googleapis.com/google.protobuf.Value", binary, &text);
  if (!st.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print JSON: ", st.ToString()));
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
