// Inputs that yaml-cpp 0.7 cannot take, refused first with the line named.
// Each ExpectRefused below would otherwise make ParseJobSpecs allocate
// until bad_alloc, so a regression here shows as a hang, not a mismatch.
#include "scheduler/spec/yaml_guard.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/spec/job_spec.h"

namespace berth::sched {
namespace {

using ::testing::HasSubstr;

void ExpectRefused(const std::string& yaml, const std::string& where,
                   const std::string& why) {
  absl::Status st = CheckYamlInput(yaml, "f.yaml");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << yaml;
  EXPECT_THAT(st.message(), HasSubstr(where)) << yaml;
  EXPECT_THAT(st.message(), HasSubstr(why)) << yaml;
  // The parser answers the same, rather than handing it to yaml-cpp.
  absl::StatusOr<std::vector<jobpb::Job>> jobs = ParseJobSpecs(yaml, "f.yaml");
  EXPECT_EQ(jobs.status(), st);
}

// Found by tests/fuzz/jobspec_fuzz: yaml-cpp allocated until bad_alloc
// (over 2 GiB in 16 s) on a 90-byte input, shortened here, and on 4 bytes
// of the same kind.
TEST(YamlGuardTest, DocumentStartingWithACommaIsRefused) {
  static constexpr char kFuzzFound[] =
      ", pids: 16}\n  tim# Pri\0w\xe6\xe6\xe6\x19\x19\x19"
      "env\x19\x19"
      "B, pids: 16}\n  timeout: 30s\n";
  const std::string fuzz_found(kFuzzFound, sizeof(kFuzzFound) - 1);
  ExpectRefused(fuzz_found, "line 2", "control character 0x00");
  const std::string kWhy = "unexpected ',' where a value should start";
  ExpectRefused(", a}\n b: c\n", "f.yaml: line 1, column 1", kWhy);
  ExpectRefused("# c\n\n  , a\n", "line 3, column 3", kWhy);
  ExpectRefused("job: x\n---\n, a\n", "line 3, column 1", kWhy);
  ExpectRefused("%YAML 1.2\n--- , a\n", "line 2, column 5", kWhy);
  // Found by jobspec_fuzz on its second run: a quoted scalar, then ','.
  ExpectRefused("# c\n  \"-c\", \"date; echo hi\"\njob: crunch\n",
                "line 2, column 7", kWhy);
  // Relatives no line-based rule caught: the document walk does.
  ExpectRefused("- a\n, b\n", "line 2, column 1", kWhy);
  ExpectRefused("!tag ,\n", "line 1, column 6", kWhy);
  ExpectRefused("&anchor , x\n", "line 1, column 9", kWhy);
}

TEST(YamlGuardTest, BytesThatAreNotPrintableUtf8AreRefused) {
  ExpectRefused("job: j\ncommand: [\"a\xff\"]\n", "line 2",
                "byte 0xff is not valid UTF-8");
  ExpectRefused("job: \xc0\xaf\n", "line 1", "not valid UTF-8");  // overlong
  ExpectRefused("job: \xed\xa0\x80\n", "line 1", "not valid UTF-8");  // D800
  ExpectRefused("job: j\x19\n", "line 1", "control character 0x19");
  ExpectRefused("job: j\x7f\n", "line 1", "DEL");
}

TEST(YamlGuardTest, ValidYamlPassesUntouched) {
  for (const char* ok : {
           "job: j\nkind: service\n",
           "args: [x\n  , y]\n",  // a comma inside a flow sequence
           "a: b, c}\n",          // a plain scalar may hold commas
           "a, b: c\nd: e\n",     // so may a plain key
           "note: \"héllo, wörld ✓\"\n\tkey: 1\r\n",
           "---\n# only a comment\n---\njob: j\n",
           "script: |\n  , not a token here\n",
           "command: [\"a\", \"b\"]\n",  // commas in a flow value
           "note: \"x, y\"  # a, b\n",
       }) {
    EXPECT_TRUE(CheckYamlInput(ok, "f.yaml").ok()) << ok;
  }
}

}  // namespace
}  // namespace berth::sched
