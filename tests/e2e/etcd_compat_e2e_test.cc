// Issue #18: Debian's etcdctl 3.4 against a 3-replica berth-lockd serving
// the etcd API (--etcd-listen), and the same commands against a real etcd
// started here; outputs must match once ids, revisions, TTL countdowns and
// member/endpoint details (which legitimately differ) are normalised.
#include <signal.h>

#include <algorithm>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/ports.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/etcd/rpc.grpc.pb.h"
#include "tests/e2e/etcd_process.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::e2e {
namespace {

using ::testing::HasSubstr;

// Ids (leases print as 16 hex digits) and TTL countdowns differ by nature.
// etcd lists a lease's attached keys in map order (it varies from run to
// run); berth in key order. Sorted here.
std::string Normalize(const std::string& s) {
  std::string out = std::regex_replace(s, std::regex("[0-9a-f]{16}"), "<id>");
  out = std::regex_replace(out, std::regex("remaining\\(\\d+s\\)"),
                           "remaining(<n>s)");
  std::smatch m;
  if (std::regex_search(out, m,
                        std::regex("attached keys\\(\\[([^\\]]*)\\]\\)"))) {
    std::vector<std::string> keys = absl::StrSplit(m[1].str(), ' ');
    std::sort(keys.begin(), keys.end());
    out = absl::StrCat(m.prefix().str(), "attached keys([",
                       absl::StrJoin(keys, " "), "])", m.suffix().str());
  }
  return out;
}

// `member list` / `endpoint status` rows: keep only the columns that must
// agree (status, learner flag, error column), one row per distinct shape.
std::string Columns(const std::string& s, const std::vector<int>& keep) {
  std::vector<std::string> rows;
  for (absl::string_view line : absl::StrSplit(s, '\n', absl::SkipEmpty())) {
    std::vector<std::string> cols = absl::StrSplit(line, ", ");
    std::vector<std::string> kept = {absl::StrCat(cols.size(), " columns")};
    for (int k : keep) {
      if (k < static_cast<int>(cols.size())) kept.push_back(cols[k]);
    }
    std::string row = absl::StrJoin(kept, "|");
    if (std::find(rows.begin(), rows.end(), row) == rows.end())
      rows.push_back(row);
  }
  return absl::StrJoin(rows, "\n");
}

int64_t HeaderRevision(const std::string& json) {
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"revision\":(\\d+)"))) return -1;
  return std::stoll(m[1]);
}

std::string LeaseId(const std::string& grant_out) {
  std::smatch m;
  if (!std::regex_search(grant_out, m, std::regex("lease ([0-9a-f]+) granted")))
    return "";
  return m[1];
}

// One etcd API endpoint set under test, with what its steps learned.
struct Target {
  std::string name;
  std::string endpoints;  // for etcdctl
  std::string one;        // a single endpoint (endpoint status)
  std::string dir;
  int n = 0;
  RunResult Run(const std::vector<std::string>& args,
                const std::string& stdin_text = "") {
    return Etcdctl(endpoints, args, absl::StrCat(dir, "/", name, "-", ++n),
                   stdin_text);
  }
};

class EtcdCompatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<int> base = FindFreePortBlock(10, getpid() ^ 0xe7cd);
    ASSERT_TRUE(base.ok()) << base.status();
    absl::StatusOr<std::vector<std::string>> started =
        StartWithEtcdPorts(&cluster_, 3, *base);
    ASSERT_TRUE(started.ok()) << started.status();
    const std::vector<std::string>& eps = *started;
    berth_ = {"berth", absl::StrJoin(eps, ","), eps[0], cluster_.dir()};
    berth_eps_ = eps;
    auto etcd = EtcdProcess::Start(*base + 5, *base + 6);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = std::move(*etcd);
    real_ = {"etcd", etcd_->endpoint(), etcd_->endpoint(), cluster_.dir()};
  }

  // Runs the same command on both and expects the same normalised result.
  void Same(const std::vector<std::string>& args,
            const std::string& stdin_text = "") {
    RunResult b = berth_.Run(args, stdin_text);
    RunResult e = real_.Run(args, stdin_text);
    std::string what = absl::StrJoin(args, " ");
    EXPECT_EQ(e.exit_code, 0) << what << ": " << e.err;
    EXPECT_EQ(b.exit_code, 0) << what << ": " << b.err;
    EXPECT_EQ(Normalize(b.out), Normalize(e.out)) << what;
  }
  // The same, with per-target arguments.
  void SamePer(const std::function<std::vector<std::string>(Target&)>& args) {
    RunResult b = berth_.Run(args(berth_));
    RunResult e = real_.Run(args(real_));
    std::string what = absl::StrJoin(args(real_), " ");
    EXPECT_EQ(b.exit_code, 0) << what << ": " << b.err;
    EXPECT_EQ(e.exit_code, 0) << what << ": " << e.err;
    EXPECT_EQ(Normalize(b.out), Normalize(e.out)) << what;
  }

  LockdCluster cluster_{3};
  std::unique_ptr<EtcdProcess> etcd_;
  Target berth_, real_;
  std::vector<std::string> berth_eps_;
};

TEST_F(EtcdCompatTest, EtcdctlMatchesRealEtcd) {
  Same({"put", "/t/a", "1"});
  Same({"put", "/t/b", "2"});
  Same({"get", "/t/", "--prefix"});
  // Revisions differ between the stores; each target's own is used.
  int64_t rev_b = HeaderRevision(berth_.Run({"get", "/t/b", "-w", "json"}).out);
  int64_t rev_e = HeaderRevision(real_.Run({"get", "/t/b", "-w", "json"}).out);
  ASSERT_GT(rev_b, 0);
  ASSERT_GT(rev_e, 0);
  Same({"put", "/t/a", "3", "--prev-kv"});
  SamePer([&](Target& t) -> std::vector<std::string> {
    return {"get", "/t/a",
            absl::StrCat("--rev=", &t == &berth_ ? rev_b : rev_e)};
  });
  Same({"get", "/t/", "--prefix", "--keys-only"});
  Same({"get", "/t/", "--prefix", "--limit=1"});
  Same({"get", "/t/", "--prefix", "--sort-by=MODIFY", "--order=DESCEND"});
  Same({"get", "/t/", "--from-key"});
  Same({"txn"},
       "value(\"/t/a\") = \"3\"\nversion(\"/t/b\") = \"1\"\n\n"
       "put /t/c yes\nget /t/ --prefix\n\nput /t/c no\n\n");
  Same({"txn"}, "create(\"/t/a\") = \"0\"\n\nput /t/d yes\n\nget /t/c\n\n");
  Same({"del", "/t/b", "--prev-kv"});
  Same({"del", "/t/", "--prefix"});

  // Watch from a past revision replays history, then the live change.
  auto watch = [&](Target& t, int64_t rev) {
    return Subprocess::Start(
        {"/usr/bin/etcdctl", absl::StrCat("--endpoints=", t.endpoints), "watch",
         "/t/", "--prefix", absl::StrCat("--rev=", rev)},
        absl::StrCat(t.dir, "/", t.name, "-watch"), {{"ETCDCTL_API", "3"}});
  };
  auto wb = watch(berth_, rev_b);
  auto we = watch(real_, rev_e);
  ASSERT_TRUE(wb.ok() && we.ok());
  Same({"put", "/t/z", "live"});
  for (auto* w : {&*wb, &*we}) {
    EXPECT_TRUE(WaitFor([&] {
      return (*w)->Stdout().find("live") != std::string::npos;
    })) << (*w)->Stdout();
    (*w)->Signal(SIGKILL);
    (*w)->Wait(absl::Seconds(10));
  }
  EXPECT_EQ(Normalize((*wb)->Stdout()), Normalize((*we)->Stdout()));

  // Leases with attached keys.
  std::string lb = LeaseId(berth_.Run({"lease", "grant", "60"}).out);
  std::string le = LeaseId(real_.Run({"lease", "grant", "60"}).out);
  ASSERT_FALSE(lb.empty());
  ASSERT_FALSE(le.empty());
  auto lease = [&](Target& t) { return &t == &berth_ ? lb : le; };
  SamePer([&](Target& t) -> std::vector<std::string> {
    return {"put", "/t/l1", "x", absl::StrCat("--lease=", lease(t))};
  });
  SamePer([&](Target& t) -> std::vector<std::string> {
    return {"put", "/t/l2", "y", absl::StrCat("--lease=", lease(t))};
  });
  SamePer([&](Target& t) -> std::vector<std::string> {
    return {"lease", "keep-alive", "--once", lease(t)};
  });
  SamePer([&](Target& t) -> std::vector<std::string> {
    return {"lease", "timetolive", "--keys", lease(t)};
  });
  Same({"lease", "list"});
  SamePer([&](Target& t) -> std::vector<std::string> {
    return {"lease", "revoke", lease(t)};
  });
  Same({"get", "/t/l", "--prefix"});

  // Membership and status: same shape, leader and learner columns.
  RunResult mb = berth_.Run({"member", "list"});
  RunResult me = real_.Run({"member", "list"});
  ASSERT_EQ(mb.exit_code, 0) << mb.err;
  EXPECT_EQ(Columns(mb.out, {1, 5}), Columns(me.out, {1, 5}));
  // Every berth member names its etcd client URL.
  for (const std::string& ep : berth_eps_) EXPECT_THAT(mb.out, HasSubstr(ep));
  RunResult sb =
      Etcdctl(berth_.one, {"endpoint", "status"}, berth_.dir + "/sb");
  RunResult se = Etcdctl(real_.one, {"endpoint", "status"}, real_.dir + "/se");
  ASSERT_EQ(sb.exit_code, 0) << sb.err;
  EXPECT_EQ(Columns(sb.out, {5, 9}), Columns(se.out, {5, 9}));
}

// `etcdctl lock` and `etcdctl elect` (etcd's client-side recipes over Txn,
// sorted Range and Watch) with two contenders: the second gets its turn
// only when the first stops, on both servers.
TEST_F(EtcdCompatTest, LockAndElectWithTwoContenders) {
  for (const std::string& cmd : {std::string("lock"), std::string("elect")}) {
    std::vector<std::string> outs;
    for (Target* t : {&berth_, &real_}) {
      auto start = [&](const std::string& who) {
        std::vector<std::string> argv = {
            "/usr/bin/etcdctl", absl::StrCat("--endpoints=", t->endpoints), cmd,
            absl::StrCat("/t/", cmd)};
        if (cmd == "elect") argv.push_back(who);
        return Subprocess::Start(
            argv, absl::StrCat(t->dir, "/", t->name, "-", cmd, "-", who),
            {{"ETCDCTL_API", "3"}});
      };
      auto first = start("one");
      ASSERT_TRUE(first.ok());
      ASSERT_TRUE(WaitFor([&] { return !(*first)->Stdout().empty(); }))
          << t->name << " " << cmd << ": " << (*first)->Stderr();
      auto second = start("two");
      ASSERT_TRUE(second.ok());
      // The second must wait: watch it for a moment through a read that
      // goes through the same server (a round trip, not a fixed sleep).
      t->Run({"get", "/t/none"});
      EXPECT_EQ((*second)->Stdout(), "") << t->name << " " << cmd;
      (*first)->Signal(SIGTERM);
      (*first)->Wait(absl::Seconds(20));
      ASSERT_TRUE(WaitFor([&] { return !(*second)->Stdout().empty(); }))
          << t->name << " " << cmd << ": " << (*second)->Stderr();
      (*second)->Signal(SIGTERM);
      (*second)->Wait(absl::Seconds(20));
      std::string both = (*first)->Stdout() + "--\n" + (*second)->Stdout();
      // Keys end in the session's lease id (berth pads it to 16 digits).
      outs.push_back(
          std::regex_replace(both, std::regex("/[0-9a-f]+\n"), "/<lease>\n"));
    }
    EXPECT_EQ(outs[0], outs[1]) << cmd;
  }
}

TEST_F(EtcdCompatTest, UnsupportedCallsAnswerUnimplementedByName) {
  RunResult a = berth_.Run({"auth", "enable"});
  EXPECT_NE(a.exit_code, 0);
  EXPECT_THAT(a.err, HasSubstr("Unimplemented"));
  EXPECT_THAT(a.err, HasSubstr("/etcdserverpb.Auth/AuthEnable"));
  RunResult d = Etcdctl(berth_.one, {"defrag"}, berth_.dir + "/defrag");
  EXPECT_NE(d.exit_code, 0);
  EXPECT_THAT(d.err, HasSubstr("/etcdserverpb.Maintenance/Defragment"));
}

}  // namespace
}  // namespace berth::e2e
