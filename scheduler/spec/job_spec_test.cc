#include "scheduler/spec/job_spec.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace berth::sched {
namespace {

using ::testing::HasSubstr;

constexpr char kIssueExample[] = R"(job: web
kind: service
namespace: default
priority: 50
replicas: 3
placement: spread
constraints:
  - {attribute: label.zone, operator: "=", value: a}
  - {attribute: label.disk, operator: in, values: [ssd, nvme]}
task:
  command: ["/usr/bin/python3", "-m", "http.server", "${BERTH_PORT_HTTP}"]
  env: {GREETING: hello}
  resources: {cpu: 250m, memory: 128MiB, pids: 64}
  ports: [{name: http}]
  restart: {policy: on-failure, attempts: 3, backoff: 2s}
  health: {tcp: http, interval: 2s, timeout: 1s}
  kill_timeout: 5s
update: {max_parallel: 1, min_healthy: 5s}
---
job: crunch
kind: batch
batch: {completions: 10, parallelism: 4, backoff_limit: 6, deadline: 10m}
task: {command: ["/bin/sh", "-c", "work.sh"], resources: {cpu: 500m, memory: 64MiB}}
---
job: nightly-report
kind: cron
cron: {schedule: "0 30 2 * * *", timezone: Europe/Berlin, concurrency: forbid, catch_up: latest, starting_deadline: 10m, history: 20, suspend: false}
task: {command: ["/usr/local/bin/report"], resources: {cpu: 100m, memory: 64MiB}, timeout: 30m}
)";

jobpb::Job FromText(const std::string& text) {
  jobpb::Job job;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &job))
      << text;
  return job;
}

void ExpectJobEq(jobpb::Job got, jobpb::Job want) {
  EXPECT_EQ(got.spec_hash(), JobSpecHash(got));
  got.clear_spec_hash();
  std::string diff;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  EXPECT_TRUE(d.Compare(want, got)) << diff;
}

TEST(JobSpecTest, IssueExampleParsesToExpectedProtos) {
  absl::StatusOr<std::vector<jobpb::Job>> jobs =
      ParseJobSpecs(kIssueExample, "jobs.yaml");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 3u);
  ExpectJobEq(
      (*jobs)[0], FromText(R"pb(
        name: "web"
        namespace: "default"
        kind: SERVICE
        priority: 50
        replicas: 3
        placement: SPREAD
        spec_version: 1
        constraints { attribute: "label.zone" operator: EQ values: "a" }
        constraints {
          attribute: "label.disk"
          operator: IN
          values: "ssd"
          values: "nvme"
        }
        task {
          command: [
            "/usr/bin/python3",
            "-m",
            "http.server",
            "${BERTH_PORT_HTTP}"
          ]
          env { key: "GREETING" value: "hello" }
          resources { cpu_millicores: 250 memory_bytes: 134217728 pids: 64 }
          ports { name: "http" }
          restart { policy: ON_FAILURE attempts: 3 backoff_ms: 2000 }
          health { tcp_port: "http" interval_ms: 2000 timeout_ms: 1000 }
          kill_timeout_ms: 5000
        }
        update { max_parallel: 1 min_healthy_ms: 5000 }
      )pb"));
  ExpectJobEq((*jobs)[1], FromText(R"pb(
                name: "crunch"
                namespace: "default"
                kind: BATCH
                priority: 20
                placement: BINPACK
                spec_version: 1
                task {
                  command: [ "/bin/sh", "-c", "work.sh" ]
                  resources { cpu_millicores: 500 memory_bytes: 67108864 }
                  restart { policy: ON_FAILURE attempts: 3 backoff_ms: 1000 }
                  kill_timeout_ms: 5000
                }
                batch {
                  completions: 10
                  parallelism: 4
                  backoff_limit: 6
                  deadline_ms: 600000
                }
              )pb"));
  ExpectJobEq((*jobs)[2], FromText(R"pb(
                name: "nightly-report"
                namespace: "default"
                kind: CRON
                priority: 20
                placement: BINPACK
                spec_version: 1
                task {
                  command: "/usr/local/bin/report"
                  resources { cpu_millicores: 100 memory_bytes: 67108864 }
                  restart { policy: NEVER backoff_ms: 1000 }
                  kill_timeout_ms: 5000
                  timeout_ms: 1800000
                }
                cron {
                  schedule: "0 30 2 * * *"
                  timezone: "Europe/Berlin"
                  concurrency: FORBID
                  catch_up: LATEST
                  starting_deadline_ms: 600000
                  successful_history_limit: 20
                  failed_history_limit: 20
                  suspend: false
                }
              )pb"));
}

TEST(JobSpecTest, MinimalSpecsGetKindDefaults) {
  absl::StatusOr<std::vector<jobpb::Job>> jobs = ParseJobSpecs(R"(
job: s
kind: service
task: {command: [/bin/true]}
---
job: c
kind: cron
cron: {schedule: "@hourly"}
task: {command: [/bin/true]}
---
)",
                                                               "min.yaml");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 2u);
  ExpectJobEq((*jobs)[0], FromText(R"pb(
                name: "s"
                namespace: "default"
                kind: SERVICE
                priority: 50
                replicas: 1
                placement: SPREAD
                spec_version: 1
                task {
                  command: "/bin/true"
                  resources { cpu_millicores: 100 memory_bytes: 67108864 }
                  restart { policy: ALWAYS backoff_ms: 1000 }
                  kill_timeout_ms: 5000
                }
                update { max_parallel: 1 min_healthy_ms: 10000 }
              )pb"));
  ExpectJobEq((*jobs)[1], FromText(R"pb(
                name: "c"
                namespace: "default"
                kind: CRON
                priority: 20
                placement: BINPACK
                spec_version: 1
                task {
                  command: "/bin/true"
                  resources { cpu_millicores: 100 memory_bytes: 67108864 }
                  restart { policy: NEVER backoff_ms: 1000 }
                  kill_timeout_ms: 5000
                }
                cron {
                  schedule: "@hourly"
                  timezone: "UTC"
                  concurrency: FORBID
                  catch_up: NONE
                  successful_history_limit: 3
                  failed_history_limit: 1
                }
              )pb"));
}

TEST(JobSpecTest, ExecAndHttpHealthHistoryMapAndUser) {
  absl::StatusOr<std::vector<jobpb::Job>> jobs = ParseJobSpecs(R"(
job: api
kind: service
task:
  command: [/srv/api]
  ports: [{name: http}, {name: admin-port}]
  health: {http: {port: admin-port, path: /healthz}}
  user: nobody
---
job: api2
kind: service
task:
  command: [/srv/api]
  health: {exec: [/bin/check, --fast], interval: 1m, timeout: 5s}
---
job: c
kind: cron
cron: {schedule: "*/5 * * * *", history: {successful: 2, failed: 7}}
task: {command: [/bin/true]}
)",
                                                               "x.yaml");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  const jobpb::HealthCheck& h = (*jobs)[0].task().health();
  EXPECT_EQ(h.http().port(), "admin-port");
  EXPECT_EQ(h.http().path(), "/healthz");
  EXPECT_EQ(h.interval_ms(), 10000);
  EXPECT_EQ((*jobs)[0].task().user(), "nobody");
  EXPECT_FALSE((*jobs)[1].task().has_user());
  EXPECT_EQ((*jobs)[1].task().health().exec().argv_size(), 2);
  EXPECT_EQ((*jobs)[1].task().health().interval_ms(), 60000);
  EXPECT_EQ((*jobs)[2].cron().successful_history_limit(), 2);
  EXPECT_EQ((*jobs)[2].cron().failed_history_limit(), 7);
}

TEST(JobSpecTest, HashIsStableAndSensitive) {
  auto first = ParseJobSpecs(kIssueExample, "a.yaml");
  auto again = ParseJobSpecs(kIssueExample, "b.yaml");
  std::string changed_text =
      absl::StrReplaceAll(kIssueExample, {{"replicas: 3", "replicas: 4"}});
  auto changed = ParseJobSpecs(changed_text, "c.yaml");
  ASSERT_TRUE(first.ok() && again.ok() && changed.ok());
  EXPECT_EQ((*first)[0].spec_hash(), (*again)[0].spec_hash());
  EXPECT_NE((*first)[0].spec_hash(), (*changed)[0].spec_hash());
  EXPECT_EQ((*first)[1].spec_hash(), (*changed)[1].spec_hash());
  EXPECT_EQ((*first)[0].spec_hash().size(), 16u);
}

TEST(JobSpecTest, FileErrors) {
  absl::StatusOr<std::vector<jobpb::Job>> r =
      ParseJobFile("/nonexistent/jobs.yaml");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("/nonexistent/jobs.yaml"));
  std::string path = ::testing::TempDir() + "/jobspec_test.yaml";
  {
    std::ofstream out(path);
    out << kIssueExample;
  }
  r = ParseJobFile(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->size(), 3u);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace berth::sched
