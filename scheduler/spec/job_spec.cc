#include "scheduler/spec/job_spec.h"

#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "scheduler/cron/schedule.h"
#include "scheduler/spec/task_spec.h"
#include "scheduler/spec/yaml_fields.h"
#include "scheduler/spec/yaml_guard.h"
#include "yaml-cpp/yaml.h"

namespace berth::sched {
namespace {

using spec_internal::Error;
using spec_internal::MapReader;
using spec_internal::ReadBool;
using spec_internal::ReadDurationMs;
using spec_internal::ReadEnum;
using spec_internal::ReadInt;
using spec_internal::ReadString;
using spec_internal::Value;

constexpr int64_t kMaxMs = int64_t{365} * 24 * 3600 * 1000;

// Reads an optional int field into `set` when present.
template <typename Setter>
absl::Status OptInt(const MapReader& m, absl::string_view key, int64_t min,
                    int64_t max, Setter set) {
  auto f = m.Get(key);
  if (!f) return absl::OkStatus();
  absl::StatusOr<int64_t> n = ReadInt(*f, min, max);
  if (!n.ok()) return n.status();
  set(*n);
  return absl::OkStatus();
}

template <typename Setter>
absl::Status OptDuration(const MapReader& m, absl::string_view key,
                         Setter set) {
  auto f = m.Get(key);
  if (!f) return absl::OkStatus();
  absl::StatusOr<int64_t> d = ReadDurationMs(*f);
  if (!d.ok()) return d.status();
  if (*d > kMaxMs) return Error(*f, "must be at most 365 days");
  set(*d);
  return absl::OkStatus();
}

absl::Status ParseUpdate(const Value& v, jobpb::UpdatePolicy* out) {
  absl::StatusOr<MapReader> m =
      MapReader::Read(v, {"max_parallel", "min_healthy"});
  if (!m.ok()) return m.status();
  if (absl::Status s = OptInt(*m, "max_parallel", 1, 10000,
                              [&](int64_t n) { out->set_max_parallel(n); });
      !s.ok()) {
    return s;
  }
  return OptDuration(*m, "min_healthy",
                     [&](int64_t d) { out->set_min_healthy_ms(d); });
}

absl::Status ParseBatch(const Value& v, jobpb::BatchPolicy* out) {
  absl::StatusOr<MapReader> m = MapReader::Read(
      v, {"completions", "parallelism", "backoff_limit", "deadline"});
  if (!m.ok()) return m.status();
  absl::Status s = OptInt(*m, "completions", 1, 100000,
                          [&](int64_t n) { out->set_completions(n); });
  if (s.ok()) {
    s = OptInt(*m, "parallelism", 1, 100000,
               [&](int64_t n) { out->set_parallelism(n); });
  }
  if (s.ok()) {
    s = OptInt(*m, "backoff_limit", 0, 10000,
               [&](int64_t n) { out->set_backoff_limit(n); });
  }
  if (s.ok()) {
    s = OptDuration(*m, "deadline",
                    [&](int64_t d) { out->set_deadline_ms(d); });
  }
  if (!s.ok()) return s;
  if (out->parallelism() > out->completions()) {
    return Error(*m->Get("parallelism"),
                 absl::StrCat("must be <= completions (", out->completions(),
                              "), got ", out->parallelism()));
  }
  return absl::OkStatus();
}

absl::Status ParseHistory(const Value& v, jobpb::CronPolicy* out) {
  if (v.node.IsScalar()) {
    absl::StatusOr<int64_t> n = ReadInt(v, 0, 1000);
    if (!n.ok()) return n.status();
    out->set_successful_history_limit(*n);
    out->set_failed_history_limit(*n);
    return absl::OkStatus();
  }
  absl::StatusOr<MapReader> m = MapReader::Read(v, {"successful", "failed"});
  if (!m.ok()) return m.status();
  absl::Status s = OptInt(*m, "successful", 0, 1000, [&](int64_t n) {
    out->set_successful_history_limit(n);
  });
  if (!s.ok()) return s;
  return OptInt(*m, "failed", 0, 1000,
                [&](int64_t n) { out->set_failed_history_limit(n); });
}

absl::Status ParseCron(const Value& v, jobpb::CronPolicy* out) {
  absl::StatusOr<MapReader> m =
      MapReader::Read(v, {"schedule", "timezone", "concurrency", "catch_up",
                          "starting_deadline", "history", "suspend"});
  if (!m.ok()) return m.status();
  auto sched = m->Get("schedule");
  if (!sched) return m->Missing("schedule");
  absl::StatusOr<std::string> spec = ReadString(*sched);
  if (!spec.ok()) return spec.status();
  out->set_schedule(*spec);
  out->set_timezone("UTC");
  std::optional<Value> tz_at;
  if (auto f = m->Get("timezone")) {
    absl::StatusOr<std::string> tz = ReadString(*f);
    if (!tz.ok()) return tz.status();
    out->set_timezone(*tz);
    tz_at = *f;
  }
  absl::StatusOr<cron::Schedule> parsed =
      cron::Schedule::Parse(out->schedule(), out->timezone());
  if (!parsed.ok()) {
    // berth::cron reports zone and expression problems alike; attribute the
    // error to the timezone field when the expression alone is fine.
    bool zone_problem =
        tz_at.has_value() && cron::Schedule::Parse(out->schedule(), "").ok();
    return Error(zone_problem ? *tz_at : *sched, parsed.status().message());
  }
  out->set_concurrency(jobpb::CronPolicy::FORBID);
  if (auto f = m->Get("concurrency")) {
    auto c = ReadEnum<jobpb::CronPolicy::Concurrency>(
        *f, {{"allow", jobpb::CronPolicy::ALLOW},
             {"forbid", jobpb::CronPolicy::FORBID},
             {"replace", jobpb::CronPolicy::REPLACE}});
    if (!c.ok()) return c.status();
    out->set_concurrency(*c);
  }
  out->set_catch_up(jobpb::CronPolicy::NONE);
  if (auto f = m->Get("catch_up")) {
    auto c = ReadEnum<jobpb::CronPolicy::CatchUp>(
        *f, {{"none", jobpb::CronPolicy::NONE},
             {"latest", jobpb::CronPolicy::LATEST},
             {"all", jobpb::CronPolicy::ALL}});
    if (!c.ok()) return c.status();
    out->set_catch_up(*c);
  }
  if (absl::Status s =
          OptDuration(*m, "starting_deadline",
                      [&](int64_t d) { out->set_starting_deadline_ms(d); });
      !s.ok()) {
    return s;
  }
  out->set_successful_history_limit(3);
  out->set_failed_history_limit(1);
  if (auto f = m->Get("history")) {
    if (absl::Status s = ParseHistory(*f, out); !s.ok()) return s;
  }
  if (auto f = m->Get("suspend")) {
    absl::StatusOr<bool> b = ReadBool(*f);
    if (!b.ok()) return b.status();
    out->set_suspend(*b);
  }
  return absl::OkStatus();
}

// Rejects a kind-specific section on a job of another kind.
absl::Status CheckSectionKinds(const MapReader& m, jobpb::Kind kind,
                               absl::string_view kind_name) {
  struct Section {
    absl::string_view key;
    jobpb::Kind kind;
    absl::string_view owner;
  };
  static constexpr Section kSections[] = {
      {"replicas", jobpb::SERVICE, "service"},
      {"update", jobpb::SERVICE, "service"},
      {"batch", jobpb::BATCH, "batch"},
      {"cron", jobpb::CRON, "cron"},
  };
  for (const Section& s : kSections) {
    auto f = m.Get(s.key);
    if (f && kind != s.kind) {
      return Error(*f, absl::StrCat("only allowed for kind ", s.owner,
                                    " (this job is kind ", kind_name, ")"));
    }
  }
  return absl::OkStatus();
}

// Parses one document; `name` receives the job name as soon as it is known
// so that later errors can mention it.
absl::Status ParseJob(const YAML::Node& doc, jobpb::Job* job,
                      std::string* name) {
  Value root{doc, "", spec_internal::LineOf(doc, 1)};
  if (!doc.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", root.line, ": a job document must be a mapping"));
  }
  // Learn the name before checking keys so every error can mention it.
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == "job" &&
        it->second.IsScalar()) {
      *name = it->second.Scalar();
    }
  }
  absl::StatusOr<MapReader> m = MapReader::Read(
      root, {"job", "kind", "namespace", "priority", "replicas", "placement",
             "constraints", "task", "update", "batch", "cron"});
  if (!m.ok()) return m.status();
  auto name_v = m->Get("job");
  if (!name_v) return m->Missing("job");
  absl::StatusOr<std::string> n = ReadString(*name_v);
  if (!n.ok()) return n.status();
  *name = *n;
  if (!spec_internal::IsDnsLabel(*n)) {
    return Error(*name_v, absl::StrCat("\"", *n,
                                       "\" is not a valid name (lower-case "
                                       "letters, digits and '-', at most 63, "
                                       "not starting or ending with '-')"));
  }
  job->set_name(*n);
  job->set_spec_version(kJobSpecVersion);
  auto kind_v = m->Get("kind");
  if (!kind_v) return m->Missing("kind");
  absl::StatusOr<jobpb::Kind> kind =
      ReadEnum<jobpb::Kind>(*kind_v, {{"service", jobpb::SERVICE},
                                      {"batch", jobpb::BATCH},
                                      {"cron", jobpb::CRON}});
  if (!kind.ok()) return kind.status();
  job->set_kind(*kind);
  if (absl::Status s = CheckSectionKinds(*m, *kind, kind_v->node.Scalar());
      !s.ok()) {
    return s;
  }
  job->set_namespace_("default");
  if (auto f = m->Get("namespace")) {
    absl::StatusOr<std::string> ns = ReadString(*f);
    if (!ns.ok()) return ns.status();
    if (!spec_internal::IsDnsLabel(*ns)) {
      return Error(*f, absl::StrCat("\"", *ns, "\" is not a valid namespace"));
    }
    job->set_namespace_(*ns);
  }
  job->set_priority(*kind == jobpb::SERVICE ? 50 : 20);
  if (absl::Status s = OptInt(*m, "priority", 0, 100,
                              [&](int64_t p) { job->set_priority(p); });
      !s.ok()) {
    return s;
  }
  if (*kind == jobpb::SERVICE) {
    job->set_replicas(1);
    if (absl::Status s = OptInt(*m, "replicas", 0, 10000,
                                [&](int64_t r) { job->set_replicas(r); });
        !s.ok()) {
      return s;
    }
  }
  job->set_placement(*kind == jobpb::SERVICE ? jobpb::SPREAD : jobpb::BINPACK);
  if (auto f = m->Get("placement")) {
    auto p = ReadEnum<jobpb::PlacementMode>(
        *f, {{"spread", jobpb::SPREAD}, {"binpack", jobpb::BINPACK}});
    if (!p.ok()) return p.status();
    job->set_placement(*p);
  }
  if (auto f = m->Get("constraints")) {
    if (absl::Status s = spec_internal::ParseConstraints(*f, job); !s.ok()) {
      return s;
    }
  }
  auto task = m->Get("task");
  if (!task) return m->Missing("task");
  if (absl::Status s =
          spec_internal::ParseTask(*task, *kind, job->mutable_task());
      !s.ok()) {
    return s;
  }
  if (*kind == jobpb::SERVICE) {
    job->mutable_update()->set_max_parallel(1);
    job->mutable_update()->set_min_healthy_ms(10000);
    if (auto f = m->Get("update")) {
      if (absl::Status s = ParseUpdate(*f, job->mutable_update()); !s.ok()) {
        return s;
      }
    }
  }
  if (*kind == jobpb::BATCH) {
    jobpb::BatchPolicy* b = job->mutable_batch();
    b->set_completions(1);
    b->set_parallelism(1);
    b->set_backoff_limit(6);
    if (auto f = m->Get("batch")) {
      if (absl::Status s = ParseBatch(*f, b); !s.ok()) return s;
    }
  }
  if (*kind == jobpb::CRON) {
    auto f = m->Get("cron");
    if (!f) return m->Missing("cron");
    if (absl::Status s = ParseCron(*f, job->mutable_cron()); !s.ok()) return s;
  }
  job->set_spec_hash(JobSpecHash(*job));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<jobpb::Job>> ParseDocuments(
    absl::string_view yaml, absl::string_view filename) {
  if (absl::Status s = CheckYamlInput(yaml, filename); !s.ok()) return s;
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        filename, ": line ", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
  std::vector<jobpb::Job> jobs;
  std::set<std::pair<std::string, std::string>> seen;
  for (size_t i = 0; i < docs.size(); ++i) {
    if (docs[i].IsNull()) continue;  // a stray "---" or comment-only document
    jobpb::Job job;
    std::string name;
    absl::Status s = ParseJob(docs[i], &job, &name);
    std::string where = absl::StrCat(filename, ": document ", i + 1);
    if (!name.empty()) absl::StrAppend(&where, " (job \"", name, "\")");
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ", ", s.message()));
    }
    if (!seen.insert({job.namespace_(), job.name()}).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ", line ", spec_internal::LineOf(docs[i], 1),
                       ": job: job \"", job.namespace_(), "/", job.name(),
                       "\" is defined twice in this file"));
    }
    jobs.push_back(std::move(job));
  }
  if (jobs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(filename, ": no job documents found"));
  }
  return jobs;
}

}  // namespace

std::string JobSpecHash(const jobpb::Job& job) {
  jobpb::Job copy = job;
  copy.clear_spec_hash();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream sos(&bytes);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    copy.SerializeToCodedStream(&cos);
  }
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64 offset basis
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return absl::StrFormat("%016x", h);
}

absl::StatusOr<std::vector<jobpb::Job>> ParseJobSpecs(
    std::string_view yaml, std::string_view filename_std) {
  absl::string_view filename(filename_std.data(), filename_std.size());
  try {
    return ParseDocuments(absl::string_view(yaml.data(), yaml.size()),
                          filename);
  } catch (const std::exception& e) {
    // Defensive: the readers avoid throwing calls, but yaml-cpp may still
    // throw on paths we did not foresee; never let that cross the boundary.
    return absl::InternalError(
        absl::StrCat(filename, ": unexpected YAML error: ", e.what()));
  }
}

absl::StatusOr<std::vector<jobpb::Job>> ParseJobFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat(path, ": read error"));
  }
  return ParseJobSpecs(text.str(), path);
}

}  // namespace berth::sched
