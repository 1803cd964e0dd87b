// etcd Watch semantics that etcdctl does not exercise (filters, progress
// requests, cancel, compacted start revisions), driven over gRPC against a
// berth-lockd replica's etcd port and against a real etcd; the transcripts
// must match once revisions are reduced to "set".
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/ports.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/etcd/rpc.grpc.pb.h"
#include "tests/e2e/etcd_process.h"
#include "tests/e2e/lockd_harness.h"

namespace berth::e2e {
namespace {

using etcdserverpb::WatchCreateRequest;
using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;
using Stream = grpc::ClientReaderWriter<WatchRequest, WatchResponse>;

class Scenario {
 public:
  explicit Scenario(const std::string& ep)
      : ch_(grpc::CreateChannel(ep, grpc::InsecureChannelCredentials())),
        kv_(etcdserverpb::KV::NewStub(ch_)) {}

  int64_t Put(const std::string& k, const std::string& v) {
    etcdserverpb::PutRequest r;
    r.set_key(k);
    r.set_value(v);
    etcdserverpb::PutResponse out;
    grpc::ClientContext c;
    EXPECT_TRUE(kv_->Put(&c, r, &out).ok());
    return out.header().revision();
  }
  void Delete(const std::string& k) {
    etcdserverpb::DeleteRangeRequest r;
    r.set_key(k);
    etcdserverpb::DeleteRangeResponse out;
    grpc::ClientContext c;
    EXPECT_TRUE(kv_->DeleteRange(&c, r, &out).ok());
  }
  void Compact(int64_t rev) {
    etcdserverpb::CompactionRequest r;
    r.set_revision(rev);
    etcdserverpb::CompactionResponse out;
    grpc::ClientContext c;
    grpc::Status st = kv_->Compact(&c, r, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
  }

  // Runs the scenario and returns its transcript.
  std::string Run() {
    int64_t r1 = Put("/w/a", "1");
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    std::unique_ptr<Stream> s = etcdserverpb::Watch::NewStub(ch_)->Watch(&ctx);

    // A: deletes only, with the previous value.
    WatchRequest a;
    a.mutable_create_request()->set_key("/w/");
    a.mutable_create_request()->set_range_end("/w0");
    a.mutable_create_request()->add_filters(WatchCreateRequest::NOPUT);
    a.mutable_create_request()->set_prev_kv(true);
    s->Write(a);
    Next(s.get(), "A");
    Put("/w/a", "2");
    Delete("/w/a");
    Next(s.get(), "A");

    // A progress request answers with the current revision, no events.
    WatchRequest p;
    p.mutable_progress_request();
    s->Write(p);
    Next(s.get(), "progress");

    WatchRequest cancel_a;
    cancel_a.mutable_cancel_request()->set_watch_id(ids_["A"]);
    s->Write(cancel_a);
    Next(s.get(), "A cancel");

    // B: puts only on /w/b, replaying from r1.
    WatchRequest b;
    b.mutable_create_request()->set_key("/w/b");
    b.mutable_create_request()->set_start_revision(r1);
    b.mutable_create_request()->add_filters(WatchCreateRequest::NODELETE);
    s->Write(b);
    Next(s.get(), "B");
    Put("/w/b", "x");
    Delete("/w/b");
    int64_t last = Put("/w/b", "y");
    while (events_ < 3) Next(s.get(), "B");

    // C: from a compacted revision.
    Compact(last);
    WatchRequest c;
    c.mutable_create_request()->set_key("/w/");
    c.mutable_create_request()->set_range_end("/w0");
    c.mutable_create_request()->set_start_revision(r1);
    s->Write(c);
    Next(s.get(), "C");
    if (log_.back().find("canceled") == std::string::npos) Next(s.get(), "C");
    s->WritesDone();
    return absl::StrJoin(log_, "\n");
  }

 private:
  void Next(Stream* s, const std::string& who) {
    WatchResponse r;
    if (!s->Read(&r)) {
      log_.push_back(who + ": stream ended");
      return;
    }
    if (r.created()) ids_[who] = r.watch_id();
    // One line per event: how events are batched into responses depends
    // on timing. A compacted cancel has no header in etcd, so canceled
    // lines leave the header out.
    if (r.events_size() == 0 || r.created() || r.canceled()) {
      log_.push_back(absl::StrCat(
          who, ":", r.created() ? " created" : "",
          r.canceled() ? " canceled" : "",
          r.compact_revision() > 0 ? " compacted" : "",
          !r.canceled() && r.header().revision() > 0 ? " rev" : ""));
    }
    for (const auto& e : r.events()) {
      ++events_;
      std::string line = absl::StrCat(
          who, ": ", e.type() == mvccpb::Event::PUT ? "PUT " : "DELETE ",
          e.kv().key(), "=", e.kv().value());
      if (e.has_prev_kv())
        absl::StrAppend(&line, " prev=", e.prev_kv().value());
      log_.push_back(line);
    }
  }

  std::shared_ptr<grpc::Channel> ch_;
  std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  std::map<std::string, int64_t> ids_;
  std::vector<std::string> log_;
  int events_ = 0;
};

TEST(EtcdWatchTest, FiltersProgressCancelAndCompactionMatchEtcd) {
  absl::StatusOr<int> base = FindFreePortBlock(10, getpid() ^ 0x3a7c);
  ASSERT_TRUE(base.ok()) << base.status();
  LockdCluster cluster(1);
  absl::StatusOr<std::vector<std::string>> eps =
      StartWithEtcdPorts(&cluster, 1, *base);
  ASSERT_TRUE(eps.ok()) << eps.status();
  const std::string& ep = (*eps)[0];
  auto etcd = EtcdProcess::Start(*base + 5, *base + 6);
  ASSERT_TRUE(etcd.ok()) << etcd.status();

  std::string berth = Scenario(ep).Run();
  std::string real = Scenario((*etcd)->endpoint()).Run();
  EXPECT_EQ(berth, real);
  EXPECT_THAT(berth, ::testing::HasSubstr("A: DELETE /w/a= prev=2"));
  EXPECT_THAT(berth, ::testing::HasSubstr("C: canceled compacted"));
}

}  // namespace
}  // namespace berth::e2e
