#include "cli/output.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using ::testing::HasSubstr;

std::string Print(const Json& v) {
  std::ostringstream out;
  absl::Status st = PrintJson(out, v);
  EXPECT_TRUE(st.ok()) << st;
  return out.str();
}

TEST(PrintJsonTest, KeysPrintSortedWhateverTheInsertionOrder) {
  std::string a =
      Print(JObj({{"zeta", JNum(1)}, {"alpha", JNum(2)}, {"mid", JStr("x")}}));
  std::string b =
      Print(JObj({{"mid", JStr("x")}, {"alpha", JNum(2)}, {"zeta", JNum(1)}}));
  EXPECT_EQ(a, b);
  EXPECT_LT(a.find("alpha"), a.find("mid"));
  EXPECT_LT(a.find("mid"), a.find("zeta"));
  EXPECT_EQ(a.back(), '\n');
  EXPECT_EQ(a.find('\n'), a.size() - 1);  // one line
}

TEST(PrintJsonTest, IdsAreStringsAndRevisionsNumbers) {
  lock::KeyValue kv;
  kv.key = "k";
  kv.value = "v";
  kv.mod_revision = 12;
  kv.lease = 0x7fffffffffffffff;  // beyond double precision
  std::string s = Print(KeyValueJson(kv));
  EXPECT_THAT(s, HasSubstr("\"lease\":\"9223372036854775807\""));
  EXPECT_THAT(s, HasSubstr("\"mod_revision\":12"));
  EXPECT_THAT(s, HasSubstr("\"version\":0"));  // zero values present
}

TEST(PrintJsonTest, NullAndLists) {
  std::string s = Print(JObj({{"prev_kv", JNull()}, {"kvs", JList({})}}));
  EXPECT_THAT(s, HasSubstr("\"prev_kv\":null"));
  EXPECT_THAT(s, HasSubstr("\"kvs\":[]"));
}

TEST(PrintJsonTest, InvalidUtf8IsAnErrorNotGarbage) {
  std::ostringstream out;
  absl::Status st = PrintJson(out, JObj({{"key", JStr("\xff\xfe")}}));
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("UTF-8"));
}

TEST(PrintTableTest, AlignsColumns) {
  std::ostringstream out;
  PrintTable(out, {{"KEY", "VALUE"}, {"a-long-key", "1"}, {"b", "22"}});
  std::string s = out.str();
  std::vector<size_t> value_col;
  size_t start = 0;
  for (const char* v : {"VALUE", "1\n", "22\n"}) {
    size_t pos = s.find(v, start);
    size_t line_start = s.rfind('\n', pos);
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    value_col.push_back(pos - line_start);
    start = pos;
  }
  EXPECT_EQ(value_col[0], value_col[1]);
  EXPECT_EQ(value_col[1], value_col[2]);
}

}  // namespace
}  // namespace berth::cli
