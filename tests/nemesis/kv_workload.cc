#include "tests/nemesis/kv_workload.h"

#include <iostream>
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"

namespace berth::nemesis {

namespace lock = berth::lock;

void KvWorkload::Start() {
  start_ = absl::Now();
  for (int c = 0; c < clients_; ++c) {
    threads_.emplace_back([this, c] { Worker(c); });
  }
}

void KvWorkload::Stop() {
  stop_.store(true);
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void KvWorkload::Worker(int client) {
  lock::ClientOptions opts;
  opts.dial_timeout = absl::Milliseconds(500);
  opts.attempt_timeout = absl::Seconds(1);
  opts.request_timeout = absl::Seconds(4);
  auto c = lock::Client::Connect(endpoints_, opts);
  if (!c.ok()) {
    std::cerr << "kv client " << client << ": " << c.status() << "\n";
    return;
  }
  lock::KV& kv = (*c)->kv();
  std::mt19937_64 rng(seed_ * 1000 + client);
  std::map<std::string, std::string> last_seen;
  int64_t seq = 0;
  while (!stop_.load()) {
    int64_t epoch = (absl::Now() - start_) / absl::Seconds(10);
    sim::Op op;
    op.id = next_id_.fetch_add(1);
    op.client = client;
    op.key = absl::StrCat("/nem/kv/e", epoch, "/k", rng() % 3);
    int dice = static_cast<int>(rng() % 10);
    op.kind = dice < 4   ? sim::OpKind::kGet
              : dice < 7 ? sim::OpKind::kPut
                         : sim::OpKind::kCas;
    if (op.kind != sim::OpKind::kGet) {
      op.value = absl::StrCat("c", client, "-", ++seq);
    }
    if (op.kind == sim::OpKind::kCas) op.expected = last_seen[op.key];
    op.call = clock_.fetch_add(1) + 1;
    switch (op.kind) {
      case sim::OpKind::kGet: {
        auto r = kv.Get(op.key);
        if (r.ok()) {
          op.outcome = sim::Outcome::kOk;
          op.value = r->has_value() ? (*r)->value : "";
          last_seen[op.key] = op.value;
        }
        break;
      }
      case sim::OpKind::kPut: {
        auto r = kv.Put(op.key, op.value);
        if (r.ok()) {
          op.outcome = sim::Outcome::kOk;
          last_seen[op.key] = op.value;
        }
        break;
      }
      case sim::OpKind::kCas: {
        auto r = kv.Txn()
                     .If(lock::Compare::Value(op.key, lock::Compare::Op::kEqual,
                                              op.expected))
                     .Then(lock::TxnOp::Put(op.key, op.value))
                     .Commit();
        if (r.ok()) {
          op.outcome = r->succeeded ? sim::Outcome::kOk : sim::Outcome::kFailed;
          if (r->succeeded) last_seen[op.key] = op.value;
        }
        break;
      }
    }
    // Any error leaves the outcome unknown: sound for every error kind
    // (it only widens what the checker accepts), and exact for the ones
    // IsOutcomeUnknown() names.
    if (op.outcome != sim::Outcome::kUnknown) op.ret = clock_.fetch_add(1) + 1;
    absl::MutexLock l(&mu_);
    history_.push_back(std::move(op));
  }
}

KvStats KvWorkload::Stats() const {
  absl::MutexLock l(&mu_);
  KvStats s;
  std::set<std::string> keys;
  for (const sim::Op& op : history_) {
    ++s.ops;
    keys.insert(op.key);
    switch (op.outcome) {
      case sim::Outcome::kOk:
        ++s.ok;
        break;
      case sim::Outcome::kFailed:
        ++s.cas_failed;
        break;
      case sim::Outcome::kUnknown:
        ++s.unknown;
        break;
    }
  }
  s.keys = static_cast<int64_t>(keys.size());
  return s;
}

sim::LinearizabilityResult KvWorkload::Check() const {
  absl::MutexLock l(&mu_);
  return sim::CheckLinearizable(history_, 5'000'000);
}

}  // namespace berth::nemesis
