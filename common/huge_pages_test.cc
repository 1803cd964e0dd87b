#include "common/huge_pages.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace berth {
namespace {

constexpr char kMadvise[] = "always [madvise] never";

TEST(HugePageTunables, AddsTheMallocTunableOnlyInMadviseMode) {
  EXPECT_EQ(HugePageTunables(nullptr, nullptr, kMadvise),
            "glibc.malloc.hugetlb=1");
  EXPECT_EQ(HugePageTunables("", nullptr, kMadvise), "glibc.malloc.hugetlb=1");
  // "always" already backs every heap; "never" has nothing to give.
  EXPECT_EQ(HugePageTunables(nullptr, nullptr, "[always] madvise never"), "");
  EXPECT_EQ(HugePageTunables(nullptr, nullptr, "always madvise [never]"), "");
  EXPECT_EQ(HugePageTunables(nullptr, nullptr, ""), "");  // no THP at all
}

TEST(HugePageTunables, KeepsOtherTunablesAndRespectsTheOperator) {
  EXPECT_EQ(HugePageTunables("glibc.malloc.tcache_count=0", nullptr, kMadvise),
            "glibc.malloc.tcache_count=0:glibc.malloc.hugetlb=1");
  // Already decided either way, or turned off: no re-exec (which is also
  // what stops a re-executed process from doing it again).
  EXPECT_EQ(HugePageTunables("glibc.malloc.hugetlb=0", nullptr, kMadvise), "");
  EXPECT_EQ(HugePageTunables("glibc.malloc.hugetlb=1", nullptr, kMadvise), "");
  EXPECT_EQ(HugePageTunables(nullptr, "0", kMadvise), "");
  EXPECT_EQ(HugePageTunables(nullptr, "1", kMadvise), "glibc.malloc.hugetlb=1");
}

// Child bodies for EXPECT_EXIT (commas in a braced block would split the
// macro's arguments).
[[noreturn]] void ReexecIntoReportingShell() {
  unsetenv("GLIBC_TUNABLES");
  unsetenv("BERTH_HUGE_PAGES");
  setenv("BERTH_HUGE_PAGES_TEST_MARK", "kept", 1);
  char sh[] = "sh";
  char c[] = "-c";
  char script[] =
      "test \"$BERTH_HUGE_PAGES_TEST_MARK\" = kept || exit 5; "
      "test \"$GLIBC_TUNABLES\" = glibc.malloc.hugetlb=1 && exit 42; "
      "exit 4";
  char* argv[] = {sh, c, script, nullptr};
  ReexecWithHugePageHeap("/bin/sh", argv);
  std::exit(3);  // returned: no re-exec
}

[[noreturn]] void OptedOut() {
  unsetenv("GLIBC_TUNABLES");
  setenv("BERTH_HUGE_PAGES", "0", 1);
  char sh[] = "sh";
  char* argv[] = {sh, nullptr};
  ReexecWithHugePageHeap("/bin/sh", argv);
  std::exit(std::getenv("GLIBC_TUNABLES") == nullptr ? 7 : 8);
}

[[noreturn]] void ExecFails() {
  setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=3", 1);
  unsetenv("BERTH_HUGE_PAGES");
  char bad[] = "missing";
  char* argv[] = {bad, nullptr};
  ReexecWithHugePageHeap("/nonexistent/berth-no-such-binary", argv);
  const char* t = std::getenv("GLIBC_TUNABLES");
  const bool restored =
      t != nullptr && std::string(t) == "glibc.malloc.tcache_count=3";
  std::exit(restored ? 7 : 8);
}

// The new image really starts with the tunable (a shell stands in for the
// daemon and reports what it got), and the rest of the environment with it.
TEST(ReexecWithHugePageHeap, TheNewImageStartsWithTheTunable) {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(f, mode);
  const int want = mode.find("[madvise]") != std::string::npos ? 42 : 3;
  EXPECT_EXIT(ReexecIntoReportingShell(), ::testing::ExitedWithCode(want), "");
}

TEST(ReexecWithHugePageHeap, OptOutAndFailedExecLeaveTheProcessAsItWas) {
  EXPECT_EXIT(OptedOut(), ::testing::ExitedWithCode(7), "");
  EXPECT_EXIT(ExecFails(), ::testing::ExitedWithCode(7), "");
}

}  // namespace
}  // namespace berth
