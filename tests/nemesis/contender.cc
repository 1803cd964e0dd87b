// berth-nemesis-contender: one lock contender process of the nemesis lock
// workload (lock_workload.h).
//
//   berth-nemesis-contender --endpoints A,B,C --history FILE --id ID
//       [--lock NAME] [--writes N] [--hold-ms MS] [--max-seconds S]
//
// Loops until SIGTERM: Lock, then N writes each made by a Txn guarded by
// the fencing token, with a random pause of up to MS between them (the
// critical section lasts long enough for the nemesis to freeze the holder
// inside it, as a GC pause would), then Unlock. Each write puts the unique
// key /nem/hist/<token>-<n> and the shared key /nem/shared in one Txn.
// Every event is one line of FILE, in tests/e2e/lock_history.h's format
// (CLOCK_MONOTONIC ns), written with a single write(2):
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
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "boost/program_options.hpp"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "lockservice/client/mutex.h"
#include "lockservice/client/session.h"

namespace lock = berth::lock;
namespace po = boost::program_options;

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// O_APPEND and one write(2) per line: lines never interleave or tear, and
// a line is in the file the moment the event happened.
void Line(int fd, const std::string& line) {
  std::string l = line + "\n";
  if (write(fd, l.data(), l.size()) != static_cast<ssize_t>(l.size())) {
    std::cerr << "contender: short write to history\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoints, history, id = "0", lock_name = "/nem/lock";
  int writes = 3, hold_ms = 200, max_seconds = 600;
  po::options_description desc("berth-nemesis-contender options");
  desc.add_options()("endpoints", po::value(&endpoints)->required())(
      "history", po::value(&history)->required())("id", po::value(&id))(
      "lock", po::value(&lock_name))("writes", po::value(&writes))(
      "hold-ms", po::value(&hold_ms))("max-seconds", po::value(&max_seconds));
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "contender: " << e.what() << "\n" << desc;
    return 2;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  int fd =
      open(history.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::cerr << "contender: cannot open " << history << "\n";
    return 1;
  }
  lock::ClientOptions copts;
  copts.request_timeout = absl::Seconds(10);
  auto client = lock::Client::Connect(absl::StrSplit(endpoints, ','), copts);
  if (!client.ok()) {
    std::cerr << "contender: " << client.status() << "\n";
    return 2;
  }
  lock::KV& kv = (*client)->kv();
  std::mt19937_64 rng(std::hash<std::string>()(id) ^ MonoNs());
  const absl::Time end = absl::Now() + absl::Seconds(max_seconds);
  std::unique_ptr<lock::Session> session;
  std::unique_ptr<lock::Mutex> mutex;
  int64_t n = 0;
  while (!g_stop.load() && absl::Now() < end) {
    if (session == nullptr || session->lost()) {
      mutex.reset();
      session.reset();
      lock::SessionOptions so;
      so.ttl = absl::Seconds(3);
      so.on_lost = [fd](const absl::Status& why) {
        Line(fd, absl::StrCat("LOST ", MonoNs()));
      };
      auto s = lock::Session::Create(client->get(), so);
      if (!s.ok()) {
        absl::SleepFor(absl::Milliseconds(100));
        continue;
      }
      session = std::move(*s);
      mutex = std::make_unique<lock::Mutex>(session.get(), lock_name, id);
    }
    if (!mutex->Lock(absl::Seconds(2)).ok()) continue;
    const int64_t token = mutex->token();
    Line(fd, absl::StrCat("ACQ ", token, " ", MonoNs()));
    for (int i = 0; i < writes && !g_stop.load(); ++i) {
      if (hold_ms > 0) absl::SleepFor(absl::Milliseconds(rng() % hold_ms));
      std::string key = absl::StrCat("/nem/hist/", token, "-", ++n);
      auto r = kv.Txn()
                   .Guard(lock_name, token)
                   .Then(lock::TxnOp::Put(key, id))
                   .Then(lock::TxnOp::Put("/nem/shared",
                                          absl::StrCat(token, "-", n)))
                   .Commit();
      std::string outcome = "ok";
      if (!r.ok()) {
        outcome = absl::IsFailedPrecondition(r.status()) ? "stale"
                  : lock::IsOutcomeUnknown(r.status())   ? "unknown"
                                                         : "error";
      }
      Line(fd, absl::StrCat("WRITE ", token, " ", key, " ", outcome, " ",
                            MonoNs(), " ", r.ok() ? r->revision : 0));
      if (outcome == "stale") break;
    }
    absl::Status un = mutex->Unlock();
    Line(fd, absl::StrCat("REL ", token, " ", MonoNs(), " ",
                          un.ok() ? "ok" : "error"));
    if (!un.ok()) {
      // The session's end releases the lock for sure.
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
