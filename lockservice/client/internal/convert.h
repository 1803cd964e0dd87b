// Conversions between lockpb messages and the library's plain structs.
//
// Thread safety: stateless functions.
#ifndef BERTH_LOCKSERVICE_CLIENT_INTERNAL_CONVERT_H_
#define BERTH_LOCKSERVICE_CLIENT_INTERNAL_CONVERT_H_

#include "lockservice/client/client.h"
#include "lockservice/client/kv.h"
#include "proto/lock.pb.h"

namespace berth::lock::internal {

KeyValue FromProto(const lockpb::KeyValue& kv);
Member FromProto(const lockpb::Member& m);
RangeResult FromProto(const lockpb::RangeResponse& r);
PutResult FromProto(const lockpb::PutResponse& r);
DeleteResult FromProto(const lockpb::DeleteRangeResponse& r);

lockpb::RangeRequest ToRangeRequest(absl::string_view key,
                                    const RangeOptions& options);
lockpb::PutRequest ToPutRequest(absl::string_view key, absl::string_view value,
                                const PutOptions& options);
lockpb::DeleteRangeRequest ToDeleteRequest(absl::string_view key,
                                           const DeleteOptions& options);
lockpb::Compare ToProto(const Compare& c);
lockpb::RequestOp ToProto(const TxnOp& op);

}  // namespace berth::lock::internal

#endif  // BERTH_LOCKSERVICE_CLIENT_INTERNAL_CONVERT_H_
