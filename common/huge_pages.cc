#include "common/huge_pages.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string_view>

namespace berth {

std::string HugePageTunables(const char* glibc_tunables,
                             const char* berth_huge_pages,
                             const std::string& thp_enabled) {
  if (berth_huge_pages != nullptr &&
      std::string_view(berth_huge_pages) == "0") {
    return "";
  }
  const std::string current = glibc_tunables == nullptr ? "" : glibc_tunables;
  if (current.find("glibc.malloc.hugetlb") != std::string::npos) return "";
  // The kernel marks the mode in force with brackets.
  if (thp_enabled.find("[madvise]") == std::string::npos) return "";
  return current.empty() ? "glibc.malloc.hugetlb=1"
                         : current + ":glibc.malloc.hugetlb=1";
}

void ReexecWithHugePageHeap(char** argv) {
  ReexecWithHugePageHeap("/proc/self/exe", argv);
}

void ReexecWithHugePageHeap(const char* exe, char** argv) {
  std::string mode;
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::getline(f, mode);
  const char* before = std::getenv("GLIBC_TUNABLES");
  const std::string saved = before == nullptr ? "" : before;
  const std::string tunables =
      HugePageTunables(before, std::getenv("BERTH_HUGE_PAGES"), mode);
  if (tunables.empty()) return;
  setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
  execv(exe, argv);
  // Still here: exec failed. Run as started, and do not hand the tunable to
  // anything this process starts.
  if (before == nullptr) {
    unsetenv("GLIBC_TUNABLES");
  } else {
    setenv("GLIBC_TUNABLES", saved.c_str(), 1);
  }
}

}  // namespace berth
