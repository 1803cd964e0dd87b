// Takes a berth lock from a program built against the installed package.
//
//   berth_lock_demo --endpoints HOST:PORT[,HOST:PORT...] [--name NAME]
//
// Opens a session, takes the Mutex NAME, prints its fencing token, then
// releases the lock and closes the session. Exits 0 only if all of that
// worked; errors go to stderr.
#include <iostream>
#include <memory>
#include <string>

#include "lockservice/client/client.h"
#include "lockservice/client/mutex.h"
#include "lockservice/client/session.h"

namespace lock = berth::lock;

namespace {

int Usage() {
  std::cerr << "usage: berth_lock_demo --endpoints HOST:PORT[,...] "
               "[--name NAME]\n";
  return 2;
}

int Fail(const char* what, const absl::Status& status) {
  std::cerr << "berth_lock_demo: " << what << ": " << status << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoints;
  std::string name = "examples/find_package";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 < argc && arg == "--endpoints") {
      endpoints = argv[++i];
    } else if (i + 1 < argc && arg == "--name") {
      name = argv[++i];
    } else {
      return Usage();
    }
  }
  if (endpoints.empty()) return Usage();

  auto list = lock::ParseEndpoints(endpoints);
  if (!list.ok()) return Fail("--endpoints", list.status());
  auto client = lock::Client::Connect(*list);
  if (!client.ok()) return Fail("connect", client.status());
  auto session = lock::Session::Create(client->get());
  if (!session.ok()) return Fail("session", session.status());

  lock::Mutex mutex(session->get(), name);
  if (absl::Status st = mutex.Lock(absl::Seconds(30)); !st.ok()) {
    return Fail("lock", st);
  }
  std::cout << "locked " << mutex.name() << " with fencing token "
            << mutex.token() << "\n";
  if (absl::Status st = mutex.Unlock(); !st.ok()) return Fail("unlock", st);
  if (absl::Status st = (*session)->Close(); !st.ok()) {
    return Fail("close session", st);
  }
  std::cout << "released\n";
  return 0;
}
