#include "agent/server/node_flags.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

using ::testing::HasSubstr;

TEST(NodeFlagsTest, CpuAcceptsMillicoresAndCores) {
  EXPECT_EQ(*ParseCpuMillicores("2000m"), 2000);
  EXPECT_EQ(*ParseCpuMillicores("2"), 2000);
  EXPECT_EQ(*ParseCpuMillicores("1.5"), 1500);
}

TEST(NodeFlagsTest, CpuRejectsGarbageNamingTheFlag) {
  for (const char* bad : {"", "-1", "0", "abc", "12mm", "0m"}) {
    absl::StatusOr<int64_t> got = ParseCpuMillicores(bad);
    ASSERT_FALSE(got.ok()) << bad;
    EXPECT_THAT(got.status().message(), HasSubstr("--cpu"));
  }
}

TEST(NodeFlagsTest, BytesUnderstandsBinaryAndDecimalUnits) {
  EXPECT_EQ(*ParseBytes("4GiB"), 4LL << 30);
  EXPECT_EQ(*ParseBytes("512MiB"), 512LL << 20);
  EXPECT_EQ(*ParseBytes("1G"), 1000LL * 1000 * 1000);
  EXPECT_EQ(*ParseBytes("1000"), 1000);
}

TEST(NodeFlagsTest, BytesRejectsBadSizes) {
  for (const char* bad : {"", "GiB", "-4GiB", "4 parsecs", "99999999999TiB"}) {
    absl::StatusOr<int64_t> got = ParseBytes(bad);
    ASSERT_FALSE(got.ok()) << bad;
    EXPECT_THAT(got.status().message(), HasSubstr("--memory"));
  }
}

TEST(NodeFlagsTest, LabelsParseAndRejectDuplicates) {
  auto labels = ParseLabels("zone=a,disk=ssd");
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(labels->at("zone"), "a");
  EXPECT_EQ(labels->at("disk"), "ssd");
  EXPECT_TRUE(ParseLabels("")->empty());
  EXPECT_THAT(ParseLabels("zone").status().message(), HasSubstr("key=value"));
  EXPECT_THAT(ParseLabels("a=1,a=2").status().message(), HasSubstr("twice"));
}

TEST(NodeFlagsTest, DetectedCapacityIsPositive) {
  EXPECT_GT(DetectCpuMillicores(), 0);
  EXPECT_GT(DetectMemoryBytes(), 0);
}

// /dev/shm is a tmpfs on every Linux this runs on; /proc never is.
TEST(NodeFlagsTest, FifoDirIsUnderTheFirstMemoryFilesystemNamedByDataDir) {
  EXPECT_EQ(DefaultFifoDir("/var/lib/berth/agent/", {"/proc", "/dev/shm"}),
            "/dev/shm/berth-agent/%2Fvar%2Flib%2Fberth%2Fagent");
  // Escaping keeps "/a/b%2Fc" and "/a/b/c" apart.
  EXPECT_EQ(DefaultFifoDir("/a/b%2Fc", {"/dev/shm"}),
            "/dev/shm/berth-agent/%2Fa%2Fb%252Fc");
  EXPECT_EQ(DefaultFifoDir("/var/lib/berth/agent", {"/proc"}), "");
}

TEST(NodeFlagsTest, PrivateDirRefusesOneOthersCanWrite) {
  const std::string base =
      ::testing::TempDir() + "/fifo-base-" + std::to_string(getpid());
  ASSERT_TRUE(MakePrivateDir(base + "/mine").ok());
  EXPECT_TRUE(MakePrivateDir(base + "/mine").ok());  // again: fine
  ASSERT_EQ(chmod(base.c_str(), 0777), 0);
  absl::Status s = MakePrivateDir(base + "/mine");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_THAT(s.message(), ::testing::HasSubstr(base));
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace berth::agent
