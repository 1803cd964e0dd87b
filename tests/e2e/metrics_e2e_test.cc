// End-to-end test of the Prometheus endpoints (issue #17 item 2): three
// real berth-lockd replicas, a berth-scheduler and a berth-agent (process
// runtime), each with --metrics-listen on 127.0.0.1, scraped over HTTP.
//
// Every scrape is checked by a parser written here from the text format's
// specification, independent of common/metrics: every sample line is
// `name{labels} value`, every family has HELP and TYPE before its samples,
// histogram buckets are cumulative and +Inf equals _count. When Debian's
// promtool is installed it checks the scrapes too. Waits are condition
// polls with deadlines.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/metrics/http_get.h"
#include "gtest/gtest.h"
#include "tests/e2e/agent_harness.h"
#include "tests/e2e/lockd_harness.h"
#include "tests/e2e/scheduler_harness.h"

namespace berth::e2e {
namespace {

struct ParsedSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Parsed {
  std::map<std::string, std::string> types;  // family -> type
  std::set<std::string> helps;
  std::vector<ParsedSample> samples;
  std::vector<std::string> errors;

  // The value of an unlabelled sample, or of the one whose labels include
  // `labels`.
  std::optional<double> Value(
      const std::string& name,
      const std::map<std::string, std::string>& labels = {}) const {
    for (const ParsedSample& s : samples) {
      if (s.name != name) continue;
      bool match = true;
      for (const auto& [k, v] : labels) {
        auto it = s.labels.find(k);
        match = match && it != s.labels.end() && it->second == v;
      }
      if (match) return s.value;
    }
    return std::nullopt;
  }
};

bool ParseValue(const std::string& text, double* out) {
  if (text == "NaN") return *out = NAN, true;
  if (text == "+Inf") return *out = INFINITY, true;
  if (text == "-Inf") return *out = -INFINITY, true;
  char* end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

// {a="x",b="y\"z"} -> labels; false on any syntax error.
bool ParseLabels(const std::string& s,
                 std::map<std::string, std::string>* out) {
  size_t i = 0;
  static const std::regex kLabelName("[a-zA-Z_][a-zA-Z0-9_]*");
  while (i < s.size()) {
    size_t eq = s.find('=', i);
    if (eq == std::string::npos) return false;
    std::string name = s.substr(i, eq - i);
    if (!std::regex_match(name, kLabelName)) return false;
    if (eq + 1 >= s.size() || s[eq + 1] != '"') return false;
    std::string value;
    size_t j = eq + 2;
    for (;; ++j) {
      if (j >= s.size()) return false;
      if (s[j] == '"') break;
      if (s[j] == '\\') {
        if (++j >= s.size()) return false;
        if (s[j] == 'n') {
          value += '\n';
        } else if (s[j] == '\\' || s[j] == '"') {
          value += s[j];
        } else {
          return false;
        }
        continue;
      }
      if (s[j] == '\n') return false;
      value += s[j];
    }
    if (!out->emplace(name, value).second) return false;
    i = j + 1;
    if (i < s.size()) {
      if (s[i] != ',') return false;
      ++i;
    }
  }
  return true;
}

Parsed ParseExposition(const std::string& body) {
  Parsed p;
  auto err = [&](const std::string& line, const std::string& why) {
    p.errors.push_back(absl::StrCat(why, ": ", line));
  };
  if (!body.empty() && body.back() != '\n') err("(end)", "no final newline");
  static const std::regex kHelp("# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)");
  static const std::regex kType(
      "# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) "
      "(counter|gauge|histogram|summary|untyped)");
  static const std::regex kSample(
      "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})? ([^ ]+)");
  const std::vector<std::string> lines =
      absl::StrSplit(body, '\n', absl::SkipEmpty());
  for (const std::string& line : lines) {
    std::smatch m;
    if (absl::StartsWith(line, "#")) {
      if (std::regex_match(line, m, kHelp)) {
        if (!p.helps.insert(m[1]).second) err(line, "second HELP");
      } else if (std::regex_match(line, m, kType)) {
        if (!p.types.emplace(m[1], m[2]).second) err(line, "second TYPE");
      } else {
        err(line, "unknown comment");
      }
      continue;
    }
    if (!std::regex_match(line, m, kSample)) {
      err(line, "not `name{labels} value`");
      continue;
    }
    ParsedSample s;
    s.name = m[1];
    if (m[2].matched && !ParseLabels(m[3], &s.labels)) err(line, "bad labels");
    if (!ParseValue(m[4], &s.value)) err(line, "bad value");
    // Its family: the name itself, or a histogram's name plus a suffix.
    std::string family = s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string base = s.name.substr(
          0, s.name.size() - std::min(s.name.size(), strlen(suffix)));
      if (absl::EndsWith(s.name, suffix) && p.types.count(base) &&
          p.types[base] == "histogram") {
        family = base;
      }
    }
    if (!p.types.count(family)) err(line, "sample before its TYPE");
    if (!p.helps.count(family)) err(line, "sample before its HELP");
    if (p.types.count(family) && p.types[family] == "histogram" &&
        family == s.name) {
      err(line, "histogram sample without _bucket/_sum/_count");
    }
    p.samples.push_back(std::move(s));
  }
  // Histograms: per label set (without le), buckets in increasing le with
  // non-decreasing counts, a +Inf bucket, and +Inf == _count.
  for (const auto& [family, type] : p.types) {
    if (type != "histogram") continue;
    std::map<std::map<std::string, std::string>,
             std::vector<std::pair<double, double>>>
        buckets;
    std::map<std::map<std::string, std::string>, double> counts;
    for (const ParsedSample& s : p.samples) {
      std::map<std::string, std::string> key = s.labels;
      if (s.name == family + "_bucket") {
        double le = 0;
        if (!key.count("le") || !ParseValue(key["le"], &le)) {
          err(s.name, "bucket without a numeric le");
          continue;
        }
        key.erase("le");
        buckets[key].emplace_back(le, s.value);
      } else if (s.name == family + "_count") {
        counts[key] = s.value;
      }
    }
    for (const auto& [key, bs] : buckets) {
      for (size_t i = 1; i < bs.size(); ++i) {
        if (!(bs[i - 1].first < bs[i].first)) err(family, "le not increasing");
        if (bs[i - 1].second > bs[i].second) err(family, "not cumulative");
      }
      if (bs.empty() || !std::isinf(bs.back().first)) {
        err(family, "no +Inf bucket");
      } else if (!counts.count(key) || counts[key] != bs.back().second) {
        err(family, "+Inf bucket != _count");
      }
    }
  }
  for (const std::string& f : p.helps) {
    if (!p.types.count(f)) err(f, "HELP without TYPE");
  }
  return p;
}

// promtool (Debian's `prometheus` package) when installed; the build and
// the test do not need it.
void PromtoolCheck(const std::string& body, const std::string& dir) {
  const char* promtool = "/usr/bin/promtool";
  if (access(promtool, X_OK) != 0) return;
  std::string file = absl::StrCat(dir, "/scrape.txt");
  std::ofstream(file) << body;
  std::string cmd = absl::StrCat(promtool, " check metrics < ", file, " 2>&1");
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof(buf), f) != nullptr) out += buf;
  EXPECT_EQ(pclose(f), 0) << out;
}

class MetricsE2ETest : public ::testing::Test {
 protected:
  absl::StatusOr<Parsed> Scrape(const std::string& address) {
    absl::StatusOr<metrics::HttpReply> r =
        metrics::HttpGet(address, "/metrics");
    if (!r.ok()) return r.status();
    if (r->status != 200) {
      return absl::InternalError(absl::StrCat("HTTP ", r->status));
    }
    last_body_ = r->body;
    return ParseExposition(r->body);
  }

  // Scrapes `address` until `cond` holds on a well-formed answer.
  Parsed ScrapeUntil(const std::string& address,
                     const std::function<bool(const Parsed&)>& cond,
                     const std::string& what) {
    Parsed last;
    bool ok = WaitFor([&] {
      absl::StatusOr<Parsed> p = Scrape(address);
      if (!p.ok()) return false;
      last = *p;
      return cond(last);
    });
    EXPECT_TRUE(ok) << what << " never held at " << address << "; last:\n"
                    << last_body_;
    EXPECT_TRUE(last.errors.empty())
        << address << ": " << absl::StrJoin(last.errors, "\n");
    PromtoolCheck(last_body_, lockd_->dir());
    return last;
  }

  std::unique_ptr<LockdCluster> lockd_;
  std::string last_body_;
};

TEST_F(MetricsE2ETest, EveryDaemonServesWellFormedMetrics) {
  lockd_ = std::make_unique<LockdCluster>(3);
  std::map<uint64_t, std::string> lockd_metrics;
  for (uint64_t id = 1; id <= 3; ++id) {
    lockd_metrics[id] = lockd_->NextAddress();
    lockd_->SetReplicaFlags(
        id, {absl::StrCat("--metrics-listen=", lockd_metrics[id])});
  }
  ASSERT_TRUE(lockd_->StartAll().ok());
  ASSERT_NE(lockd_->AwaitLeader(), 0u);

  const std::string sched_metrics = lockd_->NextAddress();
  SchedulerSet scheds(
      lockd_.get(), 1,
      {"--metrics-listen", sched_metrics, "--session-ttl-s", "3"});
  ASSERT_TRUE(scheds.StartAll().ok());

  const std::string agent_metrics = lockd_->NextAddress();
  std::string data = absl::StrCat(lockd_->dir(), "/agent-n1");
  std::filesystem::create_directories(data);
  AgentProcess agent(
      "n1", lockd_->EndpointsFlag(), lockd_->NextAddress(), data, "process",
      {"--metrics-listen", agent_metrics, "--cpu", "1000m", "--memory", "1GiB",
       "--usage-interval-s", "2", "--stop-tasks-on-exit"});
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_GE(scheds.AwaitLeader(absl::Seconds(30)), 0);

  // A cron job: it makes proposals, a lease, cron claims and launches.
  ASSERT_EQ(scheds
                .Submit(R"(
job: tick
kind: cron
cron:
  schedule: "*/2 * * * * *"
  concurrency: allow
task:
  command: ["/bin/sh", "-c", "true"]
  resources: {cpu: 10m, memory: 8MiB}
  kill_timeout: 1s
)")
                .exit_code,
            0);

  // Exactly one replica says it leads, on a scrape of all three in which
  // they agree on the term.
  ASSERT_TRUE(WaitFor([&] {
    int leaders = 0;
    std::set<double> terms;
    for (const auto& [id, addr] : lockd_metrics) {
      absl::StatusOr<Parsed> p = Scrape(addr);
      if (!p.ok() || !p->errors.empty()) return false;
      std::optional<double> l = p->Value("berth_lockd_is_leader");
      std::optional<double> t = p->Value("berth_lockd_raft_term");
      if (!l || !t) return false;
      leaders += *l == 1;
      terms.insert(*t);
    }
    return leaders == 1 && terms.size() == 1;
  })) << last_body_;

  for (const auto& [id, addr] : lockd_metrics) {
    Parsed p = ScrapeUntil(
        addr,
        [](const Parsed& p) {
          auto changes = p.Value("berth_lockd_leader_changes_total");
          auto applied =
              p.Value("berth_lockd_apply_batch_duration_seconds_count");
          return changes && *changes >= 1 && applied && *applied >= 1;
        },
        "a leader seen and an entry applied");
    for (const char* name :
         {"berth_lockd_raft_term", "berth_lockd_raft_commit_index",
          "berth_lockd_raft_thread_stalls_total",
          "berth_lockd_proposals_pending", "berth_lockd_db_size_bytes",
          "berth_lockd_watchers", "berth_lockd_leases",
          "berth_lockd_locks_held", "berth_lockd_lock_waiters"}) {
      EXPECT_TRUE(p.Value(name).has_value()) << name << " at " << addr;
    }
    EXPECT_EQ(p.types["berth_lockd_proposal_duration_seconds"], "histogram");
    EXPECT_EQ(p.types["berth_lockd_leader_changes_total"], "counter");
    EXPECT_GT(*p.Value("berth_lockd_db_size_bytes"), 0);
  }
  // The leader proposed the scheduler's writes and holds its session lease.
  uint64_t leader = lockd_->AwaitLeader();
  ASSERT_NE(leader, 0u);
  ScrapeUntil(
      lockd_metrics[leader],
      [](const Parsed& p) {
        auto proposals = p.Value("berth_lockd_proposal_duration_seconds_count");
        auto leases = p.Value("berth_lockd_leases");
        return proposals && *proposals >= 1 && leases && *leases >= 1;
      },
      "proposals timed and a lease granted on the leader");

  Parsed s = ScrapeUntil(
      sched_metrics,
      [](const Parsed& p) {
        auto leader = p.Value("berth_scheduler_is_leader");
        auto passes = p.Value("berth_scheduler_pass_duration_seconds_count");
        auto lag = p.Value("berth_scheduler_cron_lag_seconds_count");
        return leader && *leader == 1 && passes && *passes >= 1 && lag &&
               *lag >= 1;
      },
      "the scheduler leads, has passed and claimed a cron run");
  EXPECT_TRUE(s.Value("berth_scheduler_allocations_pending").has_value());
  EXPECT_TRUE(s.Value("berth_scheduler_allocations_placed").has_value());
  EXPECT_GE(*s.Value("berth_scheduler_passes_total"),
            *s.Value("berth_scheduler_pass_duration_seconds_count"));

  Parsed a = ScrapeUntil(
      agent_metrics,
      [](const Parsed& p) {
        auto launches =
            p.Value("berth_agent_task_launch_duration_seconds_count");
        return launches && *launches >= 1;
      },
      "the agent launched a task");
  for (const char* state : {"pending", "starting", "running", "exited",
                            "failed", "oom_killed", "killed", "lost"}) {
    EXPECT_TRUE(a.Value("berth_agent_tasks", {{"state", state}}).has_value())
        << state;
  }
  EXPECT_EQ(*a.Value("berth_agent_oom_kills_total"), 0);

  // The other paths of every endpoint.
  for (const std::string& addr :
       {lockd_metrics[1], sched_metrics, agent_metrics}) {
    auto h = metrics::HttpGet(addr, "/healthz");
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->status, 200);
    auto n = metrics::HttpGet(addr, "/nothing-here");
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(n->status, 404);
  }
  agent.Term();
}

// The parser above must reject what it claims to: checked on bad input.
TEST(ExpositionParser, RejectsMalformedInput) {
  EXPECT_TRUE(
      ParseExposition("# HELP a A.\n# TYPE a gauge\na 1\n").errors.empty());
  EXPECT_FALSE(ParseExposition("a 1\n").errors.empty());  // no HELP/TYPE
  EXPECT_FALSE(ParseExposition("# HELP a A.\n# TYPE a gauge\na{b=\"c} 1\n")
                   .errors.empty());
  EXPECT_FALSE(
      ParseExposition("# HELP a A.\n# TYPE a gauge\na one\n").errors.empty());
  const std::string h = "# HELP h H.\n# TYPE h histogram\n";
  EXPECT_TRUE(ParseExposition(h +
                              "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                              "h_sum 3\nh_count 2\n")
                  .errors.empty());
  EXPECT_FALSE(ParseExposition(h +
                               "h_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\n"
                               "h_sum 3\nh_count 2\n")
                   .errors.empty());  // not cumulative
  EXPECT_FALSE(ParseExposition(h +
                               "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                               "h_sum 3\nh_count 5\n")
                   .errors.empty());  // +Inf != count
  EXPECT_FALSE(ParseExposition(h + "h_bucket{le=\"1\"} 1\nh_sum 3\nh_count 1\n")
                   .errors.empty());  // no +Inf
}

}  // namespace
}  // namespace berth::e2e
