#include "tests/e2e/lockd_harness.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/ports.h"
#include "common/tls/tls_flags.h"

namespace berth::e2e {

bool WaitFor(const std::function<bool()>& cond, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  absl::Mutex mu;
  absl::CondVar cv;
  while (true) {
    if (cond()) return true;
    if (absl::Now() >= deadline) return false;
    absl::MutexLock l(&mu);
    cv.WaitWithTimeout(&mu, absl::Milliseconds(20));
  }
}

void AddInsecureUnlessTls(std::vector<std::string>* argv) {
  for (const std::string& a : *argv) {
    if (absl::StartsWith(a, "--tls-") || a == "--insecure") return;
  }
  for (std::string& f : tls::LocalDaemonTlsFlags()) {
    argv->push_back(std::move(f));
  }
}

std::string LockdBinary() {
  const char* env = getenv("BERTH_LOCKD_BIN");
  return env ? env : BERTH_LOCKD_BIN;
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  char* d = mkdtemp(tmpl.data());
  return d ? std::string(d) : "";
}

LockdCluster::LockdCluster(int replicas, std::vector<std::string> extra_flags)
    : extra_flags_(std::move(extra_flags)) {
  dir_ = MakeTempDir("berth-e2e");
  // Below the ephemeral range, and skipping blocks someone holds now.
  absl::StatusOr<int> base = FindFreePortBlock(20, getpid(), 21000, 29000);
  base_port_ = base.ok() ? *base : 21000 + (getpid() % 400) * 20;
  for (int i = 1; i <= replicas; ++i) {
    addrs_[i] = absl::StrCat("127.0.0.1:", base_port_ + i);
  }
}

LockdCluster::~LockdCluster() {
  for (auto& [id, pid] : pids_) {
    if (pid > 0) {
      kill(pid, SIGCONT);
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  std::error_code ec;
  if (!getenv("BERTH_E2E_KEEP")) std::filesystem::remove_all(dir_, ec);
}

std::string LockdCluster::Address(uint64_t id) const {
  auto it = addrs_.find(id);
  return it == addrs_.end() ? "" : it->second;
}

std::vector<std::string> LockdCluster::Endpoints() const {
  std::vector<std::string> out;
  for (auto& [id, a] : addrs_) out.push_back(a);
  return out;
}

std::string LockdCluster::EndpointsFlag() const {
  return absl::StrJoin(Endpoints(), ",");
}

std::string LockdCluster::NextAddress() {
  return absl::StrCat("127.0.0.1:", base_port_ + 10 + (++next_extra_));
}

absl::Status LockdCluster::Spawn(uint64_t id,
                                 const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string bin = LockdBinary();
  argv.push_back(bin.data());
  std::vector<std::string> copy = args;
  // berth-lockd serves metrics on --listen's port + 1000 by default, which
  // may be another cluster's port in this harness's range: off unless the
  // test asks for an endpoint.
  if (std::none_of(copy.begin(), copy.end(), [](const std::string& a) {
        return absl::StartsWith(a, "--metrics-listen");
      })) {
    copy.push_back("--metrics-listen=off");
  }
  AddInsecureUnlessTls(&copy);
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string log = absl::StrCat(dir_, "/lockd-", id, ".log");
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    FILE* f = freopen(log.c_str(), "a", stderr);
    (void)f;
    execv(argv[0], argv.data());
    _exit(127);
  }
  pids_[id] = pid;
  return absl::OkStatus();
}

absl::Status LockdCluster::Start(uint64_t id) {
  std::vector<std::string> peers;
  for (auto& [pid_id, a] : addrs_) {
    if (pid_id <= 9) peers.push_back(absl::StrCat(pid_id, "=", a));
  }
  std::vector<std::string> args = {
      absl::StrCat("--id=", id), absl::StrCat("--listen=", addrs_[id]),
      absl::StrCat("--peers=", absl::StrJoin(peers, ",")),
      absl::StrCat("--data-dir=", dir_, "/r", id)};
  for (auto& f : extra_flags_) args.push_back(f);
  for (auto& f : replica_flags_[id]) args.push_back(f);
  return Spawn(id, args);
}

absl::Status LockdCluster::StartAll() {
  for (auto& [id, a] : addrs_) {
    absl::Status st = Start(id);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status LockdCluster::StartJoining(uint64_t id,
                                        const std::string& address) {
  addrs_[id] = address;
  std::vector<std::string> peers;
  for (auto& [pid_id, a] : addrs_)
    peers.push_back(absl::StrCat(pid_id, "=", a));
  std::vector<std::string> args = {
      absl::StrCat("--id=", id), absl::StrCat("--listen=", address),
      absl::StrCat("--peers=", absl::StrJoin(peers, ",")),
      absl::StrCat("--data-dir=", dir_, "/r", id), "--join"};
  for (auto& f : extra_flags_) args.push_back(f);
  for (auto& f : replica_flags_[id]) args.push_back(f);
  return Spawn(id, args);
}

void LockdCluster::Kill9(uint64_t id) {
  auto it = pids_.find(id);
  if (it == pids_.end() || it->second <= 0) return;
  kill(it->second, SIGKILL);
  waitpid(it->second, nullptr, 0);
  it->second = 0;
  channels_.erase(id);
}

void LockdCluster::Term(uint64_t id) {
  auto it = pids_.find(id);
  if (it == pids_.end() || it->second <= 0) return;
  kill(it->second, SIGCONT);
  kill(it->second, SIGTERM);
  waitpid(it->second, nullptr, 0);
  it->second = 0;
  channels_.erase(id);
}

void LockdCluster::Pause(uint64_t id) {
  auto it = pids_.find(id);
  if (it != pids_.end() && it->second > 0) kill(it->second, SIGSTOP);
}

void LockdCluster::Resume(uint64_t id) {
  auto it = pids_.find(id);
  if (it != pids_.end() && it->second > 0) kill(it->second, SIGCONT);
}

bool LockdCluster::Running(uint64_t id) const {
  auto it = pids_.find(id);
  return it != pids_.end() && it->second > 0;
}

std::shared_ptr<grpc::Channel> LockdCluster::Channel(uint64_t id) {
  auto it = channels_.find(id);
  if (it != channels_.end()) return it->second;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 300);
  auto ch = grpc::CreateCustomChannel(addrs_[id],
                                      credentials_ != nullptr
                                          ? credentials_
                                          : grpc::InsecureChannelCredentials(),
                                      args);
  channels_[id] = ch;
  return ch;
}

// A process with no gRPC server (this test) moves a connection forward
// only while some thread waits on a call, and otherwise only on gRPC's
// 5-second backup poller. A plaintext connect finishes within one short
// probe, but a TLS handshake takes several round trips: without waiting
// for the channel to be ready, each probe fails fast during the reconnect
// backoff and the handshake times out, so no leader is ever seen.
void LockdCluster::WaitForTls(grpc::ClientContext* ctx) const {
  if (credentials_ != nullptr) ctx->set_wait_for_ready(true);
}

uint64_t LockdCluster::Leader() {
  std::map<uint64_t, int> votes;
  for (auto& [id, a] : addrs_) {
    if (!Running(id)) continue;
    auto stub = lockpb::Cluster::NewStub(Channel(id));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
    WaitForTls(&ctx);
    lockpb::StatusRequest req;
    lockpb::StatusResponse resp;
    if (stub->Status(&ctx, req, &resp).ok() && resp.leader_id() != 0) {
      ++votes[resp.leader_id()];
    }
  }
  for (auto& [id, n] : votes) {
    // The leader must be running and confirm itself.
    if (Running(id) && n >= 1) {
      auto stub = lockpb::Cluster::NewStub(Channel(id));
      grpc::ClientContext ctx;
      ctx.set_deadline(
          absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
      WaitForTls(&ctx);
      lockpb::StatusResponse resp;
      if (stub->Status(&ctx, lockpb::StatusRequest(), &resp).ok() &&
          resp.leader_id() == id) {
        return id;
      }
    }
  }
  return 0;
}

uint64_t LockdCluster::AwaitLeader(absl::Duration timeout, uint64_t not_this) {
  uint64_t leader = 0;
  WaitFor(
      [&] {
        leader = Leader();
        return leader != 0 && leader != not_this;
      },
      timeout);
  return leader != not_this ? leader : 0;
}

grpc::Status RawClient::OnLeader(
    const std::function<grpc::Status(grpc::Channel*, grpc::ClientContext*)>& fn,
    absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  grpc::Status last(grpc::StatusCode::UNAVAILABLE, "no attempt made");
  while (absl::Now() < deadline) {
    uint64_t leader = c_->Leader();
    if (leader == 0) {
      WaitFor([] { return false; }, absl::Milliseconds(50));
      continue;
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    last = fn(c_->Channel(leader).get(), &ctx);
    if (last.ok()) return last;
    bool retry =
        last.error_code() == grpc::StatusCode::UNAVAILABLE ||
        (last.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
         last.error_message().find("not the leader") != std::string::npos);
    if (!retry) return last;
  }
  return last;
}

int64_t QueryReplicaDb(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  int64_t out = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
      SQLITE_OK) {
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      out = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

}  // namespace berth::e2e
