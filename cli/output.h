// Output for `berth`: JSON through protobuf's JSON printer (a
// google.protobuf.Value built field by field), or aligned text tables.
//
// JSON conventions, stable across releases (see cli/README.md):
//   * field names are snake_case, matching proto/lock.proto where one exists;
//   * 64-bit ids (lease, member, cluster) are decimal strings, as in proto3
//     JSON, because JSON numbers lose precision above 2^53;
//   * revisions, versions, counts and TTL seconds are numbers;
//   * every field is always present (zero values included);
//   * object keys print in sorted order, so output is byte-for-byte stable.
//
// Thread safety: stateless, except that printing writes to the given stream.
#ifndef BERTH_CLI_OUTPUT_H_
#define BERTH_CLI_OUTPUT_H_

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/struct.pb.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"

namespace berth::cli {

using Json = google::protobuf::Value;

Json JStr(std::string s);
Json JNum(int64_t n);
Json JId(uint64_t id);  // decimal string
Json JBool(bool b);
Json JNull();
Json JObj(std::initializer_list<std::pair<std::string, Json>> fields);
Json JList(std::vector<Json> items);

Json KeyValueJson(const lock::KeyValue& kv);
Json MemberJson(const lock::Member& m);

// One JSON document on one line.
absl::Status PrintJson(std::ostream& out, const Json& value);
// A proto message as JSON on one line: proto field names, every field
// (zero values too), enums by name.
absl::Status PrintProtoJson(std::ostream& out,
                            const google::protobuf::Message& message);

// Left-aligned columns separated by two spaces; the first row is the header.
void PrintTable(std::ostream& out,
                const std::vector<std::vector<std::string>>& rows);

}  // namespace berth::cli

#endif  // BERTH_CLI_OUTPUT_H_
