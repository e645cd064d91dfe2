#include "node/http_api.h"

#include <capnp/message.h>
#include <kj/compat/url.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <asio/ip/address.hpp>
#include <cctype>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <variant>

#include "node/cli_drain.h"
#include "node/cli_output.h"
#include "node/spec_file.h"
#include "rpc/convert.h"
#include "sched/duration.h"

namespace braid::node {
namespace {

using nlohmann::json;
// Answers keep their keys in the order written ("success" first, the
// /kernel shapes field by field, as the original API wrote them).
using ordered_json = nlohmann::ordered_json;

enum class Kind {
  kMetrics,
  kKernelStats,
  kKernelPolicy,
  kKernelNext,
  kTasks,
  kTask,
  kTaskCancel,
  kTaskWait,
  kTaskLogs,
  kStats,
  kPeers,
  kDrain,
};

constexpr std::string_view kInvalidPolicy = "Invalid policy. Must be RoundRobin, Priority, or Fair";
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

// One path shape: literal segments, "{id}" for a task id.
struct PathShape {
  std::vector<std::string_view> segments;
  std::vector<kj::HttpMethod> methods;
  Kind kind;
  bool api;  // false: /metrics
};

const std::vector<PathShape>& shapes() {
  using M = kj::HttpMethod;
  static const std::vector<PathShape> table{
      {{"metrics"}, {M::GET}, Kind::kMetrics, false},
      {{"kernel", "scheduler", "stats"}, {M::GET}, Kind::kKernelStats, true},
      {{"kernel", "scheduler", "policy"}, {M::PUT}, Kind::kKernelPolicy, true},
      {{"kernel", "schedule-next"}, {M::POST}, Kind::kKernelNext, true},
      {{"v1", "tasks"}, {M::GET, M::POST}, Kind::kTasks, true},
      {{"v1", "tasks", "{id}"}, {M::GET, M::DELETE}, Kind::kTask, true},
      {{"v1", "tasks", "{id}", "cancel"}, {M::POST}, Kind::kTaskCancel, true},
      {{"v1", "tasks", "{id}", "wait"}, {M::GET}, Kind::kTaskWait, true},
      {{"v1", "tasks", "{id}", "logs"}, {M::GET}, Kind::kTaskLogs, true},
      {{"v1", "stats"}, {M::GET}, Kind::kStats, true},
      {{"v1", "peers"}, {M::GET}, Kind::kPeers, true},
      {{"v1", "drain"}, {M::GET, M::POST, M::DELETE}, Kind::kDrain, true},
  };
  return table;
}

// The query parameters each route takes.
std::vector<std::string_view> query_keys(Kind kind, kj::HttpMethod method) {
  switch (kind) {
    case Kind::kTasks:
      if (method == kj::HttpMethod::GET) return {"state", "name", "after", "limit", "all"};
      return {};
    case Kind::kTaskWait:
      return {"timeout"};
    case Kind::kTaskLogs:
      return {"stream", "offset", "max_bytes"};
    default:
      return {};
  }
}

bool is_mutating(kj::HttpMethod method) {
  return method == kj::HttpMethod::PUT || method == kj::HttpMethod::POST ||
         method == kj::HttpMethod::DELETE || method == kj::HttpMethod::PATCH;
}

// Constant time in the token's length: the answer does not tell how much matched.
bool same_secret(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    diff |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  }
  return diff == 0;
}

std::string join(const std::vector<kj::HttpMethod>& methods) {
  std::string out;
  for (kj::HttpMethod m : methods) {
    if (!out.empty()) out += ", ";
    out += kj::str(m).cStr();
  }
  return out;
}

// nlohmann's "[json.exception.out_of_range.406] " prefix dropped.
std::string without_json_prefix(std::string what) {
  if (what.rfind("[json.exception", 0) == 0) {
    const std::size_t close = what.find("] ");
    if (close != std::string::npos) what = what.substr(close + 2);
  }
  return what;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// "close" among the comma-separated tokens of a Connection header.
bool has_close_token(std::string_view value) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view token = value.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (iequals(token, "close")) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// The host of a Host value ("[::1]:80" -> "::1", "a:80" -> "a").
std::string_view host_of(std::string_view host_port) {
  if (!host_port.empty() && host_port.front() == '[') {
    const std::size_t close = host_port.find(']');
    return close == std::string_view::npos ? host_port : host_port.substr(1, close - 1);
  }
  return host_port.substr(0, host_port.find(':'));
}

// What fits on one line of an error: no newlines, at most 300 bytes.
std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  if (text.size() > 300) text = text.substr(0, 297) + "...";
  return text;
}

HttpReply json_reply(unsigned status, const ordered_json& body) {
  HttpReply reply;
  reply.status = status;
  reply.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return reply;
}

HttpReply ok(ordered_json fields) {
  ordered_json out = {{"success", true}};
  for (auto& [key, value] : fields.items()) out[key] = std::move(value);
  return json_reply(200, out);
}

// A backend's refusal: unknown tasks are 404, a node going away 503, the rest 400.
HttpReply refusal(const std::string& message) {
  if (message.rfind("unknown task", 0) == 0) return http_error(404, message);
  if (message.find("is shutting down") != std::string::npos) return http_error(503, message);
  return http_error(400, message);
}

// Deeper JSON is refused before it is parsed: a spec needs 4 levels, and
// nesting millions deep would exhaust the stack of whatever walks the value.
// (nlohmann's depth callback does the same but makes parsing quadratic.)
constexpr int kJsonDepthMax = 32;

bool nested_deeper_than(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// The body as a JSON value, or a 400 naming where it broke.
std::variant<json, HttpReply> parse_body(const std::string& body) {
  if (nested_deeper_than(body, kJsonDepthMax)) {
    return http_error(400,
                      "bad JSON: nested deeper than " + std::to_string(kJsonDepthMax) + " levels");
  }
  try {
    return json::parse(body);
  } catch (const json::exception& e) {  // parse_error, out_of_range (1e999) ...
    return http_error(400, "bad JSON: " + one_line(without_json_prefix(e.what())));
  }
}

std::optional<std::uint64_t> unsigned_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<bool> boolean(std::string_view text) {
  if (text == "" || text == "1" || text == "true" || text == "yes") return true;
  if (text == "0" || text == "false" || text == "no") return false;
  return std::nullopt;
}

// A spec from the body (one JSON object, as a line of `braid submit --file`),
// checked as the control socket checks one: the same limits, the same
// conversion (rpc/convert.h), so neither path accepts what the other refuses.
sched::Result<sched::TaskSpec> spec_of(const json& object) {
  auto spec = spec_from_json_line(object.dump(-1, ' ', false, json::error_handler_t::strict));
  if (!spec) return spec;
  capnp::MallocMessageBuilder message;
  auto wire = message.initRoot<rpc::schema::TaskSpec>();
  rpc::to_wire(spec.value(), wire);
  return rpc::from_wire(wire.asReader());
}

const char* status_text(unsigned status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

// Specs converted per loop turn (as rpc/control_server.cc does): a
// 100000-task submission must not hold the loop for long at once.
constexpr std::size_t kSpecsPerTurn = 200;

struct Conversion {
  json items;  // an array of specs
  bool single = false;
  std::vector<sched::TaskSpec> specs;
  std::string error;  // non-empty: refused
};

kj::Promise<void> convert_specs(std::shared_ptr<Conversion> c) {
  const std::size_t end = std::min(c->specs.size() + kSpecsPerTurn, c->items.size());
  for (std::size_t i = c->specs.size(); i < end; ++i) {
    auto spec = spec_of(c->items[i]);
    if (!spec) {
      c->error = c->single ? spec.error().message
                           : "task " + std::to_string(i + 1) + ": " + spec.error().message;
      return kj::READY_NOW;
    }
    c->specs.push_back(std::move(spec).value());
  }
  if (end == c->items.size()) return kj::READY_NOW;
  return kj::evalLater([c] { return convert_specs(c); });
}

}  // namespace

struct HttpApi::Route {
  Kind kind;
  kj::HttpMethod method;
  std::string id;
  std::map<std::string, std::string> query;
};

HttpReply http_error(unsigned status, const std::string& message) {
  return json_reply(status, ordered_json{{"success", false}, {"error", one_line(message)}});
}

std::string foreign_request(std::string_view host, std::string_view origin, bool loopback) {
  if (!origin.empty()) {
    const std::size_t scheme = origin.find("://");
    const std::string_view origin_host =
        scheme == std::string_view::npos ? std::string_view() : origin.substr(scheme + 3);
    if (origin_host.empty() || !iequals(origin_host, host)) {
      return "cross-site request refused: Origin " + std::string(origin.substr(0, 100)) +
             " is not this API (" + std::string(host.substr(0, 100)) + ")";
    }
  }
  if (loopback && !host.empty()) {
    const std::string_view name = host_of(host);
    std::error_code ec;
    const auto address = asio::ip::make_address(std::string(name), ec);
    if (!iequals(name, "localhost") && (ec || !address.is_loopback())) {
      return "Host " + std::string(host.substr(0, 100)) +
             " refused: this API listens on loopback and answers only Host 127.0.0.1, [::1] or "
             "localhost";
    }
  }
  return "";
}

std::size_t utf8_complete_prefix(std::string_view data) {
  const std::size_t n = data.size();
  for (std::size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(data[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte
    // Only C2..F4 start a character of 2 to 4 bytes (C0, C1, F5..FF never do).
    const std::size_t need = c >= 0xC2 && c <= 0xDF   ? 2
                             : c >= 0xE0 && c <= 0xEF ? 3
                             : c >= 0xF0 && c <= 0xF4 ? 4
                                                      : 1;
    if (back >= need) return n;
    if (back >= 2) {
      // The second byte's range for this lead (no overlong form, surrogate or
      // code point past U+10FFFF): outside it no byte can complete the character.
      const auto second = static_cast<unsigned char>(data[n - back + 1]);
      const unsigned low = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
      const unsigned high = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
      if (second < low || second > high) return n;
    }
    return n - back;
  }
  return n;
}

HttpApi::HttpApi(rpc::ControlBackend& backend, HttpApiOptions options)
    : backend_(backend), options_(std::move(options)) {
  kj::HttpHeaderTable::Builder builder;
  authorization_ = builder.add("Authorization");
  allow_ = builder.add("Allow");
  www_authenticate_ = builder.add("WWW-Authenticate");
  origin_ = builder.add("Origin");
  table_ = builder.build();
}

HttpApi::~HttpApi() = default;

std::variant<HttpApi::Route, HttpReply> HttpApi::resolve(kj::HttpMethod method,
                                                         const std::string& url,
                                                         const std::string& authorization) const {
  KJ_IF_MAYBE (parsed, kj::Url::tryParse(url, kj::Url::HTTP_REQUEST)) {
    const auto& path = parsed->path;
    for (const PathShape& shape : shapes()) {
      if (shape.api ? !options_.api : !options_.metrics) continue;
      if (shape.segments.size() != path.size()) continue;
      Route route{shape.kind, method, {}, {}};
      bool match = true;
      for (std::size_t i = 0; i < path.size() && match; ++i) {
        const std::string_view segment(path[i].cStr(), path[i].size());
        if (shape.segments[i] == "{id}") {
          route.id = std::string(segment);
        } else {
          match = shape.segments[i] == segment;
        }
      }
      if (!match) continue;
      if (!options_.token.empty() && is_mutating(method)) {
        const std::string_view prefix = "Bearer ";
        const bool bearer =
            authorization.size() >= prefix.size() &&
            iequals(std::string_view(authorization).substr(0, prefix.size()), prefix);
        if (!bearer ||
            !same_secret(std::string_view(authorization).substr(prefix.size()), options_.token)) {
          HttpReply reply = http_error(
              401, authorization.empty()
                       ? "this request needs the API token: Authorization: Bearer <token>"
                       : "the API token is wrong (Authorization: Bearer <token>)");
          reply.headers.emplace_back("WWW-Authenticate", "Bearer");
          return reply;
        }
      }
      if (std::find(shape.methods.begin(), shape.methods.end(), method) == shape.methods.end()) {
        HttpReply reply = http_error(405, std::string(kj::str(method).cStr()) +
                                              " is not allowed on " + url.substr(0, url.find('?')) +
                                              " (allowed: " + join(shape.methods) + ")");
        reply.headers.emplace_back("Allow", join(shape.methods));
        return reply;
      }
      if (!route.id.empty()) {
        if (sched::Status s = sched::validate_task_id(route.id); !s) {
          return http_error(400, s.error().message);
        }
      }
      const std::vector<std::string_view> allowed = query_keys(shape.kind, method);
      for (const auto& param : parsed->query) {
        const std::string name(param.name.cStr(), param.name.size());
        if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
          std::string names;
          for (std::string_view a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
          return http_error(400, "unknown query parameter \"" + name +
                                     "\" (allowed: " + (names.empty() ? "none" : names) + ")");
        }
        route.query[name] = std::string(param.value.cStr(), param.value.size());
      }
      return route;
    }
    return http_error(404, "no such path: " + url.substr(0, url.find('?')) + " (see docs/api.md)");
  }
  return http_error(400, "bad request URL");
}

kj::Promise<HttpReply> HttpApi::handle(kj::HttpMethod method, const std::string& url,
                                       const std::string& authorization, std::string body) {
  auto resolved = resolve(method, url, authorization);
  if (auto* reply = std::get_if<HttpReply>(&resolved)) return kj::mv(*reply);
  if (body.size() > options_.body_bytes_max) {
    return http_error(413, "the request body is " + std::to_string(body.size()) +
                               " bytes; at most " + std::to_string(options_.body_bytes_max) +
                               " are allowed");
  }
  try {
    return dispatch(std::get<Route>(resolved), std::move(body));
  } catch (const std::exception& e) {  // json type errors and the like: bad input
    return http_error(400, without_json_prefix(e.what()));
  }
}

kj::Promise<HttpReply> HttpApi::dispatch(const Route& route, std::string body) {
  auto body_json = [&]() -> std::variant<json, HttpReply> {
    if (body.empty()) return json(nullptr);
    return parse_body(body);
  };
  switch (route.kind) {
    case Kind::kMetrics: {
      HttpReply reply;
      reply.content_type = std::string(kMetricsType);
      reply.body = options_.metrics_text ? options_.metrics_text() : std::string();
      return reply;
    }
    case Kind::kKernelStats: {
      const sched::TorusStats s = backend_.stats().torus;
      return ok({{"stats",
                  {{"total_scheduled", s.total_scheduled},
                   {"context_switches", s.context_switches},
                   {"preemptions", s.preemptions},
                   {"active_processes", s.active_processes},
                   {"policy", std::string(sched::to_string(s.policy))},
                   {"quantum_micros", s.quantum_micros}}}});
    }
    case Kind::kKernelPolicy: {
      auto parsed = parse_body(body);
      if (auto* reply = std::get_if<HttpReply>(&parsed)) return kj::mv(*reply);
      const json& j = std::get<json>(parsed);
      if (!j.is_object() || !j.contains("policy") || !j["policy"].is_string()) {
        return http_error(400, std::string(kInvalidPolicy));
      }
      auto policy = sched::parse_policy(j["policy"].get<std::string>());
      if (!policy) return http_error(400, std::string(kInvalidPolicy));
      if (sched::Status s = backend_.set_policy(policy.value()); !s) {
        return refusal(s.error().message);
      }
      const std::string name(sched::to_string(policy.value()));
      return ok({{"policy", name}, {"message", "Scheduling policy changed to " + name}});
    }
    case Kind::kKernelNext: {
      auto next = backend_.schedule_next();
      if (!next) return refusal(next.error().message);
      if (!next.value()) {
        return ok({{"next_pid", nullptr}, {"message", "No processes available to schedule"}});
      }
      return ok({{"next_pid", *next.value()}});
    }
    case Kind::kTasks: {
      if (route.method == kj::HttpMethod::POST) {
        auto parsed = body_json();
        if (auto* reply = std::get_if<HttpReply>(&parsed)) return kj::mv(*reply);
        json& j = std::get<json>(parsed);
        // One spec, an array of specs, or {"tasks": [specs]}.
        json* list = nullptr;
        if (j.is_array()) {
          list = &j;
        } else if (j.is_object() && j.contains("tasks")) {
          if (j.size() != 1 || !j["tasks"].is_array()) {
            return http_error(400, "give {\"tasks\": [spec, ...]} alone, a spec, or an array");
          }
          list = &j["tasks"];
        } else if (!j.is_object()) {
          return http_error(400,
                            "the body must be a task spec {\"argv\": [...], ...}, an array of "
                            "them, or {\"tasks\": [...]}");
        }
        auto conversion = std::make_shared<Conversion>();
        if (list == nullptr) {
          conversion->single = true;
          conversion->items = json::array({j});
        } else {
          if (list->empty()) return http_error(400, "no tasks in the body");
          if (list->size() > rpc::kSpecsPerSubmitMax) {
            return http_error(400, "a submission holds at most " +
                                       std::to_string(rpc::kSpecsPerSubmitMax) + " tasks, got " +
                                       std::to_string(list->size()));
          }
          conversion->items = std::move(*list);
        }
        conversion->specs.reserve(conversion->items.size());
        return convert_specs(conversion).then([this, conversion]() -> kj::Promise<HttpReply> {
          if (!conversion->error.empty()) return http_error(400, conversion->error);
          return submit(std::move(conversion->specs));
        });
      }
      rpc::ListQuery query;
      const auto& q = route.query;
      if (auto it = q.find("state"); it != q.end() && !it->second.empty()) {
        auto state = sched::parse_task_state(it->second);
        if (!state) return http_error(400, "state: " + state.error().message);
        query.state = state.value();
      }
      if (auto it = q.find("name"); it != q.end()) {
        if (it->second.size() > rpc::kStringBytesMax) return http_error(400, "name is too long");
        query.name_glob = it->second;
      }
      if (auto it = q.find("after"); it != q.end()) {
        auto after = unsigned_number(it->second);
        if (!after) return http_error(400, "after: \"" + it->second + "\" is not a cursor");
        query.after = *after;
      }
      query.limit = rpc::kListPageMax;
      if (auto it = q.find("limit"); it != q.end()) {
        auto limit = unsigned_number(it->second);
        if (!limit || *limit < 1 || *limit > rpc::kListPageMax) {
          return http_error(
              400, "limit: \"" + it->second + "\" must be 1.." + std::to_string(rpc::kListPageMax));
        }
        query.limit = static_cast<std::uint32_t>(*limit);
      }
      if (auto it = q.find("all"); it != q.end()) {
        auto all = boolean(it->second);
        if (!all) return http_error(400, "all: \"" + it->second + "\" must be true or false");
        query.all = *all;
      }
      auto page = backend_.list(query);
      if (!page) return refusal(page.error().message);
      const rpc::ListPage& p = page.value();
      return ok(
          {{"tasks", tasks_json(p.tasks)}, {"next", p.next == 0 ? json(nullptr) : json(p.next)}});
    }
    case Kind::kTask: {
      if (route.method == kj::HttpMethod::DELETE) {
        if (sched::Status s = backend_.cancel({route.id}); !s) return refusal(s.error().message);
        return ok({{"id", route.id}, {"cancelled", true}});
      }
      auto shown = backend_.show({route.id});
      if (!shown) return refusal(shown.error().message);
      if (shown.value().empty()) return http_error(404, "unknown task \"" + route.id + "\"");
      return ok({{"task", task_json(shown.value().front())}});
    }
    case Kind::kTaskCancel: {
      if (sched::Status s = backend_.cancel({route.id}); !s) return refusal(s.error().message);
      return ok({{"id", route.id}, {"cancelled", true}});
    }
    case Kind::kTaskWait: {
      sched::Micros timeout_us = kWaitDefaultUs;
      if (auto it = route.query.find("timeout"); it != route.query.end()) {
        auto parsed = sched::parse_duration(it->second);
        if (!parsed || parsed.value() <= 0 || parsed.value() > kWaitMaxUs) {
          return http_error(400, "timeout: \"" + it->second + "\" must be a duration 1ms.." +
                                     sched::format_duration(kWaitMaxUs) + " (e.g. 30s)");
        }
        timeout_us = parsed.value();
      }
      return backend_.wait({route.id}, timeout_us).then([](kj::Own<rpc::WaitOutcome> outcome) {
        if (!outcome->error.empty()) return refusal(outcome->error);
        json fields{{"timed_out", outcome->timed_out}};
        fields["task"] = outcome->tasks.empty() ? json(nullptr) : task_json(outcome->tasks.front());
        return ok(std::move(fields));
      });
    }
    case Kind::kTaskLogs: {
      bool stderr_stream = false;
      std::uint64_t offset = 0;
      std::uint32_t max_bytes = kLogBytesDefault;
      const auto& q = route.query;
      if (auto it = q.find("stream"); it != q.end()) {
        if (it->second != "stdout" && it->second != "stderr") {
          return http_error(400, "stream: \"" + it->second + "\" must be stdout or stderr");
        }
        stderr_stream = it->second == "stderr";
      }
      if (auto it = q.find("offset"); it != q.end()) {
        auto n = unsigned_number(it->second);
        if (!n) return http_error(400, "offset: \"" + it->second + "\" must be a byte offset");
        offset = *n;
      }
      if (auto it = q.find("max_bytes"); it != q.end()) {
        auto n = unsigned_number(it->second);
        if (!n || *n < 1 || *n > rpc::kLogChunkBytesMax) {
          return http_error(400, "max_bytes: \"" + it->second + "\" must be 1.." +
                                     std::to_string(rpc::kLogChunkBytesMax));
        }
        max_bytes = static_cast<std::uint32_t>(*n);
      }
      return backend_.read_log_anywhere(route.id, stderr_stream, offset, max_bytes)
          .then([&backend = backend_, id = route.id, stderr_stream, offset,
                 max_bytes](kj::Own<rpc::LogReply> reply) -> kj::Promise<HttpReply> {
            if (!reply->error.empty()) return refusal(reply->error);
            const rpc::LogChunk& chunk = reply->chunk;
            auto answer = [offset](std::string data, bool finished) {
              const std::size_t size = data.size();
              return ok({{"data", std::move(data)},
                         {"offset", offset},
                         {"next_offset", offset + size},
                         {"finished", finished}});
            };
            // A chunk never ends inside a UTF-8 character that may still be
            // completed: next_offset points at its first byte. A chunk that
            // would be empty so is given as read (U+FFFD in data), so that a
            // client following next_offset always moves on: when max_bytes
            // cut it, or when the log ends there for good.
            std::string data = chunk.data;
            const std::size_t whole = utf8_complete_prefix(data);
            if (whole > 0 || data.size() >= max_bytes) {
              if (whole > 0) data.resize(whole);
              return answer(std::move(data), chunk.finished);
            }
            if (data.empty()) return answer(std::move(data), chunk.finished);
            // Only part of a character, then the end of the file so far: has
            // the task ended (no more bytes will come), or may it still write them?
            const std::uint64_t after = offset + data.size();
            return backend.read_log_anywhere(id, stderr_stream, after, 1)
                .then([answer, data = std::move(data)](kj::Own<rpc::LogReply> rest) mutable {
                  const bool ended =
                      rest->error.empty() && rest->chunk.data.empty() && rest->chunk.finished;
                  if (!ended) data.clear();  // for the next read, once completed
                  return answer(std::move(data), false);
                });
          });
    }
    case Kind::kStats: {
      const rpc::StatsView stats = backend_.stats();
      return ok({{"stats", stats_json(stats)}});
    }
    case Kind::kPeers: {
      const rpc::PeersView peers = backend_.peers();
      return ok({{"peers", peers_json(peers)},
                 {"listen", peers.listen.empty() ? json(nullptr) : json(peers.listen)}});
    }
    case Kind::kDrain: {
      const bool query = route.method == kj::HttpMethod::GET;
      const bool cancel = route.method == kj::HttpMethod::DELETE;
      auto view = backend_.drain(cancel, query);
      if (!view) return refusal(view.error().message);
      return ok({{"drain", drain_json(view.value())}});
    }
  }
  return http_error(500, "unhandled route");
}

kj::Promise<HttpReply> HttpApi::submit(std::vector<sched::TaskSpec> specs) {
  return backend_.submit(std::move(specs)).then([](kj::Own<rpc::SubmitOutcome> outcome) {
    if (!outcome->error.empty()) return refusal(outcome->error);
    HttpReply reply = ok({{"ids", outcome->ids}});
    reply.status = 201;
    return reply;
  });
}

kj::Promise<void> HttpApi::request(kj::HttpMethod method, kj::StringPtr url,
                                   const kj::HttpHeaders& headers, kj::AsyncInputStream& body,
                                   Response& response) {
  const std::string url_text(url.cStr(), url.size());
  std::string authorization;
  KJ_IF_MAYBE (value, headers.get(authorization_)) {
    authorization.assign(value->cStr(), value->size());
  }
  std::string host;
  std::string origin;
  bool close_after = true;  // no Host: HTTP/1.0 (which closes unless asked otherwise)
  KJ_IF_MAYBE (value, headers.get(kj::HttpHeaderId::HOST)) {
    host.assign(value->cStr(), value->size());
    close_after = false;
  }
  KJ_IF_MAYBE (value, headers.get(origin_)) {
    origin.assign(value->cStr(), value->size());
  }
  KJ_IF_MAYBE (value, headers.get(kj::HttpHeaderId::CONNECTION)) {
    if (has_close_token(std::string_view(value->cStr(), value->size()))) close_after = true;
  }
  const std::string path_text = url_text.substr(0, url_text.find('?'));
  auto send = [this, &response, method, path = path_text,
               close_after](HttpReply reply) -> kj::Promise<void> {
    spdlog::debug("http: {} {} -> {}", kj::str(method).cStr(), path, reply.status);
    kj::HttpHeaders out(*table_);
    out.set(kj::HttpHeaderId::CONTENT_TYPE, kj::str(reply.content_type.c_str()));
    for (const auto& [name, value] : reply.headers) {
      if (name == "Allow") out.set(allow_, kj::str(value.c_str()));
      if (name == "WWW-Authenticate") out.set(www_authenticate_, kj::str(value.c_str()));
    }
    closing_ = close_after || reply.close;  // asked by kj-http in send()
    auto stream = response.send(reply.status, kj::StringPtr(status_text(reply.status)), out,
                                static_cast<std::uint64_t>(reply.body.size()));
    closing_ = false;
    auto text = kj::heapString(reply.body.data(), reply.body.size());
    auto write = stream->write(text.begin(), text.size());
    return write.attach(kj::mv(stream), kj::mv(text));
  };
  auto closing = [](HttpReply reply) {
    reply.close = true;
    return reply;
  };
  // Origin and Host, the caller, route, method and token first: a refused
  // request's body is never read.
  if (std::string why = foreign_request(host, origin, options_.loopback); !why.empty()) {
    return send(closing(http_error(403, why)));
  }
  if (options_.stranger && !(method == kj::HttpMethod::GET && path_text == "/metrics")) {
    return send(closing(http_error(
        403, "only braidd's own user (uid " + std::to_string(::geteuid()) +
                 ") or root may use this token-less loopback API; other local users may only "
                 "GET /metrics (or run braidd with --api-token-file)")));
  }
  auto resolved = resolve(method, url_text, authorization);
  if (auto* reply = std::get_if<HttpReply>(&resolved)) {
    // A small unread body: kj-http discards it (at most 64 KiB, 1 s) so the
    // client reads this answer and may go on; a larger or chunked one: close.
    bool small_body = false;
    KJ_IF_MAYBE (length, body.tryGetLength()) {
      small_body = *length <= 65536;
    }
    reply->close = reply->close || !small_body;
    return send(kj::mv(*reply));
  }
  const bool bodiless = method == kj::HttpMethod::GET || method == kj::HttpMethod::HEAD ||
                        method == kj::HttpMethod::DELETE;
  if (bodiless) {
    bool empty = false;
    KJ_IF_MAYBE (length, body.tryGetLength()) {
      empty = *length == 0;
    }
    if (!empty) {
      return send(closing(http_error(
          400, std::string(kj::str(method).cStr()) + " takes no request body (send none)")));
    }
    return handle(method, url_text, authorization, std::string()).then(kj::mv(send));
  }
  const std::uint64_t limit = options_.body_bytes_max;
  KJ_IF_MAYBE (length, body.tryGetLength()) {
    if (*length > limit) {
      return send(closing(http_error(413, "the request body is " + std::to_string(*length) +
                                              " bytes; at most " + std::to_string(limit) +
                                              " are allowed")));
    }
  }
  struct BodyRead {
    enum { kRead, kTooBig, kTimedOut } outcome = kRead;
    std::string text;
  };
  kj::Promise<BodyRead> read = body.readAllText(limit + 1).then(
      [](kj::String text) {
        return BodyRead{BodyRead::kRead, std::string(text.cStr(), text.size())};
      },
      [](kj::Exception&& e) {  // a chunked body past the limit (readAllText throws)
        if (e.getType() == kj::Exception::Type::DISCONNECTED) kj::throwFatalException(kj::mv(e));
        return BodyRead{BodyRead::kTooBig, {}};
      });
  const std::uint32_t timeout_ms = options_.body_timeout_ms;
  if (options_.timer != nullptr) {
    read = read.exclusiveJoin(options_.timer->afterDelay(timeout_ms * kj::MILLISECONDS).then([] {
      return BodyRead{BodyRead::kTimedOut, {}};
    }));
  }
  return read
      .then([this, method, url_text, authorization, limit, timeout_ms,
             closing](BodyRead read) -> kj::Promise<HttpReply> {
        if (read.outcome == BodyRead::kTooBig) {
          return closing(
              http_error(413, "the request body is over " + std::to_string(limit) + " bytes"));
        }
        if (read.outcome == BodyRead::kTimedOut) {
          return closing(
              http_error(408, "the request body did not arrive within " +
                                  sched::format_duration(sched::Micros{timeout_ms} * 1000)));
        }
        return handle(method, url_text, authorization, std::move(read.text));
      })
      .then(kj::mv(send));
}

}  // namespace braid::node
