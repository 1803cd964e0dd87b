// berth cluster status|members|add ADDR|remove ID|transfer-leader ID
#include <ostream>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "lockservice/client/client.h"

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

int Status(Context& ctx) {
  auto client = ctx.ConnectLock();
  if (!client.ok()) return ctx.UsageError(client.status());
  auto s = (*client)->Status();
  if (!s.ok()) return ctx.Fail(s.status());
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
              {"members", MembersJson(s->members)}}));
    return st.ok() ? kExitOk : ctx.Fail(st);
  }
  *ctx.out << "leader: "
           << (s->leader_id == 0
                   ? std::string("none")
                   : absl::StrCat(s->leader_id, " at ", s->leader_addr))
           << "\nterm " << s->raft_term << ", index " << s->raft_index
           << ", applied " << s->applied_index << ", revision " << s->revision
           << "\n\n";
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
  table->push_back({"cluster transfer-leader",
                    "make member ID the leader",
                    {{"ID"}},
                    false,
                    nullptr,
                    Transfer});
}

}  // namespace berth::cli
