#include "node/spec_file.h"

#include <capnp/message.h>

#include <CLI/Error.hpp>
#include <CLI/Validators.hpp>
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "rpc/convert.h"
#include "sched/duration.h"

namespace braid::node {
namespace {

static_assert(kBatchTasksMax == rpc::kSpecsPerSubmitMax,
              "the CLI's batch limit must be the daemon's, so a refusal names the right number");

using nlohmann::json;
using sched::Error;
using sched::Result;

constexpr std::array<std::string_view, 20> kFields{
    "argv",       "cmd",   "name",    "priority",           "cpus",
    "memory",     "after", "retries", "retry_backoff",      "time_limit",
    "cwd",        "env",   "pin",     "requeue_on_restart", "after_any",
    "after_fail", "hold",  "output",  "separate_stderr",    "account"};

// Long values are cut in messages so an error stays one readable line.
constexpr std::size_t kShownValueBytesMax = 40;

std::string allowed_fields() {
  std::string out;
  for (std::string_view f : kFields) {
    if (!out.empty()) out += ", ";
    out += f;
  }
  return out;
}

std::string shown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kShownValueBytesMax) text = text.substr(0, kShownValueBytesMax) + "...";
  return text;
}

Result<std::string> get_string(std::string_view field, const json& value) {
  const std::string name(field);
  if (!value.is_string()) return Error{name + " must be a string, got " + shown(value)};
  const auto& text = value.get_ref<const std::string&>();
  if (text.find('\0') != std::string::npos) {
    return Error{name + " contains a NUL byte, which no program can receive"};
  }
  return text;
}

Result<std::vector<std::string>> get_strings(std::string_view field, const json& value,
                                             std::string_view what) {
  const std::string name(field);
  if (!value.is_array()) {
    return Error{name + " must be an array of " + std::string(what) + ", got " + shown(value)};
  }
  std::vector<std::string> out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    auto s = get_string(name + "[" + std::to_string(i) + "]", value[i]);
    if (!s) return s.error();
    out.push_back(std::move(s).value());
  }
  return out;
}

// The range itself is validate_spec's; this only refuses what cannot be an int.
Result<int> get_int(std::string_view field, const json& value, std::string_view allowed) {
  const std::string name(field);
  if (!value.is_number_integer()) {
    return Error{name + " must be an integer " + std::string(allowed) + ", got " + shown(value)};
  }
  const bool fits = value.is_number_unsigned()
                        ? value.get<std::uint64_t>() <=
                              static_cast<std::uint64_t>(std::numeric_limits<int>::max())
                        : value.get<std::int64_t>() >= std::numeric_limits<int>::min() &&
                              value.get<std::int64_t>() <= std::numeric_limits<int>::max();
  if (!fits) return Error{name + " must be " + std::string(allowed) + ", got " + shown(value)};
  return static_cast<int>(value.get<std::int64_t>());
}

// Sizes read exactly as `--memory` reads them (CLI11's AsSizeValue, k = 1024).
Result<std::uint64_t> get_memory(const json& value) {
  const Error bad{"memory must be bytes (an integer >= 0) or a size like \"512M\", got " +
                  shown(value)};
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer()) {
    if (value.get<std::int64_t>() < 0) return bad;
    return static_cast<std::uint64_t>(value.get<std::int64_t>());
  }
  if (!value.is_string()) return bad;
  static const CLI::AsSizeValue kSizes(false);
  std::string text = value.get<std::string>();
  try {
    if (!kSizes(text).empty()) return bad;
  } catch (const CLI::ValidationError& e) {
    return Error{bad.message + " (" + e.what() + ")"};
  }
  std::uint64_t bytes = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), bytes);
  if (ec != std::errc() || end != text.data() + text.size()) return bad;
  return bytes;
}

Result<sched::Micros> get_duration(std::string_view field, const json& value,
                                   std::string_view example) {
  if (!value.is_string()) {
    return Error{std::string(field) + " must be a duration string like \"" + std::string(example) +
                 "\", got " + shown(value)};
  }
  auto us = sched::parse_duration(value.get_ref<const std::string&>());
  if (!us) return Error{std::string(field) + ": " + us.error().message};
  return us.value();
}

Result<std::vector<std::string>> get_env(const json& value) {
  if (value.is_array()) return get_strings("env", value, "\"KEY=VALUE\" strings");
  if (!value.is_object()) {
    return Error{"env must be an object {\"KEY\": \"VALUE\"} or an array of \"KEY=VALUE\", got " +
                 shown(value)};
  }
  std::vector<std::string> out;
  for (const auto& [key, entry] : value.items()) {
    if (key.empty() || key.find('=') != std::string::npos) {
      return Error{"env key \"" + key + "\" must be non-empty and have no '='"};
    }
    auto v = get_string("env." + key, entry);
    if (!v) return v.error();
    out.push_back(key + "=" + v.value());
  }
  return out;
}

// Sets the spec field named `key` from `value`.
sched::Status set_field(sched::TaskSpec& spec, const std::string& key, const json& value) {
  auto assign = [](auto& out, auto result) -> sched::Status {
    if (!result) return result.error();
    out = std::move(result).value();
    return sched::ok_status();
  };
  if (key == "argv") {
    if (value.is_array() && value.empty()) {
      return Error{"argv must be a non-empty array of strings, got []"};
    }
    return assign(spec.argv, get_strings("argv", value, "strings (non-empty)"));
  }
  if (key == "cmd") {
    auto cmd = get_string("cmd", value);
    if (!cmd) return cmd.error();
    if (cmd.value().empty()) return Error{"cmd must be a non-empty shell command line, got \"\""};
    spec.argv = {"/bin/sh", "-c", cmd.value()};
    return sched::ok_status();
  }
  if (key == "name") return assign(spec.name, get_string("name", value));
  if (key == "priority") return assign(spec.priority, get_int("priority", value, "0..10"));
  if (key == "cpus") return assign(spec.cpus, get_int("cpus", value, "at least 1"));
  if (key == "memory") return assign(spec.memory_bytes, get_memory(value));
  if (key == "after" || key == "after_any" || key == "after_fail") {
    auto ids = get_strings(key, value, "task ids");
    if (!ids) return ids.error();
    const sched::DepKind kind = key == "after"       ? sched::DepKind::kOk
                                : key == "after_any" ? sched::DepKind::kAny
                                                     : sched::DepKind::kFail;
    for (const std::string& id : ids.value()) spec.add_dependency(id, kind);
    return sched::ok_status();
  }
  if (key == "hold") {
    if (!value.is_boolean()) return Error{"hold must be true or false, got " + shown(value)};
    spec.hold = value.get<bool>();
    return sched::ok_status();
  }
  if (key == "retries") return assign(spec.retries, get_int("retries", value, "0..100"));
  if (key == "retry_backoff") {
    auto us = get_duration("retry_backoff", value, "2s");
    if (us && us.value() > sched::kRetryBackoffMaxUs) {
      return Error{"retry_backoff must be 0s.." +
                   sched::format_duration(sched::kRetryBackoffMaxUs) + ", got " +
                   value.get<std::string>()};
    }
    return assign(spec.retry_backoff_us, std::move(us));
  }
  if (key == "time_limit") {
    return assign(spec.time_limit_us, get_duration("time_limit", value, "30s"));
  }
  if (key == "cwd") return assign(spec.cwd, get_string("cwd", value));
  if (key == "env") return assign(spec.env, get_env(value));
  if (key == "pin") {
    if (!value.is_boolean()) return Error{"pin must be true or false, got " + shown(value)};
    spec.pinned = value.get<bool>();
    return sched::ok_status();
  }
  if (key == "requeue_on_restart") {
    if (!value.is_boolean()) {
      return Error{"requeue_on_restart must be true or false, got " + shown(value)};
    }
    spec.requeue_on_restart =
        value.get<bool>() ? sched::RequeueOnRestart::kYes : sched::RequeueOnRestart::kNo;
    return sched::ok_status();
  }
  if (key == "output") return assign(spec.output, get_string("output", value));
  if (key == "account") return assign(spec.account, get_string("account", value));
  if (key == "separate_stderr") {
    if (!value.is_boolean()) {
      return Error{"separate_stderr must be true or false, got " + shown(value)};
    }
    spec.separate_stderr = value.get<bool>();
    return sched::ok_status();
  }
  return Error{"unknown field \"" + key + "\" (allowed: " + allowed_fields() + ")"};
}

// nlohmann's message without its "[json.exception.parse_error.101] parse
// error at line 1, " prefix: the location that matters is the file's line.
std::string parse_message(const json::parse_error& e) {
  std::string_view text = e.what();
  if (auto pos = text.find("] "); pos != std::string_view::npos) text.remove_prefix(pos + 2);
  constexpr std::string_view kPrefix = "parse error at line 1, ";
  if (text.starts_with(kPrefix)) text.remove_prefix(kPrefix.size());
  return std::string(text);
}

bool skipped(std::string_view line) {
  auto first = line.find_first_not_of(" \t\r");
  return first == std::string_view::npos || line[first] == '#';
}

void replace_all(std::string& text, std::string_view index) {
  for (auto pos = text.find("{}"); pos != std::string::npos; pos = text.find("{}", pos)) {
    text.replace(pos, 2, index);
    pos += index.size();
  }
}

struct SeqId {
  std::string_view node;
  std::uint64_t seq = 0;
};

// "<node>:<seq>" with a canonical decimal seq (no sign, no leading zero).
std::optional<SeqId> split_id(std::string_view id) {
  auto colon = id.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == id.size()) return std::nullopt;
  std::string_view digits = id.substr(colon + 1);
  if (digits.size() > 1 && digits.front() == '0') return std::nullopt;
  SeqId out{id.substr(0, colon), 0};
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out.seq);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return out;
}

bool consecutive(const std::vector<std::string>& ids) {
  auto first = split_id(ids.front());
  if (!first) return false;
  for (std::size_t i = 1; i < ids.size(); ++i) {
    auto id = split_id(ids[i]);
    if (!id || id->node != first->node || id->seq != first->seq + i) return false;
  }
  return true;
}

// What braidd's reader is charged for one spec, in words: the TaskSpec
// struct, its list pointers and each string once (convert.cc reads each
// element once), cwd and name counted twice to be safe. kSpecOverheadWords
// covers the struct (6 data and 6 pointer words) plus slack.
constexpr std::uint64_t kSpecOverheadWords = 13;

std::uint64_t text_words(const std::string& text) { return (text.size() + 1 + 7) / 8; }

std::uint64_t list_words(const std::vector<std::string>& list) {
  if (list.empty()) return 0;
  std::uint64_t words = list.size() + 1;
  for (const std::string& text : list) words += text_words(text);
  return words;
}

std::uint64_t read_words(const sched::TaskSpec& spec) {
  return kSpecOverheadWords + list_words(spec.argv) + list_words(spec.env) +
         list_words(spec.after) + 2 * text_words(spec.cwd) + 2 * text_words(spec.name) +
         (spec.output.empty() ? 0 : 2 * text_words(spec.output));
}

}  // namespace

Result<sched::TaskSpec> spec_from_json_line(std::string_view line) {
  json object;
  try {
    object = json::parse(line);
  } catch (const json::parse_error& e) {
    return Error{"not JSON: " + parse_message(e)};
  }
  if (!object.is_object()) {
    return Error{"each line must be a JSON object {\"argv\": [...], ...}, got " + shown(object)};
  }
  // Unknown keys first: a misspelt "argv" should be named as such.
  for (const auto& item : object.items()) {
    if (std::find(kFields.begin(), kFields.end(), item.key()) == kFields.end()) {
      return Error{"unknown field \"" + item.key() + "\" (allowed: " + allowed_fields() + ")"};
    }
  }
  const bool has_argv = object.contains("argv");
  const bool has_cmd = object.contains("cmd");
  if (has_argv && has_cmd) return Error{"give either \"argv\" or \"cmd\", not both"};
  if (!has_argv && !has_cmd) {
    return Error{"needs \"argv\" (an array of strings) or \"cmd\" (a shell command line)"};
  }
  sched::TaskSpec spec;
  for (const auto& [key, value] : object.items()) {
    if (sched::Status s = set_field(spec, key, value); !s) return s.error();
  }
  if (sched::Status s = sched::validate_spec(spec); !s) return s.error();
  return spec;
}

Result<std::vector<sched::TaskSpec>> read_spec_lines(std::istream& in, std::string_view source) {
  const std::string where(source);
  std::vector<sched::TaskSpec> specs;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (skipped(line)) continue;
    if (specs.size() == kBatchTasksMax) {
      return Error{where + ":" + std::to_string(number) + ": more than " +
                   std::to_string(kBatchTasksMax) + " tasks; one submission holds at most " +
                   std::to_string(kBatchTasksMax) + ": split the file"};
    }
    auto spec = spec_from_json_line(line);
    if (!spec) return Error{where + ":" + std::to_string(number) + ": " + spec.error().message};
    specs.push_back(std::move(spec).value());
  }
  if (in.bad()) return Error{"cannot read " + where};
  if (specs.empty()) return Error{"no tasks in " + where};
  return specs;
}

namespace {

Error array_syntax(std::string_view text, std::string_view what) {
  return Error{"--array \"" + std::string(text) + "\": " + std::string(what) +
               "; use N (indices 0..N-1), ranges and lists like 1-100, 0-99:5 or 1,3,7-9 "
               "(indices 0.." +
               std::to_string(kArrayIndexMax) + "), with an optional throttle %K, e.g. 1-1000%4"};
}

std::optional<long long> number(std::string_view digits) {
  long long value = 0;
  if (digits.empty() || digits.size() > 9) return std::nullopt;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

}  // namespace

Result<ArraySpec> parse_array(std::string_view text) {
  ArraySpec out;
  std::string_view body = text;
  if (auto pct = body.find('%'); pct != std::string_view::npos) {
    auto throttle = number(body.substr(pct + 1));
    if (!throttle || *throttle < 1 || *throttle > static_cast<long long>(kBatchTasksMax)) {
      return array_syntax(text,
                          "the throttle after % must be 1.." + std::to_string(kBatchTasksMax));
    }
    out.throttle = static_cast<std::uint32_t>(*throttle);
    body = body.substr(0, pct);
  }
  if (body.empty()) return array_syntax(text, "no indices");
  if (body.find_first_not_of("0123456789") == std::string_view::npos) {
    auto count = number(body);  // the plain count of old: 0..N-1
    if (!count || *count < 1 || *count > static_cast<long long>(kBatchTasksMax)) {
      return array_syntax(text, "a count must be 1.." + std::to_string(kBatchTasksMax));
    }
    for (long long i = 0; i < *count; ++i) out.indices.push_back(i);
    return out;
  }
  while (!body.empty()) {
    const auto comma = body.find(',');
    std::string_view item = body.substr(0, comma);
    body = comma == std::string_view::npos ? std::string_view{} : body.substr(comma + 1);
    if (comma != std::string_view::npos && body.empty()) return array_syntax(text, "empty item");
    long long step = 1;
    if (auto colon = item.find(':'); colon != std::string_view::npos) {
      auto s = number(item.substr(colon + 1));
      if (!s || *s < 1) return array_syntax(text, "a step after : must be at least 1");
      step = *s;
      item = item.substr(0, colon);
    }
    const auto dash = item.find('-');
    auto lo = number(item.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : number(item.substr(dash + 1));
    if (!lo || !hi)
      return array_syntax(text, "\"" + std::string(item) + "\" is not an index or a range");
    if (*lo > *hi) return array_syntax(text, "a range must go up");
    if (*hi > kArrayIndexMax) return array_syntax(text, "index too high");
    for (long long i = *lo; i <= *hi; i += step) {
      out.indices.push_back(i);
      if (out.indices.size() > kBatchTasksMax) {
        return array_syntax(text, "more than " + std::to_string(kBatchTasksMax) +
                                      " tasks (one submission holds at most that many)");
      }
    }
  }
  std::sort(out.indices.begin(), out.indices.end());
  out.indices.erase(std::unique(out.indices.begin(), out.indices.end()), out.indices.end());
  return out;
}

Result<std::vector<sched::TaskSpec>> expand_array(const sched::TaskSpec& pattern,
                                                  const ArraySpec& array) {
  if (array.indices.empty() || array.indices.size() > kBatchTasksMax) {
    return Error{"--array must name 1.." + std::to_string(kBatchTasksMax) + " indices, got " +
                 std::to_string(array.indices.size())};
  }
  std::vector<sched::TaskSpec> specs(array.indices.size(), pattern);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const std::string index = std::to_string(array.indices[i]);
    sched::TaskSpec& spec = specs[i];
    spec.array_index = static_cast<int>(array.indices[i]);
    spec.array_throttle = array.throttle;
    for (std::string& arg : spec.argv) replace_all(arg, index);
    replace_all(spec.name, index);
    replace_all(spec.cwd, index);
    for (std::string& entry : spec.env) {
      auto eq = entry.find('=');
      if (eq == std::string::npos) continue;  // validate_spec refuses it
      std::string value = entry.substr(eq + 1);
      replace_all(value, index);
      entry.replace(eq + 1, std::string::npos, value);
    }
  }
  return specs;
}

Result<std::vector<sched::TaskSpec>> expand_array(const sched::TaskSpec& pattern, long long count) {
  if (count < 1 || count > static_cast<long long>(kBatchTasksMax)) {
    return Error{"--array must be 1.." + std::to_string(kBatchTasksMax) + ", got " +
                 std::to_string(count) + " (one submission holds at most " +
                 std::to_string(kBatchTasksMax) + " tasks)"};
  }
  ArraySpec array;
  for (long long i = 0; i < count; ++i) array.indices.push_back(i);
  return expand_array(pattern, array);
}

sched::Status check_submit_size(const std::vector<sched::TaskSpec>& specs) {
  const std::uint64_t limit_words = capnp::ReaderOptions().traversalLimitInWords;
  std::uint64_t words = 0;
  for (const sched::TaskSpec& spec : specs) words += read_words(spec);
  if (!specs.empty() && specs.front().base_env) {  // sent once for all of them
    words += list_words(specs.front().base_env->entries);
  }
  if (words <= limit_words) return sched::ok_status();
  constexpr std::uint64_t kWordsPerMiB = (1 << 20) / 8;
  const std::string size = "about " + std::to_string((words + kWordsPerMiB - 1) / kWordsPerMiB) +
                           " MiB where braidd reads at most " +
                           std::to_string(limit_words / kWordsPerMiB) + " MiB per message";
  if (specs.size() == 1) {
    return Error{"the task is too large to submit: " + size + "; shorten its argv and env"};
  }
  return Error{"these " + std::to_string(specs.size()) +
               " tasks are too large for one submission: " + size +
               "; split them into smaller files or --array counts"};
}

std::string format_ids(const std::vector<std::string>& ids) {
  if (ids.size() >= 2 && consecutive(ids)) return ids.front() + ".." + ids.back() + "\n";
  std::string out;
  for (const std::string& id : ids) out += id + "\n";
  return out;
}

}  // namespace braid::node
