#include "agent/runtime/exec_args.h"

#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::agent {
namespace {

constexpr char kDefaultPath[] =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace

ExecArgs PrepareExec(const std::vector<std::string>& argv,
                     const std::vector<std::string>& env) {
  ExecArgs p;
  const std::string& prog = argv[0];
  if (prog.find('/') != std::string::npos) {
    p.candidates.push_back(prog);
  } else {
    std::string path = kDefaultPath;
    for (const std::string& kv : env) {
      if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
    }
    for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
      p.candidates.push_back(absl::StrCat(dir, "/", prog));
    }
  }
  for (const std::string& a : argv) p.argv.push_back(a.c_str());
  p.argv.push_back(nullptr);
  for (const std::string& e : env) p.envp.push_back(e.c_str());
  p.envp.push_back(nullptr);
  return p;
}

void ExecFirst(const ExecArgs& args) {
  int exec_errno = ENOENT;
  for (const std::string& candidate : args.candidates) {
    execve(candidate.c_str(), const_cast<char* const*>(args.argv.data()),
           const_cast<char* const*>(args.envp.data()));
    if (errno != ENOENT && errno != ENOTDIR) exec_errno = errno;
  }
  errno = exec_errno;
}

}  // namespace berth::agent
