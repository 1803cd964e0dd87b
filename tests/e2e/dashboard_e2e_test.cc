// The web dashboard in a real browser (issue #17 item 3): a real lockd, two
// real schedulers serving --http-listen, a real agent, a job submitted
// through the berth CLI, and Debian's headless Chromium loading the page
// until the page's script has rendered the job as running. The server
// sends the tables empty, so what is checked was drawn by app.js from
// /api/*. Screenshots go to $BERTH_DASHBOARD_SCREENSHOTS (a directory) when
// set, else beside the test's logs.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster_test.h"
#include "tests/e2e/subprocess.h"

namespace berth::e2e {
namespace {

constexpr char kChromium[] = "/usr/bin/chromium";

class DashboardE2ETest : public ProcessClusterTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(kChromium, X_OK), 0)
        << kChromium
        << " is missing: the dashboard test needs Debian's chromium package; "
           "run scripts/setup.sh";
    ASSERT_NO_FATAL_FAILURE(StartCluster(1, {"--http-listen", "127.0.0.1:0"}));
    ASSERT_NO_FATAL_FAILURE(StartAgent("n1"));
    const char* dir = std::getenv("BERTH_DASHBOARD_SCREENSHOTS");
    shots_ = dir != nullptr ? dir : lockd_->dir();
    std::filesystem::create_directories(shots_);
  }

  // The URL scheduler i printed ("dashboard at http://...").
  std::string Url(int i) {
    std::string url;
    WaitFor([&] {
      const std::string err = scheds_->Stderr(i);
      const size_t at = err.find("dashboard at ");
      if (at == std::string::npos) return false;
      const size_t end = err.find('\n', at);
      if (end == std::string::npos) return false;
      url = err.substr(at + strlen("dashboard at "),
                       end - at - strlen("dashboard at "));
      return true;
    });
    return url;
  }

  // Headless Chromium: loads `url`, lets the page's script run for a few
  // seconds of virtual time (two polls), then prints the DOM (or, with
  // `screenshot`, saves a PNG there instead).
  RunResult Chromium(const std::string& url, const std::string& screenshot) {
    std::vector<std::string> argv = {
        kChromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        absl::StrCat("--user-data-dir=", lockd_->dir(), "/chromium-profile"),
        "--virtual-time-budget=3000"};
    if (screenshot.empty()) {
      argv.push_back("--dump-dom");
    } else {
      argv.push_back(absl::StrCat("--screenshot=", screenshot));
      argv.push_back("--window-size=1280,900");
    }
    argv.push_back(url);
    return RunToExit(argv, absl::StrCat(lockd_->dir(), "/chromium-", ++runs_),
                     absl::Seconds(20), {{"HOME", lockd_->dir()}});
  }

  // Polls the page until `pred` holds for its DOM; returns the last DOM.
  std::string DomUntil(const std::string& url,
                       const std::function<bool(const std::string&)>& pred,
                       absl::Duration timeout = absl::Seconds(25)) {
    std::string dom;
    WaitFor(
        [&] {
          RunResult r = Chromium(url, "");
          dom = r.out;
          return r.exit_code == 0 && pred(dom);
        },
        timeout);
    return dom;
  }

  // The opening tag of the element carrying `attr`, "" if none.
  static std::string TagWith(const std::string& dom, const std::string& attr) {
    const size_t at = dom.find(attr);
    if (at == std::string::npos) return "";
    const size_t open = dom.rfind('<', at);
    const size_t close = dom.find('>', at);
    return dom.substr(open, close - open + 1);
  }

  void Screenshot(const std::string& url, const std::string& name) {
    const std::string file = absl::StrCat(shots_, "/", name);
    std::filesystem::remove(file);
    RunResult r = Chromium(url, file);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::error_code ec;
    EXPECT_GT(std::filesystem::file_size(file, ec), 1000u) << file;
  }

  std::string shots_;
  int runs_ = 0;
};

TEST_F(DashboardE2ETest, ShowsASubmittedJobRunningAndTheStandbyNamesTheLeader) {
  const int leader = scheds_->AwaitLeader(absl::Seconds(30));
  ASSERT_GE(leader, 0);
  const int standby = 1 - leader;
  const std::string url = Url(leader);
  ASSERT_TRUE(absl::StartsWith(url, "http://127.0.0.1:")) << url;

  ASSERT_TRUE(SubmitUntilAccepted("web", R"(
job: web
kind: service
replicas: 1
task:
  command: ["/bin/sh", "-c", "echo serving; while true; do sleep 1; done"]
  resources: {cpu: 100m, memory: 16MiB}
  kill_timeout: 2s
)"));

  // The served HTML has no job rows: a row means the script drew it.
  std::string dom = DomUntil(url, [](const std::string& d) {
    return absl::StrContains(TagWith(d, "data-job=\"default/web\""),
                             "data-state=\"RUNNING\"");
  });
  ASSERT_TRUE(absl::StrContains(TagWith(dom, "data-job=\"default/web\""),
                                "data-state=\"RUNNING\""))
      << dom;
  EXPECT_NE(TagWith(dom, "data-node=\"n1\""), "") << dom;
  EXPECT_TRUE(absl::StrContains(dom, "scheduler s")) << dom;
  EXPECT_TRUE(absl::StrContains(dom, "lockd: 1 member, leader ")) << dom;

  // The job's page: its allocation healthy on n1, and its output through
  // the scheduler's log proxy.
  absl::StatusOr<schedpb::JobStatusResponse> st = scheds_->Status("web");
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_EQ(st->allocations_size(), 1);
  const std::string alloc = st->allocations(0).alloc().id();
  const std::string job_url =
      absl::StrCat(url, "#job=default/web&alloc=", alloc);
  dom = DomUntil(job_url, [&](const std::string& d) {
    return absl::StrContains(d, ">healthy<") &&
           absl::StrContains(d, "serving\n</pre>");
  });
  EXPECT_NE(TagWith(dom, absl::StrCat("data-alloc=\"", alloc, "\"")), "")
      << dom;
  EXPECT_TRUE(absl::StrContains(dom, ">healthy<")) << dom;
  EXPECT_TRUE(absl::StrContains(dom, "serving\n</pre>")) << dom;
  Screenshot(job_url, "dashboard-job.png");

  // A standby answers from its own mirror and says who leads.
  const std::string standby_url = Url(standby);
  ASSERT_FALSE(standby_url.empty());
  dom = DomUntil(standby_url, [](const std::string& d) {
    return absl::StrContains(d, "is a standby; the leader is") &&
           absl::StrContains(TagWith(d, "data-job=\"default/web\""),
                             "data-state=\"RUNNING\"");
  });
  EXPECT_TRUE(absl::StrContains(dom, "is a standby; the leader is")) << dom;
  EXPECT_TRUE(absl::StrContains(TagWith(dom, "data-job=\"default/web\""),
                                "data-state=\"RUNNING\""))
      << dom;
  Screenshot(standby_url, "dashboard-standby.png");
}

}  // namespace
}  // namespace berth::e2e
