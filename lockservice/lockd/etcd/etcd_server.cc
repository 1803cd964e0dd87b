#include "lockservice/lockd/etcd/etcd_server.h"

#include "absl/strings/str_cat.h"
#include "common/tls/listen.h"
#include "lockservice/lockd/etcd/services.h"
#include "lockservice/lockd/etcd/unimplemented.h"

namespace berth::lockd::etcd {

struct EtcdServer::Parts {
  Parts(Core* core, std::shared_ptr<grpc::Channel> local, std::string listen)
      : backend(core, std::move(local), std::move(listen)),
        kv(&backend),
        lease(&backend),
        watch(&backend),
        cluster(&backend),
        maintenance(&backend),
        lock(&backend),
        election(&backend) {}
  Backend backend;
  KvService kv;
  LeaseService lease;
  WatchService watch;
  ClusterService cluster;
  MaintenanceService maintenance;
  LockService lock;
  ElectionService election;
  UnimplementedService unimplemented;
  std::unique_ptr<grpc::Server> server;
};

absl::StatusOr<std::unique_ptr<EtcdServer>> EtcdServer::Start(
    const std::string& listen, Core* core,
    std::shared_ptr<grpc::Channel> local) {
  std::unique_ptr<EtcdServer> s(new EtcdServer());
  s->parts_ = std::make_unique<Parts>(core, std::move(local), listen);
  Parts& p = *s->parts_;
  grpc::ServerBuilder b;
  int port = 0;
  tls::AddListener(&b, listen, nullptr, &port);
  b.SetMaxReceiveMessageSize(64 << 20);
  b.SetMaxSendMessageSize(64 << 20);
  // Each relayed call holds a thread (services.h); keep idle ones around.
  b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                        256);
  for (grpc::Service* svc : std::initializer_list<grpc::Service*>{
           &p.kv, &p.lease, &p.watch, &p.cluster, &p.maintenance, &p.lock,
           &p.election}) {
    b.RegisterService(svc);
  }
  b.RegisterCallbackGenericService(&p.unimplemented);
  p.server = b.BuildAndStart();
  if (!p.server || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on --etcd-listen ", listen,
                     " (address in use, or not a valid host:port?)"));
  }
  return s;
}

EtcdServer::~EtcdServer() { Shutdown(); }

void EtcdServer::Shutdown() {
  if (parts_ && parts_->server) {
    parts_->server->Shutdown(
        absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    parts_->server->Wait();
    parts_->server.reset();
  }
}

}  // namespace berth::lockd::etcd
