// berth cluster status|members|add ADDR|remove ID|transfer-leader ID|defrag
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "grpcpp/grpcpp.h"
#include "lockservice/client/client.h"
#include "proto/lock.grpc.pb.h"

namespace berth::cli {

namespace {

Json MembersJson(const std::vector<lock::Member>& members) {
  std::vector<Json> out;
  for (const lock::Member& m : members) out.push_back(MemberJson(m));
  return JList(out);
}

int PrintMembers(Context& ctx, const std::vector<lock::Member>& members,
                 uint64_t leader_id) {
  if (ctx.json()) {
    absl::Status st =
        PrintJson(*ctx.out, JObj({{"members", MembersJson(members)}}));
    return st.ok() ? kExitOk : ctx.Fail(st);
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "NAME", "ADDRESS", "ROLE"}};
  for (const lock::Member& m : members) {
    std::string role = m.is_learner ? "learner" : "voter";
    if (m.id == leader_id && leader_id != 0) role = "leader";
    rows.push_back({absl::StrCat(m.id), m.name, m.address, role});
  }
  PrintTable(*ctx.out, rows);
  return kExitOk;
}

std::string Bytes(int64_t n) {
  if (n >= (int64_t{1} << 30)) {
    return absl::StrFormat("%.2f GiB", n / double(int64_t{1} << 30));
  }
  if (n >= (1 << 20)) return absl::StrFormat("%.1f MiB", n / double(1 << 20));
  if (n >= (1 << 10)) return absl::StrFormat("%.1f KiB", n / double(1 << 10));
  return absl::StrCat(n, " B");
}

int Status(Context& ctx) {
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  auto s = (*client)->Status();
  if (!s.ok()) return ctx.Fail(s.status());
  std::vector<Json> alarms;
  for (const std::string& a : s->alarms) alarms.push_back(JStr(a));
  if (ctx.json()) {
    absl::Status st = PrintJson(
        *ctx.out,
        JObj({{"cluster_id", JId(s->cluster_id)},
              {"member_id", JId(s->member_id)},
              {"leader_id", JId(s->leader_id)},
              {"leader_addr", JStr(s->leader_addr)},
              {"raft_term", JNum(static_cast<int64_t>(s->raft_term))},
              {"raft_index", JNum(static_cast<int64_t>(s->raft_index))},
              {"applied_index", JNum(static_cast<int64_t>(s->applied_index))},
              {"revision", JNum(s->revision)},
              {"compact_revision", JNum(s->compact_revision)},
              {"db_size_bytes", JNum(s->db_size_bytes)},
              {"db_size_in_use_bytes", JNum(s->db_size_in_use_bytes)},
              {"quota_backend_bytes", JNum(s->quota_backend_bytes)},
              {"alarms", JList(alarms)},
              {"raft_thread_stalls",
               JNum(static_cast<int64_t>(s->raft_thread_stalls))},
              {"members", MembersJson(s->members)}}));
    return st.ok() ? kExitOk : ctx.Fail(st);
  }
  *ctx.out << "leader: "
           << (s->leader_id == 0
                   ? std::string("none")
                   : absl::StrCat(s->leader_id, " at ", s->leader_addr))
           << "\nterm " << s->raft_term << ", index " << s->raft_index
           << ", applied " << s->applied_index << ", revision " << s->revision
           << " (history from " << s->compact_revision << ")\n"
           << "database (member " << s->member_id
           << "): " << Bytes(s->db_size_bytes) << ", "
           << Bytes(s->db_size_in_use_bytes) << " in use, quota "
           << (s->quota_backend_bytes > 0 ? Bytes(s->quota_backend_bytes)
                                          : std::string("none"))
           << "\n";
  *ctx.out << "raft thread stalls (member " << s->member_id
           << "): " << s->raft_thread_stalls << "\n";
  if (s->alarms.empty()) *ctx.out << "alarms: none\n";
  for (const std::string& a : s->alarms) *ctx.out << "ALARM: " << a << "\n";
  *ctx.out << "\n";
  return PrintMembers(ctx, s->members, s->leader_id);
}

int Members(Context& ctx) {
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  auto members = (*client)->MemberList();
  if (!members.ok()) return ctx.Fail(members.status());
  return PrintMembers(ctx, *members, 0);
}

int Add(Context& ctx) {
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  auto m = (*client)->MemberAdd(ctx.Arg("ADDR"), ctx.Has("learner"),
                                ctx.Arg("name"));
  if (!m.ok()) {
    return m.status().code() == absl::StatusCode::kInvalidArgument
               ? ctx.UsageError(m.status())
               : ctx.Fail(m.status());
  }
  if (ctx.json()) {
    absl::Status st = PrintJson(*ctx.out, JObj({{"member", MemberJson(*m)}}));
    return st.ok() ? kExitOk : ctx.Fail(st);
  }
  *ctx.out << "added member " << m->id << " at " << m->address << "\n";
  return kExitOk;
}

int Remove(Context& ctx) {
  absl::StatusOr<uint64_t> id = ParseMemberId("ID", ctx.Arg("ID"));
  if (!id.ok()) return ctx.UsageError(id.status());
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  auto members = (*client)->MemberRemove(*id);
  if (!members.ok()) return ctx.Fail(members.status());
  if (!ctx.json()) *ctx.out << "removed member " << *id << "\n";
  return PrintMembers(ctx, *members, 0);
}

int Transfer(Context& ctx) {
  absl::StatusOr<uint64_t> id = ParseMemberId("ID", ctx.Arg("ID"));
  if (!id.ok()) return ctx.UsageError(id.status());
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  absl::Status st = (*client)->TransferLeader(*id);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json()) {
    st = PrintJson(*ctx.out, JObj({{"target_id", JId(*id)}}));
    return st.ok() ? kExitOk : ctx.Fail(st);
  }
  *ctx.out << "leadership transfer to member " << *id << " requested\n";
  return kExitOk;
}

// Defragments one replica through its own address (the call is local to
// the replica, not forwarded to the leader).
absl::StatusOr<lockpb::DefragmentResponse> DefragOne(
    const std::string& address, absl::Duration timeout,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  auto stub = lockpb::Cluster::NewStub(
      grpc::CreateChannel(address, std::move(credentials)));
  grpc::ClientContext gctx;
  gctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  lockpb::DefragmentResponse resp;
  grpc::Status st = stub->Defragment(&gctx, lockpb::DefragmentRequest(), &resp);
  if (!st.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                        absl::StrCat(address, ": ", st.error_message()));
  }
  return resp;
}

int Defrag(Context& ctx) {
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  auto s = (*client)->Status();
  if (!s.ok()) return ctx.Fail(s.status());
  std::vector<lock::Member> order;
  uint64_t only = 0;
  if (ctx.Has("member")) {
    absl::StatusOr<uint64_t> id = ParseMemberId("--member", ctx.Arg("member"));
    if (!id.ok()) return ctx.UsageError(id.status());
    only = *id;
  }
  // Followers first and the leader last: a defrag slows its replica down.
  for (const lock::Member& m : s->members) {
    if ((only == 0 || m.id == only) && m.id != s->leader_id) order.push_back(m);
  }
  for (const lock::Member& m : s->members) {
    if ((only == 0 || m.id == only) && m.id == s->leader_id) order.push_back(m);
  }
  if (order.empty()) {
    return ctx.UsageError(
        absl::NotFoundError(absl::StrCat("no member with id ", only,
                                         " (see berth cluster "
                                         "members)")));
  }
  std::vector<Json> results;
  bool failed = false;
  for (const lock::Member& m : order) {
    auto r = DefragOne(m.address, ctx.global.timeout,
                       ctx.global.credentials.channel());
    if (!r.ok()) {
      failed = true;
      *ctx.err << "berth cluster defrag: member " << m.id << ": "
               << r.status().message() << "\n";
      continue;
    }
    results.push_back(
        JObj({{"id", JId(m.id)},
              {"address", JStr(m.address)},
              {"size_before_bytes", JNum(r->size_before_bytes())},
              {"size_after_bytes", JNum(r->size_after_bytes())}}));
    if (!ctx.json()) {
      *ctx.out << "member " << m.id << " (" << m.address
               << "): " << Bytes(r->size_before_bytes()) << " -> "
               << Bytes(r->size_after_bytes()) << "\n";
    }
  }
  // The leader clears the alarm at its next tick if its file is now under
  // the quota; wait a little for that so the answer is the new state.
  std::vector<std::string> alarms;
  absl::Time until = absl::Now() + absl::Seconds(3);
  while (true) {
    auto after = (*client)->Status();
    if (after.ok()) alarms = after->alarms;
    if (alarms.empty() || absl::Now() >= until) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  if (ctx.json()) {
    std::vector<Json> aj;
    for (const std::string& a : alarms) aj.push_back(JStr(a));
    absl::Status st = PrintJson(
        *ctx.out, JObj({{"members", JList(results)}, {"alarms", JList(aj)}}));
    if (!st.ok()) return ctx.Fail(st);
  } else if (alarms.empty()) {
    *ctx.out << "alarms: none\n";
  } else {
    for (const std::string& a : alarms) *ctx.out << "ALARM: " << a << "\n";
  }
  return failed ? kExitFailure : kExitOk;
}

}  // namespace

void AddClusterCommands(std::vector<Command>* table) {
  table->push_back({"cluster status",
                    "show the leader, Raft progress and members",
                    {},
                    false,
                    nullptr,
                    Status});
  table->push_back(
      {"cluster members", "list the members", {}, false, nullptr, Members});
  table->push_back({"cluster add",
                    "add a member at host:port",
                    {{"ADDR"}},
                    false,
                    [](po::options_description& d) {
                      d.add_options()("learner", "add as a non-voting learner")(
                          "name", po::value<std::string>(), "member name");
                    },
                    Add});
  table->push_back(
      {"cluster remove", "remove a member", {{"ID"}}, false, nullptr, Remove});
  table->push_back({"cluster defrag",
                    "give free database pages back on each replica (or one) "
                    "and clear the NOSPACE alarm when under quota",
                    {},
                    false,
                    [](po::options_description& d) {
                      d.add_options()("member", po::value<std::string>(),
                                      "only this member id");
                    },
                    Defrag});
  table->push_back({"cluster transfer-leader",
                    "make member ID the leader",
                    {{"ID"}},
                    false,
                    nullptr,
                    Transfer});
}

}  // namespace berth::cli
