#include "agent/server/logs_service.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "agent/logs/log_reader.h"
#include "agent/logs/log_times.h"
#include "agent/runtime/runtime.h"

namespace berth::agent {
namespace {

constexpr size_t kChunkBytes = 64 << 10;
// How long one Follow waits before the loop checks for cancellation and
// whether the allocation has finished.
constexpr absl::Duration kFollowSlice = absl::Milliseconds(500);

grpc::Status ToGrpc(const absl::Status& s) {
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  if (absl::IsNotFound(s)) code = grpc::StatusCode::NOT_FOUND;
  if (absl::IsInvalidArgument(s)) code = grpc::StatusCode::INVALID_ARGUMENT;
  if (absl::IsDataLoss(s)) code = grpc::StatusCode::DATA_LOSS;
  return grpc::Status(code, std::string(s.message()));
}

bool Send(grpc::ServerWriter<agentpb::LogChunk>* writer, const LogChunk& c) {
  agentpb::LogChunk out;
  out.set_data(c.data);
  out.set_offset(c.offset);
  out.set_next_offset(c.next_offset);
  out.set_skipped(c.skipped);
  return writer->Write(out);
}

}  // namespace

grpc::Status LogsService::Logs(grpc::ServerContext* ctx,
                               const agentpb::LogsRequest* req,
                               grpc::ServerWriter<agentpb::LogChunk>* writer) {
  TaskSpec probe;
  probe.alloc_id = req->alloc_id();
  probe.argv = {"probe"};
  probe.sandbox_dir = "/probe";
  // The id becomes a path: reject anything that is not a valid task name.
  if (absl::Status s = ValidateTaskSpec(probe); !s.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("alloc_id: ", s.message()));
  }
  if (req->tail_lines() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "tail_lines must not be negative");
  }
  const LogStream stream = req->stream() == agentpb::STDERR
                               ? LogStream::kStderr
                               : LogStream::kStdout;
  absl::StatusOr<std::unique_ptr<LogReader>> reader =
      LogReader::Open(agent_->LogDir(req->alloc_id()), stream);
  if (!reader.ok()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no logs for allocation ", req->alloc_id(),
                                     " on this node"));
  }
  uint64_t offset = req->offset();
  if (req->tail_lines() > 0) {
    absl::StatusOr<LogChunk> tail = (*reader)->Tail(req->tail_lines());
    if (!tail.ok()) return ToGrpc(tail.status());
    if (!tail->data.empty() && !Send(writer, *tail)) return grpc::Status::OK;
    offset = tail->next_offset;
  } else if (req->offset() == 0 && req->since_unix_ms() > 0) {
    absl::StatusOr<LogChunk> end = (*reader)->Tail(0);
    if (!end.ok()) return ToGrpc(end.status());
    absl::StatusOr<uint64_t> since = LogOffsetSince(
        agent_->LogDir(req->alloc_id()), stream,
        absl::FromUnixMillis(req->since_unix_ms()), end->next_offset);
    if (!since.ok()) return ToGrpc(since.status());
    offset = *since;
  }
  while (!ctx->IsCancelled()) {
    // Asked before reading, so output written just before the allocation
    // finished is still read on this pass.
    const bool finished = agent_->LogsFinished(req->alloc_id());
    absl::StatusOr<LogChunk> chunk =
        req->follow() && !finished
            ? (*reader)->Follow(offset, kChunkBytes, absl::Now() + kFollowSlice)
            : (*reader)->Read(offset, kChunkBytes);
    if (!chunk.ok()) return ToGrpc(chunk.status());
    if (!chunk->data.empty() || chunk->skipped > 0) {
      if (!Send(writer, *chunk)) return grpc::Status::OK;
      offset = chunk->next_offset;
      continue;
    }
    // Without follow, the tail (or range read) is all there is; with it,
    // stop once nothing more can come.
    if (!req->follow() || finished) break;
  }
  return grpc::Status::OK;
}

}  // namespace berth::agent
