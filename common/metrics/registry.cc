#include "common/metrics/registry.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/metrics/text_format.h"

namespace berth::metrics {
namespace {

bool ValidName(const std::string& s, bool colon_ok) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (colon_ok && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

[[noreturn]] void Misuse(const std::string& what) {
  fprintf(stderr, "metrics: %s\n", what.c_str());
  abort();
}

}  // namespace

Registry::Entry* Registry::AddEntry(const std::string& name,
                                    const std::string& help, MetricType type,
                                    const std::vector<std::string>& labels) {
  if (!ValidName(name, true)) Misuse(absl::StrCat("bad metric name ", name));
  for (const auto& e : entries_) {
    if (e->name == name) Misuse(absl::StrCat("metric ", name, " added twice"));
  }
  for (const std::string& l : labels) {
    if (!ValidName(l, false) || l.rfind("__", 0) == 0 ||
        (type == MetricType::kHistogram && l == "le")) {
      Misuse(absl::StrCat("bad label name ", l, " on ", name));
    }
  }
  auto e = std::make_unique<Entry>();
  e->name = name;
  e->help = help;
  e->type = type;
  entries_.push_back(std::move(e));
  return entries_.back().get();
}

Family<Counter>* Registry::AddCounter(const std::string& name,
                                      const std::string& help,
                                      std::vector<std::string> label_names) {
  absl::MutexLock l(&mu_);
  Entry* e = AddEntry(name, help, MetricType::kCounter, label_names);
  e->counters = std::make_unique<Family<Counter>>(
      std::move(label_names), [] { return std::make_unique<Counter>(); });
  return e->counters.get();
}

Family<Gauge>* Registry::AddGauge(const std::string& name,
                                  const std::string& help,
                                  std::vector<std::string> label_names) {
  absl::MutexLock l(&mu_);
  Entry* e = AddEntry(name, help, MetricType::kGauge, label_names);
  e->gauges = std::make_unique<Family<Gauge>>(
      std::move(label_names), [] { return std::make_unique<Gauge>(); });
  return e->gauges.get();
}

Family<Histogram>* Registry::AddHistogram(
    const std::string& name, const std::string& help,
    std::vector<double> bounds, std::vector<std::string> label_names) {
  absl::MutexLock l(&mu_);
  Entry* e = AddEntry(name, help, MetricType::kHistogram, label_names);
  e->histograms = std::make_unique<Family<Histogram>>(
      std::move(label_names),
      [bounds] { return std::make_unique<Histogram>(bounds); });
  return e->histograms.get();
}

void Registry::AddCallback(const std::string& name, const std::string& help,
                           MetricType type, SampleFn fn) {
  if (type == MetricType::kHistogram) {
    Misuse(absl::StrCat("callback histogram ", name));
  }
  absl::MutexLock l(&mu_);
  AddEntry(name, help, type, {})->fn = std::move(fn);
}

void Registry::AddGaugeFn(const std::string& name, const std::string& help,
                          std::function<double()> fn) {
  AddCallback(name, help, MetricType::kGauge, [fn = std::move(fn)] {
    return std::vector<std::pair<Labels, double>>{{{}, fn()}};
  });
}

void Registry::AddCounterFn(const std::string& name, const std::string& help,
                            std::function<double()> fn) {
  AddCallback(name, help, MetricType::kCounter, [fn = std::move(fn)] {
    return std::vector<std::pair<Labels, double>>{{{}, fn()}};
  });
}

std::vector<FamilySnapshot> Registry::Collect() const {
  // Entries are never removed, so the pointers stay valid once copied; the
  // callbacks then run without mu_ held (they may take their own locks).
  std::vector<const Entry*> entries;
  {
    absl::MutexLock l(&mu_);
    for (const auto& e : entries_) entries.push_back(e.get());
  }
  std::vector<FamilySnapshot> out;
  for (const Entry* e : entries) {
    FamilySnapshot f;
    f.name = e->name;
    f.help = e->help;
    f.type = e->type;
    if (e->counters) {
      e->counters->ForEach([&](const Labels& labels, const Counter& c) {
        f.samples.push_back({"", labels, static_cast<double>(c.value())});
      });
    } else if (e->gauges) {
      e->gauges->ForEach([&](const Labels& labels, const Gauge& g) {
        f.samples.push_back({"", labels, g.value()});
      });
    } else if (e->histograms) {
      e->histograms->ForEach([&](const Labels& labels, const Histogram& h) {
        Histogram::Snapshot s = h.Take();
        for (size_t i = 0; i < s.cumulative.size(); ++i) {
          Labels with_le = labels;
          // The bound's text is produced by the formatter's number rules.
          with_le.emplace_back("le", i < s.bounds.size()
                                         ? FormatValue(s.bounds[i])
                                         : std::string("+Inf"));
          f.samples.push_back(
              {"_bucket", with_le, static_cast<double>(s.cumulative[i])});
        }
        f.samples.push_back({"_sum", labels, s.sum});
        f.samples.push_back({"_count", labels, static_cast<double>(s.count)});
      });
    } else if (e->fn) {
      for (auto& [labels, v] : e->fn()) f.samples.push_back({"", labels, v});
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace berth::metrics
