// `berth bench start` end to end (issue #14): the real CLI starts its own
// 3 lockd + scheduler + agent on 127.0.0.1 and runs a handful of trivial
// tasks through them. Checks only that every task completed and nothing
// failed; speed is the bench's business (docs/benchmarks.md), not a test's.
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/e2e/subprocess.h"

#ifndef BERTH_AGENT_E2E_RUNTIME
#define BERTH_AGENT_E2E_RUNTIME "process"
#endif
// Distinct suite names per variant: ctest labels are set by test name.
#ifndef BERTH_BENCH_START_SUITE
#define BERTH_BENCH_START_SUITE BenchStartE2E
#endif

namespace berth::e2e {
namespace {

double Field(const google::protobuf::Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? -1 : it->second.number_value();
}

TEST(BERTH_BENCH_START_SUITE, EveryTaskCompletes) {
  const std::string runtime = BERTH_AGENT_E2E_RUNTIME;
  if (runtime == "linux" && geteuid() != 0) {
    GTEST_SKIP() << "the linux runtime needs root";
  }
  const std::string log = absl::StrCat(::testing::TempDir(), "bench-start-",
                                       runtime, "-", getpid());
  RunResult r = RunToExit(
      {BERTH_CLI_BIN, "bench", "start", "--runtime", runtime, "--bin-dir",
       BERTH_BUILD_DIR, "--schedulers", "2", "--latency-tasks", "3", "--batch",
       "12", "--tasks-per-job", "3", "--max-wait", "90s", "--output", "json"},
      log, absl::Minutes(4));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  google::protobuf::Struct doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &doc).ok())
      << r.out;
  EXPECT_EQ(Field(doc, "errors"), 0) << r.out;
  const auto& phases = doc.fields().at("phases").list_value().values();
  ASSERT_EQ(phases.size(), 2) << r.out;
  const std::vector<std::pair<std::string, double>> want = {{"latency", 3},
                                                            {"batch", 12}};
  for (int i = 0; i < 2; ++i) {
    const google::protobuf::Struct& p = phases[i].struct_value();
    EXPECT_EQ(p.fields().at("phase").string_value(), want[i].first);
    EXPECT_EQ(Field(p, "completed"), want[i].second) << r.out;
    EXPECT_EQ(Field(p, "errors"), 0) << r.out;
    // Every task passed every milestone the bench observes.
    const google::protobuf::Struct& ms =
        p.fields().at("milestones_ms").struct_value();
    for (const char* m : {"placed", "running", "exited seen"}) {
      EXPECT_EQ(Field(ms.fields().at(m).struct_value(), "samples"),
                want[i].second)
          << m << " in " << r.out;
    }
  }
}

}  // namespace
}  // namespace berth::e2e
