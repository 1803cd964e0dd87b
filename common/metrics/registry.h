// Registry: the metrics one daemon exposes, and their collection at scrape
// time.
//
// Two kinds of metric: live ones (Counter, Gauge, Histogram families) that
// code updates as things happen, and callbacks that compute their samples
// when scraped (a Raft term, a table's row count), for state that already
// lives somewhere else and would only be copied otherwise.
//
// Names must match [a-zA-Z_:][a-zA-Z0-9_:]* and be unique; label names
// [a-zA-Z_][a-zA-Z0-9_]* and not "le" on a histogram. Breaking either is a
// programming error: the process aborts at registration, at startup.
//
// Thread safety: thread-safe. Callbacks run on the scraping thread (the
// HTTP server's) and must be safe to call from it at any time while the
// Registry lives; whatever they borrow must outlive the Registry, or the
// scrape endpoint must be stopped first. Ownership: the Registry owns its
// families; the pointers it returns live as long as it does.
#ifndef BERTH_COMMON_METRICS_REGISTRY_H_
#define BERTH_COMMON_METRICS_REGISTRY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics/counter.h"
#include "common/metrics/family.h"
#include "common/metrics/gauge.h"
#include "common/metrics/histogram.h"
#include "common/metrics/snapshot.h"

namespace berth::metrics {

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Family<Counter>* AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>* AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>* AddHistogram(const std::string& name,
                                  const std::string& help,
                                  std::vector<double> bounds,
                                  std::vector<std::string> label_names = {});

  // Samples computed at scrape time: (labels, value) pairs. Only counters
  // and gauges (a histogram's samples come from a live Histogram).
  using SampleFn = std::function<std::vector<std::pair<Labels, double>>()>;
  void AddCallback(const std::string& name, const std::string& help,
                   MetricType type, SampleFn fn);
  // One unlabelled value.
  void AddGaugeFn(const std::string& name, const std::string& help,
                  std::function<double()> fn);
  void AddCounterFn(const std::string& name, const std::string& help,
                    std::function<double()> fn);

  // Every family, in registration order. A family with no children yet (a
  // labelled metric nothing has touched) is listed with no samples.
  std::vector<FamilySnapshot> Collect() const;

 private:
  struct Entry {
    std::string name;
    std::string help;
    MetricType type;
    // Exactly one of these is set.
    std::unique_ptr<Family<Counter>> counters;
    std::unique_ptr<Family<Gauge>> gauges;
    std::unique_ptr<Family<Histogram>> histograms;
    SampleFn fn;
  };
  Entry* AddEntry(const std::string& name, const std::string& help,
                  MetricType type, const std::vector<std::string>& labels)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::metrics

#endif  // BERTH_COMMON_METRICS_REGISTRY_H_
