// Family<T>: one metric name with a fixed list of label names, and one T
// (Counter, Gauge or Histogram) per combination of label values.
//
// Look a child up once and keep the pointer for the hot path: With() takes
// a mutex, the child's own methods do not.
//
// Thread safety: thread-safe. Ownership: children live as long as the
// Family (and so as long as the Registry that owns it); pointers stay valid.
#ifndef BERTH_COMMON_METRICS_FAMILY_H_
#define BERTH_COMMON_METRICS_FAMILY_H_

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics/snapshot.h"

namespace berth::metrics {

template <typename T>
class Family {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;
  Family(std::vector<std::string> label_names, Factory factory)
      : label_names_(std::move(label_names)), factory_(std::move(factory)) {}

  // The child for these label values (one per label name, in order),
  // created on first use.
  T* With(const std::vector<std::string>& values) {
    if (values.size() != label_names_.size()) {
      // A programming error in a metric definition.
      fprintf(stderr, "metrics: %zu label values for %zu label names\n",
              values.size(), label_names_.size());
      abort();
    }
    absl::MutexLock l(&mu_);
    std::unique_ptr<T>& child = children_[values];
    if (!child) child = factory_();
    return child.get();
  }
  // The only child of a family without labels.
  T* Get() { return With({}); }

  // Calls fn(labels, child) for each child, in label-value order.
  void ForEach(const std::function<void(const Labels&, const T&)>& fn) const {
    absl::MutexLock l(&mu_);
    for (const auto& [values, child] : children_) {
      Labels labels;
      for (size_t i = 0; i < values.size(); ++i) {
        labels.emplace_back(label_names_[i], values[i]);
      }
      fn(labels, *child);
    }
  }

 private:
  const std::vector<std::string> label_names_;
  const Factory factory_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::metrics

#endif  // BERTH_COMMON_METRICS_FAMILY_H_
