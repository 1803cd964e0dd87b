// Takes a lock, writes a key guarded by the lock's fencing token, unlocks.
//
//   lock_example [ENDPOINTS]      (default 127.0.0.1:7400)
//
// The guarded write is what makes the lock safe: if this process stalled
// long enough to lose its session and someone else took the lock, the
// stale token would make the write fail instead of clobbering theirs.
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_split.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "lockservice/client/mutex.h"
#include "lockservice/client/session.h"

namespace lock = berth::lock;

int main(int argc, char** argv) {
  std::string endpoints = argc > 1 ? argv[1] : "127.0.0.1:7400";
  auto client = lock::Client::Connect(absl::StrSplit(endpoints, ','));
  if (!client.ok()) {
    std::cerr << client.status() << "\n";
    return 1;
  }
  lock::SessionOptions options;
  options.ttl = absl::Seconds(10);
  options.on_lost = [](const absl::Status& why) {
    std::cerr << "session lost: " << why << "\n";
  };
  auto session = lock::Session::Create(client->get(), options);
  if (!session.ok()) {
    std::cerr << session.status() << "\n";
    return 1;
  }

  lock::Mutex mutex(session->get(), "examples/lock");
  if (absl::Status st = mutex.Lock(absl::Seconds(30)); !st.ok()) {
    std::cerr << "lock: " << st << "\n";
    return 1;
  }
  std::cout << "holding " << mutex.name() << " with fencing token "
            << mutex.token() << "\n";

  auto txn = (*client)
                 ->kv()
                 .Txn()
                 .Guard(mutex.name(), mutex.token())
                 .Then(lock::TxnOp::Put("examples/lock/owner",
                                        std::to_string(mutex.token())))
                 .Commit();
  if (!txn.ok()) {
    std::cerr << "guarded write: " << txn.status() << "\n";
  } else {
    std::cout << "guarded write applied at revision " << txn->revision << "\n";
  }

  if (absl::Status st = mutex.Unlock(); !st.ok()) {
    std::cerr << "unlock: " << st << "\n";
    return 1;
  }
  std::cout << "unlocked\n";
  return (*session)->Close().ok() && txn.ok() ? 0 : 1;
}
