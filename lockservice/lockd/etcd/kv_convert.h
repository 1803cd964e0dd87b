// Translation of etcd's KV messages (etcdserverpb, mvccpb) to berth's
// (lockpb) and back, and of the response header every service shares.
// Pure functions; no I/O.
//
// Most fields map one to one. Two things do not:
//  * berth's Range has no sort and no min/max revision filters. The
//    translated request then asks for the whole range without a limit, and
//    ShapeRange sorts, filters and cuts the answer the way etcd would.
//  * requests berth cannot express (a nested Txn, a Compare over a key
//    range, Put with ignore_value/ignore_lease) fail with UNIMPLEMENTED,
//    naming what is missing, rather than running with different meaning.
#ifndef BERTH_LOCKSERVICE_LOCKD_ETCD_KV_CONVERT_H_
#define BERTH_LOCKSERVICE_LOCKD_ETCD_KV_CONVERT_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/etcd/kv.pb.h"
#include "proto/etcd/rpc.pb.h"
#include "proto/lock.pb.h"

namespace berth::lockd::etcd {

// etcd's header from berth's (berth's leader fields have no etcd place).
void ToEtcdHeader(const lockpb::ResponseHeader& in,
                  etcdserverpb::ResponseHeader* out);

void ToEtcd(const lockpb::KeyValue& in, mvccpb::KeyValue* out);
void ToEtcd(const lockpb::Event& in, mvccpb::Event* out);

lockpb::RangeRequest ToBerth(const etcdserverpb::RangeRequest& in);
// Applies the parts of `req` berth did not: filters, sort, limit.
void ShapeRange(const etcdserverpb::RangeRequest& req,
                const lockpb::RangeResponse& in,
                etcdserverpb::RangeResponse* out);

absl::StatusOr<lockpb::PutRequest> ToBerth(const etcdserverpb::PutRequest& in);
void ToEtcd(const lockpb::PutResponse& in, etcdserverpb::PutResponse* out);

lockpb::DeleteRangeRequest ToBerth(const etcdserverpb::DeleteRangeRequest& in);
void ToEtcd(const lockpb::DeleteRangeResponse& in,
            etcdserverpb::DeleteRangeResponse* out);

absl::StatusOr<lockpb::TxnRequest> ToBerth(const etcdserverpb::TxnRequest& in);
// `req` is the etcd request the response answers (its range ops say how
// to shape each range result).
void ToEtcd(const etcdserverpb::TxnRequest& req, const lockpb::TxnResponse& in,
            etcdserverpb::TxnResponse* out);

}  // namespace berth::lockd::etcd

#endif  // BERTH_LOCKSERVICE_LOCKD_ETCD_KV_CONVERT_H_
