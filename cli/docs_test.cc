// docs/cli.md and the command table describe the same CLI: every command
// documented exists, every command that exists is documented (a heading
// "### berth PATH"), and each command's section mentions each of its flags.
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cli/command.h"
#include "gtest/gtest.h"

#ifndef BERTH_SOURCE_DIR
#error "BERTH_SOURCE_DIR must name the repository root"
#endif

namespace berth::cli {
namespace {

constexpr char kHeading[] = "### berth ";

// Command path -> the text of its section (up to the next heading).
std::map<std::string, std::string> DocumentedCommands() {
  std::string path = absl::StrCat(BERTH_SOURCE_DIR, "/docs/cli.md");
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::map<std::string, std::string> sections;
  std::string line;
  std::string* current = nullptr;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, kHeading)) {
      std::string cmd(
          absl::StripSuffix(absl::StripPrefix(line, kHeading), " "));
      EXPECT_FALSE(sections.contains(cmd)) << "documented twice: " << cmd;
      current = &sections[cmd];
    } else if (absl::StartsWith(line, "#")) {
      current = nullptr;  // any other heading ends the command's section
    } else if (current != nullptr) {
      absl::StrAppend(current, line, "\n");
    }
  }
  return sections;
}

TEST(CliDocs, EveryCommandIsDocumented) {
  std::map<std::string, std::string> docs = DocumentedCommands();
  for (const Command& c : Commands()) {
    EXPECT_TRUE(docs.contains(c.path))
        << "docs/cli.md has no \"### berth " << c.path << "\" section";
  }
}

TEST(CliDocs, EveryDocumentedCommandExists) {
  std::set<std::string> table;
  for (const Command& c : Commands()) table.insert(c.path);
  for (const auto& [path, text] : DocumentedCommands()) {
    EXPECT_TRUE(table.contains(path))
        << "docs/cli.md documents \"berth " << path
        << "\", which the CLI does not have";
  }
}

TEST(CliDocs, EverySectionMentionsItsFlags) {
  std::map<std::string, std::string> docs = DocumentedCommands();
  for (const Command& c : Commands()) {
    auto it = docs.find(c.path);
    if (it == docs.end()) continue;  // reported by EveryCommandIsDocumented
    po::options_description d;
    if (c.flags) c.flags(d);
    for (const auto& opt : d.options()) {
      std::string flag = absl::StrCat("--", opt->long_name());
      EXPECT_TRUE(absl::StrContains(it->second, flag))
          << "docs/cli.md: section of \"berth " << c.path
          << "\" does not mention " << flag;
    }
  }
}

}  // namespace
}  // namespace berth::cli
