#include "tests/e2e/lock_history.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::e2e {

namespace {

bool ToInt(absl::string_view s, int64_t* out) {
  return absl::SimpleAtoi(s, out);
}

}  // namespace

absl::StatusOr<std::vector<HistoryEvent>> ParseHistory(absl::string_view text,
                                                       int contender) {
  std::vector<HistoryEvent> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (line.empty()) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    HistoryEvent e;
    e.contender = contender;
    bool ok = false;
    if (f[0] == "ACQ" && f.size() == 3) {
      e.kind = HistoryEvent::Kind::kAcquire;
      ok = ToInt(f[1], &e.token) && ToInt(f[2], &e.t_ns);
    } else if (f[0] == "WRITE" && f.size() == 6) {
      e.kind = HistoryEvent::Kind::kWrite;
      e.key = std::string(f[2]);
      e.outcome = std::string(f[3]);
      ok = ToInt(f[1], &e.token) && ToInt(f[4], &e.t_ns) &&
           ToInt(f[5], &e.revision);
    } else if (f[0] == "REL" && f.size() == 4) {
      e.kind = HistoryEvent::Kind::kRelease;
      e.outcome = std::string(f[3]);
      ok = ToInt(f[1], &e.token) && ToInt(f[2], &e.t_ns);
    } else if (f[0] == "LOST" && f.size() == 2) {
      e.kind = HistoryEvent::Kind::kLost;
      ok = ToInt(f[1], &e.t_ns);
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("contender ", contender, " history line ", line_no,
                       " does not parse: '", line, "'"));
    }
    out.push_back(std::move(e));
  }
  return out;
}

int64_t TokenOfKey(absl::string_view key) {
  size_t slash = key.rfind('/');
  size_t dash = key.rfind('-');
  if (slash == absl::string_view::npos || dash == absl::string_view::npos ||
      dash < slash) {
    return 0;
  }
  int64_t token = 0;
  if (!absl::SimpleAtoi(key.substr(slash + 1, dash - slash - 1), &token)) {
    return 0;
  }
  return token;
}

std::vector<std::string> CheckHistory(
    const std::vector<HistoryEvent>& events,
    const std::map<std::string, StoredWrite>& stored, HistoryStats* stats) {
  std::vector<std::string> bad;
  std::vector<const HistoryEvent*> grants;
  for (const HistoryEvent& e : events) {
    switch (e.kind) {
      case HistoryEvent::Kind::kAcquire:
        grants.push_back(&e);
        break;
      case HistoryEvent::Kind::kWrite:
        if (e.outcome == "ok") {
          ++stats->writes_ok;
        } else if (e.outcome == "stale") {
          ++stats->writes_stale;
        } else if (e.outcome == "unknown") {
          ++stats->writes_unknown;
        } else {
          ++stats->writes_error;
        }
        break;
      case HistoryEvent::Kind::kRelease:
        break;
      case HistoryEvent::Kind::kLost:
        ++stats->sessions_lost;
        break;
    }
  }
  stats->grants = static_cast<int>(grants.size());

  // (a) Successive grants carry strictly increasing tokens.
  std::sort(grants.begin(), grants.end(),
            [](const HistoryEvent* x, const HistoryEvent* y) {
              return x->t_ns < y->t_ns;
            });
  for (size_t i = 1; i < grants.size(); ++i) {
    if (grants[i]->token <= grants[i - 1]->token) {
      bad.push_back(absl::StrCat(
          "grant order: contender ", grants[i]->contender, " got token ",
          grants[i]->token, " at t=", grants[i]->t_ns, " after contender ",
          grants[i - 1]->contender, " got token ", grants[i - 1]->token,
          " at t=", grants[i - 1]->t_ns));
    }
  }
  std::set<int64_t> tokens;
  for (const HistoryEvent* g : grants) tokens.insert(g->token);

  // (b) Stored writes, in revision order, never go back to an older token,
  // and each landed inside its token's tenure.
  std::vector<std::pair<int64_t, std::string>> by_rev;
  for (const auto& [key, w] : stored) {
    by_rev.emplace_back(w.mod_revision, key);
    if (w.version != 1) {
      bad.push_back(absl::StrCat("key ", key, " was written ", w.version,
                                 " times; each history key is written once"));
    }
  }
  std::sort(by_rev.begin(), by_rev.end());
  stats->stored_writes = static_cast<int>(by_rev.size());
  int64_t last_token = 0;
  std::string last_key;
  for (const auto& [rev, key] : by_rev) {
    int64_t token = TokenOfKey(key);
    if (token == 0) {
      bad.push_back(absl::StrCat("stored key ", key, " names no token"));
      continue;
    }
    if (token < last_token) {
      bad.push_back(absl::StrCat("overlap: ", key, " (token ", token,
                                 ") applied at revision ", rev, " after ",
                                 last_key, " (token ", last_token, ")"));
    }
    if (rev <= token) {
      bad.push_back(absl::StrCat(key, " applied at revision ", rev,
                                 ", not after its grant"));
    }
    auto next = tokens.upper_bound(token);
    if (next != tokens.end() && rev >= *next) {
      bad.push_back(absl::StrCat(key, " applied at revision ", rev,
                                 " although token ", *next,
                                 " was granted at revision ", *next));
    }
    last_token = std::max(last_token, token);
    last_key = key;
  }

  // (c) Acknowledged writes survive, at the revision the ack reported.
  for (const HistoryEvent& e : events) {
    if (e.kind != HistoryEvent::Kind::kWrite) continue;
    auto it = stored.find(e.key);
    if (e.outcome == "ok") {
      if (it == stored.end()) {
        bad.push_back(absl::StrCat("lost write: ", e.key,
                                   " was acknowledged at revision ", e.revision,
                                   " but is not in the store"));
      } else if (it->second.mod_revision != e.revision) {
        bad.push_back(absl::StrCat(e.key, " acknowledged at revision ",
                                   e.revision, " but stored at ",
                                   it->second.mod_revision));
      }
    } else if (e.outcome == "unknown") {
      if (it != stored.end()) ++stats->unknown_applied;
    } else if (it != stored.end()) {
      bad.push_back(absl::StrCat(e.key, " was rejected (", e.outcome,
                                 ") but is in the store"));
    }
  }
  return bad;
}

}  // namespace berth::e2e
