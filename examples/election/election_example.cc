// Campaigns in an election and prints every change of leadership.
//
//   election_example NAME VALUE [ENDPOINTS]
//
// Run several copies with different values; stop the leader (Ctrl-C) and
// watch another take over. Each leadership has its own fencing token.
#include <csignal>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "lockservice/client/client.h"
#include "lockservice/client/election.h"
#include "lockservice/client/session.h"

namespace lock = berth::lock;

namespace {
absl::Notification* g_stop = nullptr;
void OnSignal(int) {
  // Notify is not async-signal-safe; the example accepts that to stay short.
  if (g_stop != nullptr && !g_stop->HasBeenNotified()) g_stop->Notify();
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: election_example NAME VALUE [ENDPOINTS]\n";
    return 2;
  }
  std::string name = argv[1];
  std::string value = argv[2];
  std::string endpoints = argc > 3 ? argv[3] : "127.0.0.1:7400";
  auto client = lock::Client::Connect(absl::StrSplit(endpoints, ','));
  if (!client.ok()) {
    std::cerr << client.status() << "\n";
    return 1;
  }
  absl::Notification stop;
  g_stop = &stop;
  lock::SessionOptions options;
  options.on_lost = [&](const absl::Status& why) {
    std::cerr << "session lost: " << why << "\n";
    if (!stop.HasBeenNotified()) stop.Notify();
  };
  auto session = lock::Session::Create(client->get(), options);
  if (!session.ok()) {
    std::cerr << session.status() << "\n";
    return 1;
  }
  lock::Election election(session->get(), name);
  auto observer =
      election.Observe([](const std::optional<lock::LeaderInfo>& leader) {
        if (leader.has_value()) {
          std::cout << "leader: " << leader->value << " (token "
                    << leader->token << ")\n";
        } else {
          std::cout << "no leader\n";
        }
      });

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  if (absl::Status st = election.Campaign(value); !st.ok()) {
    std::cerr << "campaign: " << st << "\n";
    return 1;
  }
  std::cout << "elected as " << value << " (token " << election.token()
            << ")\n";
  stop.WaitForNotification();
  observer.reset();
  election.Resign().IgnoreError();
  return (*session)->Close().ok() ? 0 : 1;
}
