// The dashboard's page, embedded in the binary at build time from
// static/ (embed_assets.cmake), so nothing is fetched from the internet
// and there is nothing to install beside the scheduler.
#ifndef BERTH_SCHEDULER_SERVER_DASHBOARD_ASSETS_H_
#define BERTH_SCHEDULER_SERVER_DASHBOARD_ASSETS_H_

#include <string_view>

namespace berth::sched::dashboard {

struct Asset {
  std::string_view path;  // "/index.html"
  std::string_view content_type;
  std::string_view body;
};

// nullptr for an unknown path.
const Asset* FindAsset(std::string_view path);

}  // namespace berth::sched::dashboard

#endif  // BERTH_SCHEDULER_SERVER_DASHBOARD_ASSETS_H_
