// What a Registry hands to a formatter: plain values copied out of the live
// metrics at scrape time, so formatting never touches an atomic or a lock.
#ifndef BERTH_COMMON_METRICS_SNAPSHOT_H_
#define BERTH_COMMON_METRICS_SNAPSHOT_H_

#include <string>
#include <utility>
#include <vector>

namespace berth::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// Label name/value pairs in the order they are printed.
using Labels = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  // Appended to the family name: "", "_bucket", "_sum" or "_count".
  std::string suffix;
  Labels labels;
  double value = 0;
};

struct FamilySnapshot {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<Sample> samples;
};

}  // namespace berth::metrics

#endif  // BERTH_COMMON_METRICS_SNAPSHOT_H_
