#include "tests/sim/kv_state_machine.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace berth::sim {

std::string KvStateMachine::EncodePut(uint64_t op_id, const std::string& key,
                                      const std::string& value) {
  KvCommand c;
  c.set_op_id(op_id);
  c.set_type(KV_PUT);
  c.set_key(key);
  c.set_value(value);
  return c.SerializeAsString();
}

std::string KvStateMachine::EncodeCas(uint64_t op_id, const std::string& key,
                                      const std::string& expected,
                                      const std::string& value) {
  KvCommand c;
  c.set_op_id(op_id);
  c.set_type(KV_CAS);
  c.set_key(key);
  c.set_expected(expected);
  c.set_value(value);
  return c.SerializeAsString();
}

absl::StatusOr<ApplyResult> KvStateMachine::Apply(const raftpb::Entry& e) {
  if (e.index() != applied_ + 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "kv apply: entry ", e.index(), " does not follow applied ", applied_));
  }
  applied_ = e.index();
  if (e.type() != raftpb::ENTRY_NORMAL || e.data().empty()) {
    return ApplyResult{};
  }
  KvCommand c;
  if (!c.ParseFromString(e.data())) {
    return absl::DataLossError(
        absl::StrCat("kv apply: entry ", e.index(), " is not a KvCommand"));
  }
  ApplyResult r{c.op_id(), false};
  if (auto it = results_.find(c.op_id()); it != results_.end()) {
    r.ok = it->second;
    return r;
  }
  std::string& slot = data_[c.key()];
  if (c.type() == KV_PUT || slot == c.expected()) {
    slot = c.value();
    r.ok = true;
  }
  if (slot.empty()) data_.erase(c.key());
  results_[c.op_id()] = r.ok;
  return r;
}

std::string KvStateMachine::Get(const std::string& key) const {
  auto it = data_.find(key);
  return it == data_.end() ? std::string() : it->second;
}

std::string KvStateMachine::Serialize() const {
  KvSnapshot s;
  s.set_applied(applied_);
  for (const auto& [k, v] : data_) (*s.mutable_data())[k] = v;
  for (const auto& [id, ok] : results_) (*s.mutable_results())[id] = ok;
  // Deterministic so that snapshot bytes are comparable across replicas.
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  s.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

absl::Status KvStateMachine::Restore(const std::string& data, uint64_t index) {
  KvSnapshot s;
  if (!s.ParseFromString(data)) {
    return absl::DataLossError(
        absl::StrCat("kv restore: snapshot at ", index, " does not parse"));
  }
  if (s.applied() != index) {
    return absl::DataLossError(absl::StrCat(
        "kv restore: image is at ", s.applied(), ", snapshot says ", index));
  }
  applied_ = index;
  data_.clear();
  results_.clear();
  for (const auto& [k, v] : s.data()) data_[k] = v;
  for (const auto& [id, ok] : s.results()) results_[id] = ok;
  return absl::OkStatus();
}

}  // namespace berth::sim
