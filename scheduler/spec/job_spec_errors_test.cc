// Each bad spec must be rejected with a message naming the document, the
// line, the field path and the reason.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/spec/job_spec.h"

namespace berth::sched {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct BadSpec {
  const char* yaml;
  int line;
  const char* field;
  const char* reason;
};

// Service boilerplate: line 1 "job: j", line 2 "kind: service", the
// case's own lines from line 3.
std::string Svc(const std::string& rest) {
  return "job: j\nkind: service\n" + rest;
}

TEST(JobSpecErrorsTest, TableOfBadSpecs) {
  const std::string kTask = "task: {command: [/bin/true]}\n";
  const std::vector<std::pair<std::string, BadSpec>> kCases = {
      // Top level.
      {"kind: service\n" + kTask, {"", 1, "job", "is required"}},
      {"job: Web\nkind: service\n" + kTask,
       {"", 1, "job", "\"Web\" is not a valid name"}},
      {"job: -web\nkind: service\n" + kTask,
       {"", 1, "job", "not a valid name"}},
      {"job: j\n" + kTask, {"", 1, "kind", "is required"}},
      {"job: j\nkind: daemon\n" + kTask,
       {"", 2, "kind", "must be one of service, batch, cron, got \"daemon\""}},
      {Svc("namespce: x\n" + kTask),
       {"", 3, "namespce", "unknown field (did you mean \"namespace\"?)"}},
      {Svc("frobnicate: 1\n" + kTask), {"", 3, "frobnicate", "unknown field"}},
      {Svc("namespace: Prod_1\n" + kTask),
       {"", 3, "namespace", "not a valid namespace"}},
      {Svc("priority: 101\n" + kTask),
       {"", 3, "priority", "must be <= 100, got 101"}},
      {Svc("priority: high\n" + kTask),
       {"", 3, "priority", "must be an integer, got \"high\""}},
      {Svc("replicas: -1\n" + kTask),
       {"", 3, "replicas", "must be >= 0, got -1"}},
      {Svc("placement: random\n" + kTask),
       {"", 3, "placement", "must be one of spread, binpack"}},
      {Svc(""), {"", 1, "task", "is required"}},
      {Svc("task: [a]\n"), {"", 3, "task", "must be a mapping, got a list"}},
      {Svc("job: k\n" + kTask), {"", 3, "job", "duplicate field"}},
      // Kind-specific sections.
      {"job: j\nkind: batch\nreplicas: 3\n" + kTask,
       {"", 3, "replicas",
        "only allowed for kind service (this job is kind "
        "batch)"}},
      {Svc("batch: {completions: 2}\n" + kTask),
       {"", 3, "batch", "only allowed for kind batch"}},
      {Svc("cron: {schedule: \"@daily\"}\n" + kTask),
       {"", 3, "cron", "only allowed for kind cron"}},
      {"job: j\nkind: cron\nupdate: {max_parallel: 2}\n" + kTask,
       {"", 3, "update", "only allowed for kind service"}},
      {"job: j\nkind: cron\n" + kTask, {"", 1, "cron", "is required"}},
      // Batch.
      {"job: crunch\nkind: batch\nbatch:\n  parallelism: 0\n" + kTask,
       {"", 4, "batch.parallelism", "must be >= 1, got 0"}},
      {"job: j\nkind: batch\nbatch: {completions: 2, parallelism: 3}\n" + kTask,
       {"", 3, "batch.parallelism", "must be <= completions (2), got 3"}},
      {"job: j\nkind: batch\nbatch: {deadline: 10 minutes}\n" + kTask,
       {"", 3, "batch.deadline", "unknown unit at \" minutes\""}},
      {"job: j\nkind: batch\nbatch: {retries: 3}\n" + kTask,
       {"", 3, "batch.retries", "unknown field"}},
      // Cron.
      {"job: j\nkind: cron\ncron:\n  schedule: \"61 * * * *\"\n" + kTask,
       {"", 4, "cron.schedule", "minute"}},
      {"job: j\nkind: cron\ncron:\n  schedule: \"@daily\"\n"
       "  timezone: Mars/Olympus\n" +
           kTask,
       {"", 5, "cron.timezone", "Mars/Olympus"}},
      {"job: j\nkind: cron\ncron: {schedule: \"@daily\", concurrency: "
       "never}\n" +
           kTask,
       {"", 3, "cron.concurrency", "must be one of allow, forbid, replace"}},
      {"job: j\nkind: cron\ncron: {schedule: \"@daily\", catch_up: some}\n" +
           kTask,
       {"", 3, "cron.catch_up", "must be one of none, latest, all"}},
      {"job: j\nkind: cron\ncron: {schedule: \"@daily\", suspend: yes}\n" +
           kTask,
       {"", 3, "cron.suspend", "must be true or false, got \"yes\""}},
      {"job: j\nkind: cron\ncron:\n  schedule: \"0 0 30 2 *\"\n" + kTask,
       {"", 4, "cron.schedule", "never fires"}},
      {"job: j\nkind: cron\ncron: {schedule: \"@daily\", starting_deadline: "
       "-5s}\n" +
           kTask,
       {"", 3, "cron.starting_deadline", "-5s"}},
      {"job: j\nkind: cron\ncron: {schedule: \"@daily\", history: {ok: 1}}\n" +
           kTask,
       {"", 3, "cron.history.ok", "unknown field"}},
      // Task.
      {Svc("task: {command: []}\n"),
       {"", 3, "task.command", "command must not be empty"}},
      {Svc("task: {command: \"/bin/true\"}\n"),
       {"", 3, "task.command", "must be a list, got a scalar"}},
      {Svc("task: {command: [\"\"]}\n"),
       {"", 3, "task.command", "(the program) must not be empty"}},
      {Svc("task: {command: [a], comand: [b]}\n"),
       {"", 3, "task.comand", "did you mean \"command\""}},
      {Svc("task:\n  command: [a]\n  env: {1BAD: x}\n"),
       {"", 5, "task.env.1BAD", "not a valid environment variable name"}},
      {Svc("task:\n  command: [a]\n  env: {BERTH_X: x}\n"),
       {"", 5, "task.env.BERTH_X", "BERTH_ prefix is reserved"}},
      {Svc("task:\n  command: [a]\n  env:\n"),
       {"", 5, "task.env", "must be a mapping, got empty"}},
      {Svc("task:\n  command: [a]\n  env: {A: [1]}\n"),
       {"", 5, "task.env.A", "must be a scalar, got a list"}},
      {Svc("task:\n  command: [a]\n  resources:\n    cpu: 12 cores\n"),
       {"", 6, "task.resources.cpu", "unknown unit \" cores\""}},
      {Svc("task:\n  command: [a]\n  resources:\n    memory: 12 MB\n"),
       {"", 6, "task.resources.memory", "unknown unit \" MB\""}},
      {Svc("task:\n  command: [a]\n  resources:\n    memory: 1.5.3GiB\n"),
       {"", 6, "task.resources.memory", "unknown unit"}},
      {Svc("task:\n  command: [a]\n  resources:\n    memory: 100KiB\n"),
       {"", 6, "task.resources.memory", "must be at least 1MiB"}},
      {Svc("task:\n  command: [a]\n  resources:\n    cpu: 0m\n"),
       {"", 6, "task.resources.cpu", "must be at least 1m"}},
      {Svc("task:\n  command: [a]\n  resources:\n    pids: 0\n"),
       {"", 6, "task.resources.pids", "must be >= 1, got 0"}},
      {Svc("task:\n  command: [a]\n  resources: {gpu: 1}\n"),
       {"", 5, "task.resources.gpu", "unknown field"}},
      {Svc("task:\n  command: [a]\n  ports: [{name: http}, {name: http}]\n"),
       {"", 5, "task.ports[1].name", "duplicate port name \"http\""}},
      {Svc("task:\n  command: [a]\n  ports: [{name: HTTP}]\n"),
       {"", 5, "task.ports[0].name", "is not a port name"}},
      {Svc("task:\n  command: [a]\n  ports: [{}]\n"),
       {"", 5, "task.ports[0].name", "is required"}},
      {Svc("task:\n  command: [a]\n  restart: {policy: never}\n"),
       {"", 5, "task.restart.policy", "use kind batch"}},
      {"job: j\nkind: batch\ntask:\n  command: [a]\n"
       "  restart: {policy: always}\n",
       {"", 5, "task.restart.policy", "always restarts never completes"}},
      {"job: j\nkind: batch\ntask:\n  command: [a]\n"
       "  restart: {policy: never, attempts: 2}\n",
       {"", 5, "task.restart.attempts", "must be 0 when policy is never"}},
      {Svc("task:\n  command: [a]\n  restart: {backoff: 2}\n"),
       {"", 5, "task.restart.backoff", "missing unit"}},
      {Svc("task:\n  command: [a]\n  health: {tcp: http}\n"),
       {"", 5, "task.health.tcp", "port \"http\" is not declared"}},
      {Svc("task:\n  command: [a]\n  ports: [{name: http}]\n"
           "  health: {tcp: http, exec: [x]}\n"),
       {"", 6, "task.health", "exactly one of tcp, exec or http"}},
      {Svc("task:\n  command: [a]\n  ports: [{name: http}]\n"
           "  health: {http: {port: http, path: x}}\n"),
       {"", 6, "task.health.http.path", "must start with /"}},
      {Svc("task:\n  command: [a]\n  ports: [{name: http}]\n"
           "  health: {tcp: http, interval: 1s, timeout: 2s}\n"),
       {"", 6, "task.health.timeout", "must not exceed interval"}},
      {"job: j\nkind: batch\ntask:\n  command: [a]\n  health: {exec: [x]}\n",
       {"", 5, "task.health",
        "only for kind service (this job is kind "
        "batch)"}},
      {Svc("task:\n  command: [a]\n  timeout: 5m\n"),
       {"", 5, "task.timeout", "only for kinds batch and cron"}},
      {Svc("task:\n  command: [a]\n  kill_timeout: 2h\n"),
       {"", 5, "task.kill_timeout", "must be at most 1h"}},
      {Svc("task:\n  command: [a]\n  user: \"Bad User\"\n"),
       {"", 5, "task.user", "not a user name"}},
      // Constraints.
      {Svc("constraints:\n  - {attribute: zone, operator: \"=\", value: a}\n" +
           kTask),
       {"", 4, "constraints[0].attribute", "use label.<key> or node.name"}},
      {Svc("constraints:\n  - {attribute: label.zone, operator: \"~\", "
           "value: a}\n" +
           kTask),
       {"", 4, "constraints[0].operator",
        "must be one of =, !=, in, not_in, "
        "exists"}},
      {Svc("constraints:\n  - {attribute: label.zone, operator: in, value: "
           "a}\n" +
           kTask),
       {"", 4, "constraints[0].value", "takes values: [..]"}},
      {Svc("constraints:\n  - {attribute: label.zone, operator: \"=\"}\n" +
           kTask),
       {"", 4, "constraints[0].value", "is required"}},
      {Svc("constraints:\n  - {attribute: label.zone, operator: not_in, "
           "values: []}\n" +
           kTask),
       {"", 4, "constraints[0].values", "must not be empty"}},
      {Svc("constraints:\n  - {attribute: label.gpu, operator: exists, "
           "value: x}\n" +
           kTask),
       {"", 4, "constraints[0].value", "takes no value"}},
      // Update.
      {Svc("update: {max_parallel: 0}\n" + kTask),
       {"", 3, "update.max_parallel", "must be >= 1, got 0"}},
      {Svc("update: {min_healthy: soon}\n" + kTask),
       {"", 3, "update.min_healthy", "must start with a digit"}},
  };
  ASSERT_GE(kCases.size(), 40u);
  for (const auto& [yaml, want] : kCases) {
    SCOPED_TRACE(yaml);
    absl::StatusOr<std::vector<jobpb::Job>> r = ParseJobSpecs(yaml, "j.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string msg(r.status().message());
    EXPECT_THAT(msg, StartsWith("j.yaml: document 1"));
    EXPECT_THAT(msg, HasSubstr(absl::StrCat(", line ", want.line, ": ",
                                            want.field, ": ")));
    EXPECT_THAT(msg, HasSubstr(want.reason));
  }
}

TEST(JobSpecErrorsTest, NamesDocumentIndexAndJob) {
  absl::StatusOr<std::vector<jobpb::Job>> r = ParseJobSpecs(
      "job: ok\nkind: batch\ntask: {command: [a]}\n---\n"
      "job: crunch\nkind: batch\nbatch:\n  parallelism: 0\n"
      "task: {command: [a]}\n",
      "jobs.yaml");
  ASSERT_FALSE(r.ok());
  // Lines count from the top of the file, not of the document.
  EXPECT_EQ(std::string(r.status().message()),
            "jobs.yaml: document 2 (job \"crunch\"), line 8: "
            "batch.parallelism: must be >= 1, got 0");
}

TEST(JobSpecErrorsTest, UnknownTopLevelFieldStillNamesTheJob) {
  absl::StatusOr<std::vector<jobpb::Job>> r = ParseJobSpecs(
      "job: web\nkind: service\nnamespce: x\ntask: {command: [a]}\n",
      "jobs.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(std::string(r.status().message()),
            "jobs.yaml: document 1 (job \"web\"), line 3: namespce: unknown "
            "field (did you mean \"namespace\"?)");
}

TEST(JobSpecErrorsTest, FileLevelErrors) {
  struct Case {
    const char* yaml;
    const char* want;
  };
  const Case kCases[] = {
      {"", "f.yaml: no job documents found"},
      {"---\n---\n", "f.yaml: no job documents found"},
      {"job: [unclosed\n", "f.yaml: line 2: invalid YAML"},
      {"- a\n- b\n",
       "f.yaml: document 1, line 1: a job document must be a "
       "mapping"},
      {"job: a\nkind: batch\ntask: {command: [x]}\n---\n"
       "job: a\nkind: cron\ncron: {schedule: \"@daily\"}\n"
       "task: {command: [x]}\n",
       "is defined twice in this file"},
  };
  for (const Case& c : kCases) {
    absl::StatusOr<std::vector<jobpb::Job>> r = ParseJobSpecs(c.yaml, "f.yaml");
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_THAT(r.status().message(), HasSubstr(c.want)) << c.yaml;
  }
}

}  // namespace
}  // namespace berth::sched
