// Tests for HttpApi's pure part: routing, methods, the token, JSON parsing and
// validation, and the exact shapes of the original API's three endpoints,
// against a fake ControlBackend (no daemon, no sockets). The real daemon is
// exercised with curl by tests/ops/http.sh.
#include "node/http_api.h"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <vector>

#include "rpc/asio_event_port.h"
#include "rpc/convert.h"

namespace braid::node {
namespace {

using nlohmann::json;
using M = kj::HttpMethod;

class FakeBackend final : public rpc::ControlBackend {
 public:
  kj::Promise<kj::Own<rpc::SubmitOutcome>> submit(std::vector<sched::TaskSpec> specs) override {
    auto outcome = kj::heap<rpc::SubmitOutcome>();
    submitted = specs;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      outcome->ids.push_back("n:" + std::to_string(next_id++));
    }
    return kj::mv(outcome);
  }
  sched::Result<rpc::ListPage> list(const rpc::ListQuery& query) override {
    last_query = query;
    rpc::ListPage page;
    page.tasks.push_back(task("n:1"));
    page.next = query.limit == 1 ? 1 : 0;
    return page;
  }
  sched::Result<std::vector<rpc::TaskView>> show(const std::vector<std::string>& ids) override {
    if (ids[0] != "n:1") return sched::Error{"unknown task \"" + ids[0] + "\" on node n"};
    return std::vector<rpc::TaskView>{task("n:1")};
  }
  kj::Promise<kj::Own<rpc::WaitOutcome>> wait(std::vector<std::string> ids,
                                              sched::Micros timeout_us) override {
    last_wait_timeout_us = timeout_us;
    auto outcome = kj::heap<rpc::WaitOutcome>();
    if (ids[0] != "n:1") {
      outcome->error = "unknown task \"" + ids[0] + "\" on node n";
    } else {
      outcome->tasks.push_back(task("n:1"));
    }
    return kj::mv(outcome);
  }
  sched::Status cancel(const std::vector<std::string>& ids) override {
    if (ids[0] != "n:1") return sched::Error{"unknown task \"" + ids[0] + "\" on node n"};
    ++cancels;
    return sched::ok_status();
  }
  sched::Result<rpc::LogChunk> read_log(const std::string& id, bool stderr_stream,
                                        std::uint64_t offset, std::uint32_t max_bytes) override {
    if (id != "n:1") return sched::Error{"unknown task \"" + id + "\" on node n"};
    const std::string text = stderr_stream ? "err\n" : log_text;
    rpc::LogChunk chunk;
    chunk.data = offset < text.size() ? text.substr(offset, max_bytes) : "";
    chunk.finished = log_finished;
    return chunk;
  }
  rpc::StatsView stats() override {
    rpc::StatsView v;
    v.node = "n";
    v.torus.total_scheduled = 7;
    v.torus.context_switches = 9;
    v.torus.preemptions = 2;
    v.torus.active_processes = 1;
    v.torus.policy = policy;
    v.torus.quantum_micros = 10000;
    return v;
  }
  sched::Status set_policy(sched::Policy p) override {
    policy = p;
    return sched::ok_status();
  }
  sched::Status set_quantum(sched::Micros) override { return sched::ok_status(); }
  sched::Result<int> priority(const std::string&, rpc::PriorityOp, int) override { return 5; }
  sched::Status scheduler(rpc::SchedulerOp) override { return sched::ok_status(); }
  sched::Result<std::optional<int>> schedule_next() override { return next_pid; }
  sched::Result<std::uint64_t> cancel_where(std::optional<sched::TaskState>,
                                            const std::string&) override {
    return 0;
  }
  sched::Result<std::uint64_t> clear() override { return 0; }
  sched::Status hold(const std::vector<std::string>&, bool) override { return sched::ok_status(); }
  sched::Result<rpc::DrainView> drain(bool cancel, bool query) override {
    if (!query) draining = !cancel;
    rpc::DrainView v;
    v.draining = draining;
    return v;
  }

  static rpc::TaskView task(const std::string& id) {
    rpc::TaskView v;
    v.id = id;
    v.argv = {"true"};
    v.state = sched::TaskState::kRunning;
    return v;
  }

  sched::Policy policy = sched::Policy::kFair;
  std::optional<int> next_pid;
  std::vector<sched::TaskSpec> submitted;
  rpc::ListQuery last_query;
  sched::Micros last_wait_timeout_us = 0;
  int cancels = 0;
  int next_id = 10;
  bool draining = false;
  std::string log_text = "hello world\n";
  bool log_finished = true;
};

class HttpApiTest : public ::testing::Test {
 protected:
  HttpReply call(M method, const std::string& url, std::string body = "",
                 const std::string& authorization = "") {
    return api->handle(method, url, authorization, std::move(body)).wait(port.wait_scope());
  }
  static json body_of(const HttpReply& reply) { return json::parse(reply.body); }
  void make(HttpApiOptions options) {
    api = std::make_unique<HttpApi>(backend, std::move(options));
  }

  asio::io_context io;
  rpc::AsioEventPort port{io};
  FakeBackend backend;
  std::unique_ptr<HttpApi> api = std::make_unique<HttpApi>(backend, HttpApiOptions{});
};

TEST_F(HttpApiTest, KernelStatsHasTheOriginalShape) {
  const HttpReply r = call(M::GET, "/kernel/scheduler/stats");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  const json j = body_of(r);
  EXPECT_EQ(j["success"], true);
  const json& s = j["stats"];
  EXPECT_EQ(s.size(), 6u) << s.dump();
  EXPECT_EQ(s["total_scheduled"], 7);
  EXPECT_EQ(s["context_switches"], 9);
  EXPECT_EQ(s["preemptions"], 2);
  EXPECT_EQ(s["active_processes"], 1);
  EXPECT_EQ(s["policy"], "Fair");
  EXPECT_EQ(s["quantum_micros"], 10000);
}

TEST_F(HttpApiTest, PolicyChangesOrIsRefusedWithTheExactText) {
  HttpReply r = call(M::PUT, "/kernel/scheduler/policy", R"({"policy": "Priority"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  json j = body_of(r);
  EXPECT_EQ(j["success"], true);
  EXPECT_EQ(j["policy"], "Priority");
  EXPECT_TRUE(j["message"].is_string());
  EXPECT_EQ(backend.policy, sched::Policy::kPriority);

  for (const char* bad : {R"({"policy": "Lottery"})", R"({"policy": 3})", R"({})", "[]"}) {
    r = call(M::PUT, "/kernel/scheduler/policy", bad);
    EXPECT_EQ(r.status, 400u) << bad;
    j = body_of(r);
    EXPECT_EQ(j, json({{"success", false},
                       {"error", "Invalid policy. Must be RoundRobin, Priority, or Fair"}}))
        << bad;
  }
  EXPECT_EQ(backend.policy, sched::Policy::kPriority);
}

TEST_F(HttpApiTest, BadJsonIsA400WithOneLine) {
  for (const char* bad : {"{\"policy\": ", "not json", "", "{\"a\":\n\n1,}"}) {
    const HttpReply r = call(M::PUT, "/kernel/scheduler/policy", bad);
    EXPECT_EQ(r.status, 400u) << bad;
    const json j = body_of(r);
    EXPECT_EQ(j["success"], false);
    const std::string error = j["error"];
    EXPECT_EQ(error.rfind("bad JSON: ", 0), 0u) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos);
  }
  const HttpReply r = call(M::POST, "/v1/tasks", "{\"argv\": [\"a\"");
  EXPECT_EQ(r.status, 400u);
  // Nesting a million deep is refused while parsing (walking it would overflow the stack).
  const std::size_t n = 1'000'000;
  const HttpReply deep =
      call(M::POST, "/v1/tasks", "{\"argv\": " + std::string(n, '[') + std::string(n, ']') + "}");
  EXPECT_EQ(deep.status, 400u);
  EXPECT_NE(body_of(deep)["error"].get<std::string>().find("nested deeper"), std::string::npos);
}

TEST_F(HttpApiTest, ScheduleNextSaysThePidOrNull) {
  HttpReply r = call(M::POST, "/kernel/schedule-next");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(body_of(r), json({{"success", true},
                              {"next_pid", nullptr},
                              {"message", "No processes available to schedule"}}));
  backend.next_pid = 4242;
  r = call(M::POST, "/kernel/schedule-next");
  EXPECT_EQ(body_of(r), json({{"success", true}, {"next_pid", 4242}}));
}

TEST_F(HttpApiTest, UnknownPathsAndWrongMethods) {
  HttpReply r = call(M::GET, "/nope");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(body_of(r)["success"], false);
  r = call(M::GET, "/metrics");  // not enabled here
  EXPECT_EQ(r.status, 404u);
  r = call(M::POST, "/kernel/scheduler/stats");
  EXPECT_EQ(r.status, 405u);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], std::make_pair(std::string("Allow"), std::string("GET")));
  r = call(M::GET, "/kernel/scheduler/policy");
  EXPECT_EQ(r.status, 405u);
  r = call(M::PATCH, "/v1/tasks");
  EXPECT_EQ(r.status, 405u);
  r = call(M::GET, "/v1/tasks?bogus=1");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(body_of(r)["error"].get<std::string>().find("bogus"), std::string::npos);
}

TEST_F(HttpApiTest, SubmitTakesASpecAnArrayOrTasks) {
  HttpReply r = call(M::POST, "/v1/tasks", R"({"argv": ["sleep", "1"], "name": "a"})");
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(body_of(r), json({{"success", true}, {"ids", {"n:10"}}}));
  ASSERT_EQ(backend.submitted.size(), 1u);
  EXPECT_EQ(backend.submitted[0].argv, (std::vector<std::string>{"sleep", "1"}));
  EXPECT_EQ(backend.submitted[0].name, "a");

  r = call(M::POST, "/v1/tasks", R"([{"cmd": "true"}, {"argv": ["x"], "priority": 9}])");
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(body_of(r)["ids"].size(), 2u);
  EXPECT_EQ(backend.submitted[1].priority, 9);

  r = call(M::POST, "/v1/tasks", R"({"tasks": [{"argv": ["y"]}]})");
  ASSERT_EQ(r.status, 201u) << r.body;
}

TEST_F(HttpApiTest, SubmitRefusesBadSpecsWithTheFieldNamed) {
  struct Case {
    const char* body;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"argv": ["a"], "priority": 11})", "priority"},
           {R"({"argv": []})", "argv"},
           {R"({"prio": 1, "argv": ["a"]})", "unknown field \"prio\""},
           {R"([{"argv": ["a"]}, {"cmd": 5}])", "task 2: "},
           {R"([])", "no tasks"},
           {R"("just a string")", "task spec"},
           {R"({"tasks": 3})", "tasks"},
       }) {
    const HttpReply r = call(M::POST, "/v1/tasks", c.body);
    EXPECT_EQ(r.status, 400u) << c.body;
    const std::string error = body_of(r)["error"];
    EXPECT_NE(error.find(c.says), std::string::npos) << c.body << " -> " << error;
  }
  // The control socket's limits (rpc/convert.cc) apply too.
  const std::string huge(rpc::kStringBytesMax + 1, 'x');
  const HttpReply r = call(M::POST, "/v1/tasks", json{{"argv", {"a"}}, {"name", huge}}.dump());
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(body_of(r)["error"].get<std::string>().find("name is"), std::string::npos) << r.body;
}

TEST_F(HttpApiTest, ListPassesTheQuery) {
  HttpReply r = call(M::GET, "/v1/tasks?state=running&name=job-*&after=5&limit=1&all=true");
  ASSERT_EQ(r.status, 200u) << r.body;
  const json j = body_of(r);
  EXPECT_EQ(j["tasks"].size(), 1u);
  EXPECT_EQ(j["tasks"][0]["id"], "n:1");
  EXPECT_EQ(j["next"], 1);
  EXPECT_EQ(backend.last_query.state, sched::TaskState::kRunning);
  EXPECT_EQ(backend.last_query.name_glob, "job-*");
  EXPECT_EQ(backend.last_query.after, 5u);
  EXPECT_EQ(backend.last_query.limit, 1u);
  EXPECT_TRUE(backend.last_query.all);
  r = call(M::GET, "/v1/tasks");
  EXPECT_TRUE(body_of(r)["next"].is_null());
  EXPECT_EQ(call(M::GET, "/v1/tasks?state=sleepy").status, 400u);
  EXPECT_EQ(call(M::GET, "/v1/tasks?limit=0").status, 400u);
  EXPECT_EQ(call(M::GET, "/v1/tasks?limit=x").status, 400u);
  EXPECT_EQ(call(M::GET, "/v1/tasks?after=-1").status, 400u);
  EXPECT_EQ(call(M::GET, "/v1/tasks?all=maybe").status, 400u);
}

TEST_F(HttpApiTest, ShowCancelWaitLogsAndUnknownTasks) {
  EXPECT_EQ(body_of(call(M::GET, "/v1/tasks/n:1"))["task"]["id"], "n:1");
  EXPECT_EQ(call(M::GET, "/v1/tasks/n:99").status, 404u);
  EXPECT_EQ(call(M::GET, "/v1/tasks/not%20an%20id").status, 400u);
  EXPECT_EQ(call(M::POST, "/v1/tasks/n:1/cancel").status, 200u);
  EXPECT_EQ(call(M::DELETE, "/v1/tasks/n:1").status, 200u);
  EXPECT_EQ(backend.cancels, 2);
  EXPECT_EQ(call(M::POST, "/v1/tasks/n:99/cancel").status, 404u);

  HttpReply r = call(M::GET, "/v1/tasks/n:1/wait?timeout=2s");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(body_of(r)["timed_out"], false);
  EXPECT_EQ(body_of(r)["task"]["id"], "n:1");
  EXPECT_EQ(backend.last_wait_timeout_us, 2 * sched::kMicrosPerSecond);
  call(M::GET, "/v1/tasks/n:1/wait");
  EXPECT_EQ(backend.last_wait_timeout_us, HttpApi::kWaitDefaultUs);
  EXPECT_EQ(call(M::GET, "/v1/tasks/n:1/wait?timeout=forever").status, 400u);
  EXPECT_EQ(call(M::GET, "/v1/tasks/n:1/wait?timeout=2h").status, 400u);
  EXPECT_EQ(call(M::GET, "/v1/tasks/n:99/wait?timeout=1s").status, 404u);

  r = call(M::GET, "/v1/tasks/n:1/logs?offset=6&max_bytes=5");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(body_of(r), json({{"success", true},
                              {"data", "world"},
                              {"offset", 6},
                              {"next_offset", 11},
                              {"finished", true}}));
  EXPECT_EQ(body_of(call(M::GET, "/v1/tasks/n:1/logs?stream=stderr"))["data"], "err\n");
  EXPECT_EQ(call(M::GET, "/v1/tasks/n:1/logs?stream=both").status, 400u);
  EXPECT_EQ(call(M::GET, "/v1/tasks/n:1/logs?max_bytes=0").status, 400u);
  EXPECT_EQ(call(M::GET, "/v1/tasks/n:99/logs").status, 404u);
}

TEST_F(HttpApiTest, StatsPeersDrain) {
  EXPECT_EQ(body_of(call(M::GET, "/v1/stats"))["stats"]["node"], "n");
  const json peers = body_of(call(M::GET, "/v1/peers"));
  EXPECT_TRUE(peers["peers"].is_array());
  EXPECT_TRUE(peers["listen"].is_null());
  EXPECT_EQ(body_of(call(M::GET, "/v1/drain"))["drain"]["draining"], false);
  EXPECT_EQ(body_of(call(M::POST, "/v1/drain"))["drain"]["draining"], true);
  EXPECT_EQ(body_of(call(M::GET, "/v1/drain"))["drain"]["draining"], true);
  EXPECT_EQ(body_of(call(M::DELETE, "/v1/drain"))["drain"]["draining"], false);
}

TEST_F(HttpApiTest, TheTokenGuardsMutatingRequestsOnly) {
  HttpApiOptions options;
  options.token = "0123456789abcdef-secret";
  make(std::move(options));
  EXPECT_EQ(call(M::GET, "/kernel/scheduler/stats").status, 200u);
  HttpReply r = call(M::PUT, "/kernel/scheduler/policy", R"({"policy": "Fair"})");
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(body_of(r)["success"], false);
  r = call(M::PUT, "/kernel/scheduler/policy", R"({"policy": "Fair"})", "Bearer wrong");
  EXPECT_EQ(r.status, 401u);
  r = call(M::PUT, "/kernel/scheduler/policy", R"({"policy": "Fair"})",
           "Bearer 0123456789abcdef-secret");
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(call(M::POST, "/v1/drain", "", "Bearer 0123456789abcdef-secre").status, 401u);
  EXPECT_EQ(call(M::DELETE, "/v1/tasks/n:1").status, 401u);
  // The scheme in any case (RFC 7235).
  EXPECT_EQ(call(M::POST, "/v1/drain", "", "bearer 0123456789abcdef-secret").status, 200u);
  // A wrong mutating method: 401 without the token, 405 only with it.
  EXPECT_EQ(call(M::POST, "/kernel/scheduler/stats").status, 401u);
  EXPECT_EQ(call(M::POST, "/kernel/scheduler/stats", "", "Bearer 0123456789abcdef-secret").status,
            405u);
}

TEST_F(HttpApiTest, OutOfRangeNumbersAreOneLineWithoutNlohmannsPrefix) {
  for (const char* body : {R"({"argv": ["a"], "priority": 1e999})",
                           R"({"argv": ["a"], "priority": 100000000000000000000})"}) {
    const HttpReply r = call(M::POST, "/v1/tasks", body);
    EXPECT_EQ(r.status, 400u) << body;
    const std::string error = body_of(r)["error"];
    EXPECT_EQ(error.find("[json.exception"), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
}

TEST(HttpForeignRequest, OriginMustNameTheHostAndLoopbackTakesLoopbackHostsOnly) {
  EXPECT_EQ(foreign_request("127.0.0.1:8000", "", true), "");
  EXPECT_EQ(foreign_request("localhost:8000", "", true), "");
  EXPECT_EQ(foreign_request("LocalHost", "", true), "");
  EXPECT_EQ(foreign_request("[::1]:8000", "", true), "");
  EXPECT_EQ(foreign_request("127.1.2.3", "", true), "");
  EXPECT_EQ(foreign_request("", "", true), "");  // HTTP/1.0 without Host
  EXPECT_NE(foreign_request("evil.example:8000", "", true), "");
  EXPECT_NE(foreign_request("10.0.0.1:8000", "", true), "");
  EXPECT_EQ(foreign_request("10.0.0.1:8000", "", false), "");
  EXPECT_EQ(foreign_request("127.0.0.1:8000", "http://127.0.0.1:8000", true), "");
  EXPECT_NE(foreign_request("127.0.0.1:8000", "http://evil.example", true), "");
  EXPECT_NE(foreign_request("127.0.0.1:8000", "null", true), "");
  EXPECT_NE(foreign_request("node:8000", "http://evil.example", false), "");
  const std::string why = foreign_request("evil.example", "", true);
  EXPECT_EQ(why.find('\n'), std::string::npos);
}

TEST(HttpUtf8, CompletePrefixDropsOnlyAnIncompleteTrailingSequence) {
  const std::string euro = "\xE2\x82\xAC";
  EXPECT_EQ(utf8_complete_prefix(""), 0u);
  EXPECT_EQ(utf8_complete_prefix("ab"), 2u);
  EXPECT_EQ(utf8_complete_prefix("a" + euro), 4u);
  EXPECT_EQ(utf8_complete_prefix("a" + euro.substr(0, 2)), 1u);
  EXPECT_EQ(utf8_complete_prefix("a" + euro.substr(0, 1)), 1u);
  EXPECT_EQ(utf8_complete_prefix("\xF0\x9F\x98"), 0u);      // 3 of 4 bytes
  EXPECT_EQ(utf8_complete_prefix("\xF0\x9F\x98\x80"), 4u);  // whole
  EXPECT_EQ(utf8_complete_prefix("a\x80"), 2u);             // a stray continuation: not ours to fix
}

TEST(HttpUtf8, CompletePrefixKeepsBytesThatCanNeverBeACharacter) {
  EXPECT_EQ(utf8_complete_prefix("a\xC0"), 2u);  // C0, C1: overlong leads
  EXPECT_EQ(utf8_complete_prefix("a\xC1"), 2u);
  EXPECT_EQ(utf8_complete_prefix("a\xF5"), 2u);  // F5..FF: no such lead
  EXPECT_EQ(utf8_complete_prefix("a\xFF"), 2u);
  EXPECT_EQ(utf8_complete_prefix("a\xE0\x80"), 3u);  // overlong 3-byte form
  EXPECT_EQ(utf8_complete_prefix("a\xED\xA0"), 3u);  // a surrogate
  EXPECT_EQ(utf8_complete_prefix("a\xF0\x80"), 3u);  // overlong 4-byte form
  EXPECT_EQ(utf8_complete_prefix("a\xF4\x90"), 3u);  // past U+10FFFF
  EXPECT_EQ(utf8_complete_prefix("a\xE0\xA0"), 1u);  // U+0800's start: may be completed
  EXPECT_EQ(utf8_complete_prefix("a\xF4\x8F\xBF"), 1u);
  EXPECT_EQ(utf8_complete_prefix("a\xC2"), 1u);
}

TEST_F(HttpApiTest, LogChunksEndOnACharacterBoundary) {
  backend.log_text =
      "a\xE2\x82\xAC"
      "b";
  backend.log_finished = false;
  HttpReply r = call(M::GET, "/v1/tasks/n:1/logs?max_bytes=3");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(body_of(r)["data"], "a");
  EXPECT_EQ(body_of(r)["next_offset"], 1);
  backend.log_text = "a\xE2\x82";  // the task has written only part of the euro so far
  r = call(M::GET, "/v1/tasks/n:1/logs?offset=1");
  EXPECT_EQ(body_of(r)["data"], "");  // nothing yet: the task still runs
  EXPECT_EQ(body_of(r)["next_offset"], 1);
  backend.log_finished = true;  // a finished log that ends broken: its bytes, as they are
  r = call(M::GET, "/v1/tasks/n:1/logs?offset=1");
  EXPECT_EQ(body_of(r)["data"], "\xEF\xBF\xBD");  // one U+FFFD
  EXPECT_EQ(body_of(r)["next_offset"], 3);
}

TEST_F(HttpApiTest, ASmallMaxBytesAlwaysMovesOn) {
  backend.log_text = "\xE2\x82\xAC\xE2\x82\xAC";  // two euros, more may follow
  backend.log_finished = false;
  std::uint64_t offset = 0;
  std::vector<std::uint64_t> offsets;
  for (int i = 0; i < 10 && offset < 6; ++i) {
    HttpReply r = call(M::GET, "/v1/tasks/n:1/logs?max_bytes=2&offset=" + std::to_string(offset));
    ASSERT_EQ(r.status, 200u) << r.body;
    offset = body_of(r)["next_offset"];
    offsets.push_back(offset);
  }
  // 2 bytes cut the first euro (as read), the next read ends on its end.
  EXPECT_EQ(offsets, (std::vector<std::uint64_t>{2, 3, 5, 6}));
  backend.log_text = "a\xE2\x82";  // max_bytes cut a character: as read even while it runs
  HttpReply r = call(M::GET, "/v1/tasks/n:1/logs?offset=1&max_bytes=2");
  EXPECT_EQ(body_of(r)["next_offset"], 3);
}

TEST_F(HttpApiTest, MetricsOnlyServesMetrics) {
  HttpApiOptions options;
  options.api = false;
  options.metrics = true;
  options.metrics_text = [] { return std::string("braid_up 1\n"); };
  make(std::move(options));
  const HttpReply r = call(M::GET, "/metrics");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type.rfind("text/plain; version=0.0.4", 0), 0u);
  EXPECT_EQ(r.body, "braid_up 1\n");
  EXPECT_EQ(call(M::GET, "/kernel/scheduler/stats").status, 404u);
  EXPECT_EQ(call(M::POST, "/metrics").status, 405u);
}

TEST_F(HttpApiTest, OversizedBodiesAre413) {
  HttpApiOptions options;
  options.body_bytes_max = 64;
  make(std::move(options));
  const HttpReply r = call(M::POST, "/v1/tasks", std::string(65, ' '));
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(body_of(r)["success"], false);
}

}  // namespace
}  // namespace braid::node
