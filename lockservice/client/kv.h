// KV: reads, writes and transactions on berth-lockd's key space.
//
// Reads are linearizable unless `serializable` is set (then a replica may
// answer from its own, possibly stale, state). Puts, deletes and
// transactions are exactly-once: each carries a WriteId (this KV's random
// client id and a fresh seq), so the client retries it across failover and
// lost replies like a read, and the servers apply it at most once (see
// WriteId in proto/lock.proto). Only a call that gives up after an attempt
// that may have been applied fails with IsOutcomeUnknown() (see client.h).
// ClientOptions::exactly_once_writes = false restores the old rule.
//
// Thread safety: KV is thread-safe. A Txn builder is not; build and commit
// it on one thread. Ownership: KV is owned by its Client (Client::kv()); a
// Txn borrows the KV and must not outlive the Client.
#ifndef BERTH_LOCKSERVICE_CLIENT_KV_H_
#define BERTH_LOCKSERVICE_CLIENT_KV_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::lock {

namespace internal {
class Router;
class WriteIds;
}  // namespace internal

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;  // 1 right after creation
  int64_t lease = 0;    // 0 when not bound to a lease
};

struct RangeOptions {
  // Match every key starting with the given key (ignores range_end).
  bool prefix = false;
  // Otherwise [key, range_end); empty means the single key.
  std::string range_end;
  int64_t limit = 0;  // 0 = no limit
  bool serializable = false;
  bool keys_only = false;
  bool count_only = false;
};

struct RangeResult {
  int64_t revision = 0;  // store revision the answer reflects
  std::vector<KeyValue> kvs;
  bool more = false;  // `limit` cut the answer short
  int64_t count = 0;  // keys in range, ignoring limit
};

struct PutOptions {
  int64_t lease = 0;
  bool prev_kv = false;
};

struct PutResult {
  int64_t revision = 0;
  std::optional<KeyValue> prev_kv;
};

struct DeleteOptions {
  bool prefix = false;
  std::string range_end;
  bool prev_kv = false;
};

struct DeleteResult {
  int64_t revision = 0;
  int64_t deleted = 0;
  std::vector<KeyValue> prev_kvs;
};

// One comparison of a transaction. A missing key has version, create and
// mod revision 0 and an empty value.
struct Compare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue, kLease };
  enum class Op { kEqual, kNotEqual, kGreater, kLess };

  static Compare Version(std::string key, Op op, int64_t v);
  static Compare CreateRevision(std::string key, Op op, int64_t rev);
  static Compare ModRevision(std::string key, Op op, int64_t rev);
  static Compare Value(std::string key, Op op, std::string value);
  static Compare Lease(std::string key, Op op, int64_t lease);

  Target target = Target::kVersion;
  Op op = Op::kEqual;
  std::string key;
  int64_t number = 0;  // for every target but kValue
  std::string value;   // for kValue
};

// One operation of a transaction branch.
struct TxnOp {
  enum class Kind { kGet, kPut, kDelete };

  static TxnOp Get(std::string key, RangeOptions options = {});
  static TxnOp Put(std::string key, std::string value, PutOptions options = {});
  static TxnOp Delete(std::string key, DeleteOptions options = {});

  Kind kind = Kind::kGet;
  std::string key;
  std::string value;
  RangeOptions range;
  PutOptions put;
  DeleteOptions del;
};

// The result of one TxnOp; only the member matching `kind` is filled.
struct TxnOpResult {
  TxnOp::Kind kind = TxnOp::Kind::kGet;
  RangeResult range;
  PutResult put;
  DeleteResult del;
};

struct TxnResult {
  int64_t revision = 0;
  bool succeeded = false;  // the If() comparisons held; Then() ran
  std::vector<TxnOpResult> results;
};

class KV;

// Builder: kv.Txn().If(...).Then(...).Else(...).Guard(lock, token).Commit().
class Txn {
 public:
  explicit Txn(KV* kv) : kv_(kv) {}

  Txn& If(Compare compare);
  Txn& Then(TxnOp op);
  Txn& Else(TxnOp op);
  // Runs only while `token` is the current fencing token of `lock_name`;
  // otherwise Commit fails with FAILED_PRECONDITION and nothing runs.
  Txn& Guard(std::string lock_name, int64_t token);

  absl::StatusOr<TxnResult> Commit();

 private:
  friend class KV;
  KV* kv_;
  std::vector<Compare> compares_;
  std::vector<TxnOp> then_;
  std::vector<TxnOp> else_;
  std::optional<std::pair<std::string, int64_t>> guard_;
};

class KV {
 public:
  explicit KV(internal::Router* router);
  ~KV();
  KV(const KV&) = delete;
  KV& operator=(const KV&) = delete;

  // The value of `key`, or nullopt if it does not exist.
  absl::StatusOr<std::optional<KeyValue>> Get(absl::string_view key,
                                              bool serializable = false);
  absl::StatusOr<RangeResult> Range(absl::string_view key,
                                    const RangeOptions& options);
  absl::StatusOr<PutResult> Put(absl::string_view key, absl::string_view value,
                                const PutOptions& options = {});
  absl::StatusOr<DeleteResult> Delete(absl::string_view key,
                                      const DeleteOptions& options = {});
  lock::Txn Txn() { return lock::Txn(this); }
  absl::StatusOr<TxnResult> Commit(const lock::Txn& txn);
  // Discards watch history below `revision`.
  absl::Status Compact(int64_t revision);

 private:
  // Runs one write RPC `fn(stubs, ctx, out, write_id)`; write_id is null
  // when exactly-once writes are off.
  template <typename Resp, typename Fn>
  absl::StatusOr<Resp> Write(absl::string_view what, Fn fn);

  internal::Router* router_;
  // Null when ClientOptions::exactly_once_writes is false.
  std::unique_ptr<internal::WriteIds> write_ids_;
};

}  // namespace berth::lock

#endif  // BERTH_LOCKSERVICE_CLIENT_KV_H_
