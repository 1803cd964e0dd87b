// The Prometheus text exposition format, version 0.0.4:
// https://prometheus.io/docs/instrumenting/exposition_formats/
//
//   # HELP <name> <help, with \ and newline escaped>
//   # TYPE <name> counter|gauge|histogram
//   <name><suffix>{<label>="<value, with \ " and newline escaped>",...} <value>
//
// Pure functions of their arguments; thread-safe.
#ifndef BERTH_COMMON_METRICS_TEXT_FORMAT_H_
#define BERTH_COMMON_METRICS_TEXT_FORMAT_H_

#include <string>
#include <vector>

#include "common/metrics/snapshot.h"

namespace berth::metrics {

// The Content-Type a scrape answer carries.
inline constexpr char kTextContentType[] = "text/plain; version=0.0.4";

// Integers without a decimal point, other values in the shortest form that
// reads back exactly, and NaN, +Inf, -Inf as Prometheus spells them.
std::string FormatValue(double v);
std::string EscapeLabelValue(const std::string& v);
std::string EscapeHelp(const std::string& help);

std::string RenderText(const std::vector<FamilySnapshot>& families);

}  // namespace berth::metrics

#endif  // BERTH_COMMON_METRICS_TEXT_FORMAT_H_
