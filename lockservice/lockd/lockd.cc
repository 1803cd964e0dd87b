#include "lockservice/lockd/lockd.h"

#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/tls/listen.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/lockd/core.h"
#include "lockservice/lockd/etcd/etcd_server.h"
#include "lockservice/lockd/leader_duties.h"
#include "lockservice/lockd/lease_keeper.h"
#include "lockservice/lockd/lockd_metrics.h"
#include "lockservice/lockd/services.h"
#include "lockservice/node/grpc_transport.h"
#include "lockservice/storage/sqlite_storage.h"

namespace berth::lockd {

absl::StatusOr<std::map<uint64_t, std::string>> ParsePeers(
    const std::string& spec) {
  std::map<uint64_t, std::string> out;
  for (absl::string_view part : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    uint64_t id;
    if (!absl::SimpleAtoi(kv.first, &id) || id == 0 || kv.second.empty() ||
        kv.second.find(':') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--peers: '", part, "' is not ID=HOST:PORT with ID > 0"));
    }
    if (!out.emplace(id, kv.second).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--peers: id ", id, " is listed twice"));
    }
  }
  return out;
}

namespace {

class LockdImpl : public Lockd {
 public:
  ~LockdImpl() override { Shutdown(); }

  absl::Status Init(const LockdOptions& opts) {
    opts_ = opts;
    if (opts_.peers.empty()) opts_.peers[opts_.id] = opts_.listen;
    if (!opts_.peers.contains(opts_.id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--peers does not list this replica's id ", opts_.id));
    }
    std::error_code ec;
    std::filesystem::create_directories(opts_.data_dir, ec);
    if (ec) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot create data dir ", opts_.data_dir, ": ", ec.message()));
    }
    std::string path = opts_.data_dir + "/lockd.db";

    storage::SqliteStorage::Options so;
    if (!opts_.join) {
      for (auto& [id, addr] : opts_.peers) so.bootstrap.add_voters(id);
    }
    auto st = storage::SqliteStorage::Open(path, so);
    if (!st.ok()) return st.status();
    storage_ = std::move(*st);

    lock::StateMachine::Options smo;
    smo.path = path;
    smo.limits.default_lock_delay_ms = opts_.default_lock_delay_ms;
    auto sm = lock::StateMachine::Open(smo);
    if (!sm.ok()) return sm.status();
    store_ = std::make_unique<ReplicatedStore>(std::move(*sm), &hub_);
    store_->SetSnapshotPath(path);

    transport_ = std::make_unique<node::GrpcTransport>(
        opts_.id,
        [this](uint64_t peer) {
          if (node_) node_->ReportUnreachable(peer);
        },
        opts_.credentials.channel());
    for (auto& [id, addr] : opts_.peers) transport_->AddPeer(id, addr);

    node::NodeOptions no;
    no.id = opts_.id;
    no.tick_interval = opts_.tick;
    no.election_tick = opts_.election_ticks;
    no.stall_threshold = opts_.stall_threshold;
    no.snapshot_every = opts_.snapshot_every;
    no.keep_entries = opts_.snapshot_keep_entries;
    no.on_storage_failure = opts_.on_storage_failure;
    auto node = node::RaftNode::Create(no, storage_.get(), store_.get(),
                                       transport_.get());
    if (!node.ok()) return node.status();
    node_ = std::move(*node);
    metrics_ = std::make_unique<LockdMetrics>(&registry_, opts_.id, node_.get(),
                                              store_.get(), &hub_);
    store_->SetApplyBatchHistogram(metrics_->apply_batch());
    store_->OnMembersChanged([this] {
      for (auto& [id, addr] : store_->Members()) {
        std::string a = addr.substr(0, addr.find(' '));
        transport_->AddPeer(id, a);
      }
    });
    for (auto& [id, addr] : store_->Members()) {
      transport_->AddPeer(id, addr.substr(0, addr.find(' ')));
    }

    CoreOptions co;
    co.id = opts_.id;
    co.self_address = opts_.listen;
    uint64_t cid = 1469598103934665603ull;
    for (auto& [id, addr] : opts_.peers) {
      for (char c : absl::StrCat(id, "=", addr, ",")) {
        cid = (cid ^ static_cast<unsigned char>(c)) * 1099511628211ull;
      }
    }
    co.cluster_id = cid;
    core_ =
        std::make_unique<Core>(co, Clock::Real(), node_.get(), store_.get());
    core_->SetBootstrapAddresses(opts_.peers);
    LeaseKeeperOptions ko;
    ko.self_id = opts_.id;
    ko.checkpoint_interval = opts_.lease_checkpoint_interval;
    auto keeper = LeaseKeeper::Create(Clock::Real(), ko);
    if (!keeper.ok()) return keeper.status();
    keeper_ = std::move(*keeper);
    core_->set_lease_keeper(keeper_.get());
    core_->set_proposal_metrics(metrics_->proposals().pending,
                                metrics_->proposals().duration);
    node_->OnLeaderChange([this](uint64_t leader, uint64_t term) {
      keeper_->ObserveLeader(leader, term);
      metrics_->ObserveLeader(leader, term);
    });

    kv_ = std::make_unique<KvService>(core_.get());
    lease_ = std::make_unique<LeaseService>(core_.get());
    watch_ = std::make_unique<WatchService>(core_.get(), &hub_);
    lock_ = std::make_unique<LockService>(core_.get());
    election_ = std::make_unique<ElectionService>(core_.get(), &hub_);
    cluster_ = std::make_unique<ClusterService>(core_.get(),
                                                opts_.quota_backend_bytes);
    auth_ = std::make_unique<AuthService>(core_.get());
    peer_ = std::make_unique<node::RaftPeerService>(node_.get());

    grpc::ServerBuilder b;
    int port = 0;
    tls::AddListener(&b, opts_.listen, opts_.credentials.server(), &port);
    b.SetMaxReceiveMessageSize(64 << 20);
    b.SetMaxSendMessageSize(64 << 20);
    // The sync server holds one thread per in-flight call and, by default,
    // lets a thread exit as soon as more than 2 are idle: under 64 clients
    // the leader created ~100 threads a second. Keep idle threads around.
    b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS,
                          2);
    b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                          256);
    for (grpc::Service* s : std::initializer_list<grpc::Service*>{
             kv_.get(), lease_.get(), watch_.get(), lock_.get(),
             election_.get(), cluster_.get(), auth_.get(), peer_.get()}) {
      b.RegisterService(s);
    }
    server_ = b.BuildAndStart();
    if (!server_ || port == 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", opts_.listen,
                       " (address in use, or not a valid host:port?)"));
    }
    if (!opts_.etcd_listen.empty()) {
      auto etcd = etcd::EtcdServer::Start(
          opts_.etcd_listen, core_.get(),
          server_->InProcessChannel(grpc::ChannelArguments()),
          opts_.credentials);
      if (!etcd.ok()) return etcd.status();
      etcd_ = std::move(*etcd);
    }
    auto http = metrics::ServeMetrics(opts_.metrics, &registry_,
                                      absl::StrCat("berth-lockd ", opts_.id));
    if (!http.ok()) return http.status();
    metrics_http_ = std::move(*http);
    node_->Start();
    LeaderDutiesOptions lo;
    lo.max_expiries_per_second = opts_.max_expiries_per_second;
    lo.election_grace = opts_.tick * opts_.election_ticks * 2;
    lo.auto_compaction = opts_.auto_compaction;
    lo.quota_backend_bytes = opts_.quota_backend_bytes;
    duties_ = std::make_unique<LeaderDuties>(core_.get(), keeper_.get(), lo);
    duties_->Start();
    return absl::OkStatus();
  }

  void Wait() override {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

  void Shutdown() override {
    {
      absl::MutexLock l(&mu_);
      if (stopped_) {
        // Another thread is shutting down: wait until it has finished, so
        // that the caller may destroy us afterwards.
        mu_.Await(absl::Condition(&done_));
        return;
      }
      stopped_ = true;
    }
    // Scrapes read the node and the store.
    metrics_http_.reset();
    // First: its calls are relayed to the services below.
    if (etcd_) etcd_->Shutdown();
    if (duties_) duties_->Stop();
    // Stopping the node first fails every RPC blocked on replication, so
    // the server's drain below is quick.
    if (node_) node_->Stop();
    if (server_) {
      server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    }
    transport_.reset();
    absl::MutexLock l(&mu_);
    done_ = true;
  }

  std::string address() const override { return opts_.listen; }

 private:
  LockdOptions opts_;
  std::unique_ptr<storage::SqliteStorage> storage_;
  WatchHub hub_;
  std::unique_ptr<ReplicatedStore> store_;
  std::unique_ptr<node::GrpcTransport> transport_;
  std::unique_ptr<node::RaftNode> node_;
  metrics::Registry registry_;
  std::unique_ptr<LockdMetrics> metrics_;
  std::unique_ptr<metrics::HttpServer> metrics_http_;
  std::unique_ptr<Core> core_;
  std::unique_ptr<LeaseKeeper> keeper_;
  std::unique_ptr<KvService> kv_;
  std::unique_ptr<LeaseService> lease_;
  std::unique_ptr<WatchService> watch_;
  std::unique_ptr<LockService> lock_;
  std::unique_ptr<ElectionService> election_;
  std::unique_ptr<ClusterService> cluster_;
  std::unique_ptr<AuthService> auth_;
  std::unique_ptr<node::RaftPeerService> peer_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<etcd::EtcdServer> etcd_;
  std::unique_ptr<LeaderDuties> duties_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Lockd>> Lockd::Start(const LockdOptions& opts) {
  auto l = std::make_unique<LockdImpl>();
  absl::Status st = l->Init(opts);
  if (!st.ok()) return st;
  return std::unique_ptr<Lockd>(std::move(l));
}

}  // namespace berth::lockd
