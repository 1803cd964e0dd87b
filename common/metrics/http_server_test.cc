#include "common/metrics/http_server.h"

#include "absl/strings/str_cat.h"
#include "common/metrics/http_get.h"
#include "common/metrics/listen_flag.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::metrics {
namespace {

using testing::HasSubstr;

TEST(HttpServer, ServesMetricsHealthzAnd404) {
  Registry r;
  r.AddCounter("served_total", "Served.")->Get()->Inc(5);
  auto s = HttpServer::Start("127.0.0.1:0", &r);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_GT((*s)->port(), 0);
  const std::string addr = absl::StrCat("127.0.0.1:", (*s)->port());

  auto m = HttpGet(addr, "/metrics");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->status, 200);
  EXPECT_EQ(m->content_type, "text/plain; version=0.0.4");
  EXPECT_THAT(m->body, HasSubstr("\nserved_total 5\n"));

  auto h = HttpGet(addr, "/healthz");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->body, "ok\n");

  for (const char* path : {"/", "/metrics/", "/metricsx", "/favicon.ico"}) {
    auto n = HttpGet(addr, path);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(n->status, 404) << path;
  }
}

TEST(HttpServer, BindsOnlyTheGivenAddress) {
  Registry r;
  auto s = HttpServer::Start("127.0.0.1:0", &r);
  ASSERT_TRUE(s.ok()) << s.status();
  // Another loopback address on the same port is not served.
  auto other = HttpGet(absl::StrCat("127.0.0.2:", (*s)->port()), "/healthz");
  EXPECT_FALSE(other.ok());
  // The port is taken: a second server on it fails loudly.
  auto again = HttpServer::Start(absl::StrCat("127.0.0.1:", (*s)->port()), &r);
  EXPECT_FALSE(again.ok());
}

TEST(HttpServer, ServesAHandlerWithQueryArguments) {
  auto s = HttpServer::Serve(
      "127.0.0.1:0",
      [](const HttpRequest& req) {
        HttpResponse r;
        r.content_type = "application/json";
        r.body = req.path;
        for (const auto& [k, v] : req.query) {
          absl::StrAppend(&r.body, " ", k, "=", v);
        }
        if (req.path == "/missing") r.status = 404;
        return r;
      },
      2);
  ASSERT_TRUE(s.ok()) << s.status();
  const std::string addr = absl::StrCat("127.0.0.1:", (*s)->port());
  auto a = HttpGet(addr, "/api/x?tail=5&who=a%20b");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->content_type, "application/json");
  EXPECT_EQ(a->body, "/api/x tail=5 who=a b");
  auto m = HttpGet(addr, "/missing");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->status, 404);
}

TEST(HttpServer, RejectsBadAddresses) {
  Registry r;
  EXPECT_FALSE(HttpServer::Start("no-port", &r).ok());
  EXPECT_FALSE(HttpServer::Start("127.0.0.1:99999", &r).ok());
}

TEST(ListenFlag, OffAutoAndExplicit) {
  auto off = ParseMetricsListen("off", "127.0.0.1:7400", 1000);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->address, "");
  auto empty = ParseMetricsListen("", "127.0.0.1:7400", 1000);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->address, "");

  auto a = ParseMetricsListen("auto", "0.0.0.0:7400", 1000);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->address, "127.0.0.1:8400");  // loopback, whatever --listen
  EXPECT_FALSE(a->required);

  auto e = ParseMetricsListen("10.0.0.5:9100", "127.0.0.1:7400", 1000);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->address, "10.0.0.5:9100");
  EXPECT_TRUE(e->required);

  EXPECT_FALSE(ParseMetricsListen("9100", "127.0.0.1:7400", 1000).ok());
  EXPECT_FALSE(ParseMetricsListen("auto", "127.0.0.1:65000", 1000).ok());
}

TEST(ListenFlag, AutoOnATakenPortRunsWithoutMetrics) {
  Registry r;
  auto taken = HttpServer::Start("127.0.0.1:0", &r);
  ASSERT_TRUE(taken.ok());
  MetricsListen auto_listen{absl::StrCat("127.0.0.1:", (*taken)->port()),
                            false};
  auto s = ServeMetrics(auto_listen, &r, "test");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, nullptr);
  MetricsListen required = auto_listen;
  required.required = true;
  EXPECT_FALSE(ServeMetrics(required, &r, "test").ok());
}

}  // namespace
}  // namespace berth::metrics
