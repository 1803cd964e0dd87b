// berth-e2e-contender: one lock contender for the e2e contention test.
//
//   berth-e2e-contender --endpoints A,B,C --lock NAME --history FILE
//       [--id ID] [--writes N] [--max-seconds S]
//
// Loops until SIGTERM (or --max-seconds): Lock (2s timeout), N writes
// guarded by the fencing token, Unlock. Every event is appended to FILE as
// one line, written with a single write(2) so that a crash never leaves
// half a line; timestamps are CLOCK_MONOTONIC nanoseconds, comparable
// across processes on one machine:
//   ACQ <token> <t>
//   WRITE <token> <key> ok|stale|unknown|error <t> <revision or 0>
//   REL <token> <t> ok|error
//   LOST <t>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "lockservice/client/mutex.h"
#include "lockservice/client/session.h"

namespace lock = berth::lock;

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

class History {
 public:
  explicit History(int fd) : fd_(fd) {}
  void Line(const std::string& line) {
    std::string l = line + "\n";
    absl::MutexLock lock(&mu_);
    // O_APPEND and one write per line: lines never interleave or tear.
    if (write(fd_, l.data(), l.size()) != static_cast<ssize_t>(l.size())) {
      std::cerr << "contender: short write to history\n";
    }
  }

 private:
  absl::Mutex mu_;
  int fd_;
};

struct Flags {
  std::string endpoints;
  std::string lock_name = "/e2e/lock";
  std::string history;
  std::string id = "0";
  int writes = 3;
  int max_seconds = 300;
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    std::string v = argv[i + 1];
    if (k == "--endpoints") {
      f->endpoints = v;
    } else if (k == "--lock") {
      f->lock_name = v;
    } else if (k == "--history") {
      f->history = v;
    } else if (k == "--id") {
      f->id = v;
    } else if (k == "--writes") {
      if (!absl::SimpleAtoi(v, &f->writes) || f->writes < 1) return false;
    } else if (k == "--max-seconds") {
      if (!absl::SimpleAtoi(v, &f->max_seconds) || f->max_seconds < 1) {
        return false;
      }
    } else {
      std::cerr << "contender: unknown flag " << k << "\n";
      return false;
    }
  }
  return (argc % 2) == 1 && !f->endpoints.empty() && !f->history.empty();
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::cerr << "usage: berth-e2e-contender --endpoints A,B --history FILE "
                 "[--lock NAME] [--id ID] [--writes N] [--max-seconds S]\n";
    return 2;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  int fd = open(flags.history.c_str(),
                O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::cerr << "contender: cannot open " << flags.history << "\n";
    return 1;
  }
  History history(fd);
  lock::ClientOptions copts;
  copts.request_timeout = absl::Seconds(10);
  auto client =
      lock::Client::Connect(absl::StrSplit(flags.endpoints, ','), copts);
  if (!client.ok()) {
    std::cerr << "contender: " << client.status() << "\n";
    return 2;
  }
  lock::KV& kv = (*client)->kv();
  const absl::Time end = absl::Now() + absl::Seconds(flags.max_seconds);
  std::unique_ptr<lock::Session> session;
  std::unique_ptr<lock::Mutex> mutex;
  int64_t n = 0;
  while (!g_stop.load() && absl::Now() < end) {
    if (session == nullptr || session->lost()) {
      mutex.reset();
      session.reset();
      lock::SessionOptions so;
      so.ttl = absl::Seconds(3);
      so.on_lost = [&history](const absl::Status& why) {
        history.Line(absl::StrCat("LOST ", MonoNs()));
        std::cerr << "contender: session lost: " << why << "\n";
      };
      auto s = lock::Session::Create(client->get(), so);
      if (!s.ok()) {
        std::cerr << "contender: session: " << s.status() << "\n";
        absl::SleepFor(absl::Milliseconds(100));
        continue;
      }
      session = std::move(*s);
      mutex = std::make_unique<lock::Mutex>(session.get(), flags.lock_name,
                                            flags.id);
    }
    absl::Status st = mutex->Lock(absl::Seconds(2));
    if (!st.ok()) {
      if (!absl::IsDeadlineExceeded(st)) {
        std::cerr << "contender: lock: " << st << "\n";
      }
      continue;
    }
    const int64_t token = mutex->token();
    history.Line(absl::StrCat("ACQ ", token, " ", MonoNs()));
    for (int i = 0; i < flags.writes; ++i) {
      std::string key = absl::StrCat("/e2e/hist/", token, "-", ++n);
      auto r = kv.Txn()
                   .Guard(flags.lock_name, token)
                   .Then(lock::TxnOp::Put(key, flags.id))
                   .Commit();
      std::string outcome = "ok";
      int64_t rev = 0;
      if (r.ok()) {
        rev = r->revision;
      } else if (absl::IsFailedPrecondition(r.status())) {
        outcome = "stale";
      } else if (lock::IsOutcomeUnknown(r.status())) {
        outcome = "unknown";
      } else {
        outcome = "error";
      }
      history.Line(absl::StrCat("WRITE ", token, " ", key, " ", outcome, " ",
                                MonoNs(), " ", rev));
      if (!r.ok()) {
        std::cerr << "contender: write " << key << ": " << r.status() << "\n";
        if (outcome == "stale") break;
      }
    }
    absl::Status un = mutex->Unlock();
    history.Line(absl::StrCat("REL ", token, " ", MonoNs(), " ",
                              un.ok() ? "ok" : "error"));
    if (!un.ok()) {
      // The Mutex still believes it holds the lock; dropping the session
      // (revoking its lease, or letting it expire) releases it for sure.
      std::cerr << "contender: unlock: " << un << "\n";
      mutex.reset();
      session->Close().IgnoreError();
      session.reset();
    }
  }
  mutex.reset();
  if (session != nullptr) session->Close().IgnoreError();
  close(fd);
  return 0;
}
