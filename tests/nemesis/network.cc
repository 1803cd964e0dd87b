#include "tests/nemesis/network.h"

#include "absl/strings/str_cat.h"
#include "tests/nemesis/shell.h"

namespace berth::nemesis {

absl::StatusOr<std::unique_ptr<Network>> Network::Create(
    int replicas, int extra_hosts, int tag, const std::string& log_dir) {
  if (tag < 20 || tag > 219) {
    return absl::InvalidArgumentError("network tag must be in 20..219");
  }
  std::unique_ptr<Network> n(new Network(replicas, extra_hosts, tag, log_dir));
  absl::Status st = n->Setup();
  if (!st.ok()) return st;
  return n;
}

std::string Network::Namespace(int id) const {
  if (id <= replicas_) return absl::StrCat("bnem", tag_, "-r", id);
  return absl::StrCat("bnem", tag_, "-s", id - replicas_);
}
std::string Network::Ip(int id) const {
  return absl::StrCat("10.213.", tag_, ".", 10 + id);
}
std::string Network::RootIp() const {
  return absl::StrCat("10.213.", tag_, ".1");
}
std::string Network::Bridge() const { return absl::StrCat("bnem", tag_, "br"); }
std::string Network::HostVeth(int id) const {
  return absl::StrCat("bnem", tag_, "v", id);
}

absl::Status Network::Setup() {
  const std::string br = Bridge();
  auto run = [&](std::vector<std::string> argv) { return Run(argv, log_dir_); };
  for (auto& argv : std::vector<std::vector<std::string>>{
           {"ip", "link", "add", br, "type", "bridge"},
           {"ip", "addr", "add", absl::StrCat(RootIp(), "/24"), "dev", br},
           {"ip", "link", "set", br, "up"}}) {
    if (absl::Status st = run(argv); !st.ok()) return st;
  }
  for (int id = 1; id <= hosts(); ++id) {
    const std::string ns = Namespace(id);
    const std::string veth = HostVeth(id);
    for (auto& argv : std::vector<std::vector<std::string>>{
             {"ip", "netns", "add", ns},
             {"ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0",
              "netns", ns},
             {"ip", "link", "set", veth, "master", br},
             {"ip", "link", "set", veth, "up"},
             {"ip", "-n", ns, "addr", "add", absl::StrCat(Ip(id), "/24"), "dev",
              "eth0"},
             {"ip", "-n", ns, "link", "set", "eth0", "up"},
             {"ip", "-n", ns, "link", "set", "lo", "up"}}) {
      if (absl::Status st = run(argv); !st.ok()) return st;
    }
  }
  return absl::OkStatus();
}

Network::~Network() {
  for (int id = 1; id <= hosts(); ++id) {
    Run({"ip", "link", "del", HostVeth(id)}, log_dir_).IgnoreError();
    Run({"ip", "netns", "del", Namespace(id)}, log_dir_).IgnoreError();
  }
  Run({"ip", "link", "del", Bridge()}, log_dir_).IgnoreError();
}

absl::Status Network::Isolate(int id) {
  return Run({"ip", "link", "set", HostVeth(id), "down"}, log_dir_);
}

absl::Status Network::Unisolate(int id) {
  return Run({"ip", "link", "set", HostVeth(id), "up"}, log_dir_);
}

absl::Status Network::Cut(int a, int b) {
  absl::Status st = Run({"ip", "-n", Namespace(a), "route", "add", "blackhole",
                         absl::StrCat(Ip(b), "/32")},
                        log_dir_);
  if (!st.ok()) return st;
  return Run({"ip", "-n", Namespace(b), "route", "add", "blackhole",
              absl::StrCat(Ip(a), "/32")},
             log_dir_);
}

absl::Status Network::Slow(int id) {
  // 16 kbit/s with a 50 ms queue: heartbeats mostly pass, bulk traffic
  // (appends, snapshots, client replies) is delayed and dropped.
  std::vector<std::string> tbf = {"root",  "tbf", "rate",    "16kbit",
                                  "burst", "2kb", "latency", "50ms"};
  std::vector<std::string> host = {"tc", "qdisc", "add", "dev", HostVeth(id)};
  host.insert(host.end(), tbf.begin(), tbf.end());
  if (absl::Status st = Run(host, log_dir_); !st.ok()) return st;
  std::vector<std::string> inner = {"ip",          "netns",        "exec",
                                    Namespace(id), FindTool("tc"), "qdisc",
                                    "add",         "dev",          "eth0"};
  inner.insert(inner.end(), tbf.begin(), tbf.end());
  return Run(inner, log_dir_);
}

absl::Status Network::HealAll() {
  absl::Status first;
  for (int id = 1; id <= hosts(); ++id) {
    first.Update(Unisolate(id));
    // Absent qdiscs and routes are not errors here.
    Run({"tc", "qdisc", "del", "dev", HostVeth(id), "root"}, log_dir_)
        .IgnoreError();
    Run({"ip", "netns", "exec", Namespace(id), FindTool("tc"), "qdisc", "del",
         "dev", "eth0", "root"},
        log_dir_)
        .IgnoreError();
    first.Update(
        Run({"ip", "-n", Namespace(id), "route", "flush", "type", "blackhole"},
            log_dir_));
  }
  return first;
}

}  // namespace berth::nemesis
