#include "scheduler/server/dashboard/api.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "scheduler/server/dashboard/assets.h"

namespace berth::sched::dashboard {
namespace {

using google::protobuf::Message;
using google::protobuf::Value;
using metrics::HttpRequest;
using metrics::HttpResponse;

constexpr char kJson[] = "application/json";
constexpr int kDefaultTail = 100;
constexpr int kMaxTail = 1000;

int HttpStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kFailedPrecondition:
      return 409;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

Value Str(std::string s) {
  Value v;
  v.set_string_value(std::move(s));
  return v;
}
Value Num(double n) {
  Value v;
  v.set_number_value(n);
  return v;
}
Value Bool(bool b) {
  Value v;
  v.set_bool_value(b);
  return v;
}
Value Obj(std::vector<std::pair<std::string, Value>> fields) {
  Value v;
  auto* m = v.mutable_struct_value()->mutable_fields();
  for (auto& [k, f] : fields) (*m)[k] = std::move(f);
  return v;
}

// Task output is bytes; JSON strings are UTF-8. Invalid sequences become
// U+FFFD so one stray byte does not lose the whole tail.
std::string ValidUtf8(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    const unsigned char c = in[i];
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    bool ok = len > 0 && i + len <= in.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(in[i + k]) & 0xc0) == 0x80;
    }
    if (ok) {
      out.append(in, i, len);
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

HttpResponse JsonReply(const Message& m, int status = 200) {
  google::protobuf::util::JsonPrintOptions o;
  o.always_print_primitive_fields = true;
  o.preserve_proto_field_names = true;
  HttpResponse r;
  r.status = status;
  r.content_type = kJson;
  auto st = google::protobuf::util::MessageToJsonString(m, &r.body, o);
  if (!st.ok()) {
    r.status = 500;
    r.content_type = "text/plain";
    r.body = absl::StrCat("cannot encode JSON: ", st.ToString(), "\n");
  }
  return r;
}

HttpResponse ErrorReply(const absl::Status& s) {
  return JsonReply(Obj({{"error", Str(ValidUtf8(std::string(s.message())))},
                        {"code", Str(absl::StatusCodeToString(s.code()))}}),
                   HttpStatus(s.code()));
}

template <typename T>
HttpResponse Reply(const absl::StatusOr<T>& r) {
  if (!r.ok()) return ErrorReply(r.status());
  return JsonReply(*r);
}

std::string Arg(const HttpRequest& req, const std::string& key,
                const std::string& fallback) {
  auto it = req.query.find(key);
  return it == req.query.end() || it->second.empty() ? fallback : it->second;
}

HttpResponse Cluster(DashboardSource& src) {
  const schedpb::LeaderResponse leader = src.Leader();
  const std::string role = leader.is_self()      ? "leader"
                           : leader.id().empty() ? "unknown"
                                                 : "standby";
  Value sched = Obj({{"self", Str(src.SelfId())},
                     {"role", Str(role)},
                     {"leader_id", Str(leader.id())},
                     {"leader_address", Str(leader.address())}});
  Value lockd;
  absl::StatusOr<lock::ClusterStatus> cs = src.LockCluster();
  if (!cs.ok()) {
    lockd = Obj({{"error", Str(std::string(cs.status().message()))}});
  } else {
    Value members;
    members.mutable_list_value();
    for (const lock::Member& m : cs->members) {
      *members.mutable_list_value()->add_values() =
          Obj({{"id", Str(absl::StrCat(m.id))},
               {"name", Str(m.name)},
               {"address", Str(m.address)},
               {"learner", Bool(m.is_learner)},
               {"leader", Bool(m.id == cs->leader_id)}});
    }
    Value alarms;
    alarms.mutable_list_value();
    for (const std::string& a : cs->alarms) {
      *alarms.mutable_list_value()->add_values() = Str(a);
    }
    lockd = Obj({{"leader_id", Str(absl::StrCat(cs->leader_id))},
                 {"leader_address", Str(cs->leader_addr)},
                 {"raft_term", Num(static_cast<double>(cs->raft_term))},
                 {"revision", Num(static_cast<double>(cs->revision))},
                 {"db_size_bytes", Num(static_cast<double>(cs->db_size_bytes))},
                 {"members", std::move(members)},
                 {"alarms", std::move(alarms)}});
  }
  return JsonReply(
      Obj({{"scheduler", std::move(sched)}, {"lockd", std::move(lockd)}}));
}

HttpResponse Logs(DashboardSource& src, const std::string& alloc,
                  const HttpRequest& req) {
  int tail = kDefaultTail;
  const std::string t = Arg(req, "tail", "");
  if (!t.empty() && (!absl::SimpleAtoi(t, &tail) || tail <= 0)) {
    return ErrorReply(absl::InvalidArgumentError(
        absl::StrCat("tail=", t, ": want a positive number of lines")));
  }
  tail = std::min(tail, kMaxTail);
  const std::string stream = Arg(req, "stream", "stdout");
  schedpb::AllocLogsRequest r;
  r.set_alloc_id(alloc);
  r.set_tail_lines(tail);
  if (stream == "stderr") {
    r.set_stream(agentpb::STDERR);
  } else if (stream == "stdout") {
    r.set_stream(agentpb::STDOUT);
  } else {
    return ErrorReply(absl::InvalidArgumentError(
        absl::StrCat("stream=", stream, ": want stdout or stderr")));
  }
  absl::StatusOr<LogTail> got = src.Logs(r);
  if (!got.ok()) return ErrorReply(got.status());
  return JsonReply(Obj({{"alloc_id", Str(got->alloc_id)},
                        {"node", Str(got->node)},
                        {"stream", Str(stream)},
                        {"tail", Num(tail)},
                        {"text", Str(ValidUtf8(got->text))},
                        {"truncated", Bool(got->truncated)},
                        {"notice", Str(ValidUtf8(got->notice))}}));
}

HttpResponse Api(DashboardSource& src, const HttpRequest& req) {
  // "/api/jobs/web/cron" -> {"jobs", "web", "cron"}
  std::vector<std::string> parts =
      absl::StrSplit(req.path.substr(strlen("/api/")), '/', absl::SkipEmpty());
  const std::string ns = Arg(req, "namespace", "default");
  if (parts.size() == 1 && parts[0] == "cluster") return Cluster(src);
  if (parts.size() == 1 && parts[0] == "nodes") return Reply(src.ListNodes());
  if (!parts.empty() && parts[0] == "jobs") {
    if (parts.size() == 1) return Reply(src.ListJobs());
    if (parts.size() == 2) return Reply(src.JobStatus(ns, parts[1]));
    if (parts.size() == 3 && parts[2] == "cron") {
      return Reply(src.JobHistory(ns, parts[1]));
    }
  }
  if (parts.size() == 3 && parts[0] == "allocs" && parts[2] == "logs") {
    return Logs(src, parts[1], req);
  }
  return ErrorReply(absl::NotFoundError(
      absl::StrCat("no such API: ", req.path, " (see docs/dashboard.md)")));
}

}  // namespace

HttpResponse HandleRequest(DashboardSource& source, const HttpRequest& req) {
  if (absl::StartsWith(req.path, "/api/")) return Api(source, req);
  const Asset* a = FindAsset(req.path == "/" ? "/index.html" : req.path);
  if (a == nullptr) return {404, "text/plain", "not found\n"};
  return {200, std::string(a->content_type), std::string(a->body)};
}

}  // namespace berth::sched::dashboard
