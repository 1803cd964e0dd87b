// Every file in examples/jobs/ must parse: the examples are documentation
// that users copy, so they must never rot.
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "scheduler/spec/job_spec.h"

namespace berth::sched {
namespace {

TEST(ExamplesTest, EveryExampleJobParses) {
  int files = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(BERTH_EXAMPLES_JOBS_DIR)) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    absl::StatusOr<std::vector<jobpb::Job>> jobs =
        ParseJobFile(entry.path().string());
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    EXPECT_FALSE(jobs->empty()) << entry.path();
    for (const jobpb::Job& job : *jobs) {
      EXPECT_EQ(job.name(), entry.path().stem().string())
          << "example files are named after their job";
    }
  }
  EXPECT_GE(files, 3);
}

}  // namespace
}  // namespace berth::sched
