// braid: the command-line client of a local braidd (control socket).
//
// Exit codes: 0 success; 1 `wait` saw a task fail or be cancelled; 2 bad
// usage or input the daemon refused (one line says what and what is allowed);
// 3 no daemon answers on the socket; 124 `wait --timeout` ran out.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "node/cli_output.h"
#include "node/control_client.h"
#include "node/default_paths.h"
#include "node/spec_file.h"
#include "sched/duration.h"
#include "sched/policy.h"
#include "sched/torus.h"

namespace {

using braid::node::ControlClient;
using braid::node::Done;
using braid::node::Refused;
using braid::node::Reply;
using braid::node::Unreachable;
namespace sched = braid::sched;
namespace rpc = braid::rpc;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;
constexpr int kExitTimedOut = 124;
constexpr std::uint32_t kLogChunkBytes = 256 * 1024;
constexpr auto kFollowPollInterval = std::chrono::milliseconds(100);

int usage(const std::string& message) {
  std::fprintf(stderr, "braid: %s\n", message.c_str());
  return kExitUsage;
}

// Unwraps a reply: on Refused / Unreachable prints the line and sets `code`.
template <typename T>
const T* ok(const Reply<T>& reply, int& code) {
  if (const auto* r = std::get_if<Refused>(&reply)) {
    code = usage(r->message);
    return nullptr;
  }
  if (const auto* u = std::get_if<Unreachable>(&reply)) {
    std::fprintf(stderr, "braid: %s\n", u->message.c_str());
    code = kExitUnreachable;
    return nullptr;
  }
  code = 0;
  return &std::get<T>(reply);
}

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << "\n"; }

struct SubmitFlags {
  sched::TaskSpec spec;
  std::string time_limit;
  std::string retry_backoff;
  bool requeue = false;     // --requeue
  bool no_requeue = false;  // --no-requeue
  std::vector<std::string> command;
  std::string file;     // --file: JSONL tasks, "-" = stdin
  long long array = 0;  // --array N
  bool json = false;
  // Set by main(): which of the flags above were given.
  const CLI::Option* file_option = nullptr;
  const CLI::Option* array_option = nullptr;
  std::vector<const CLI::Option*> task_options;  // every flag that shapes a task
};

// The single task the flags describe (argv from the command after --).
sched::Result<sched::TaskSpec> spec_from_flags(const SubmitFlags& f) {
  sched::TaskSpec spec = f.spec;
  spec.argv = f.command;
  if (!f.time_limit.empty()) {
    auto us = sched::parse_duration(f.time_limit);
    if (!us) return sched::Error{"--time-limit: " + us.error().message};
    spec.time_limit_us = us.value();
  }
  if (!f.retry_backoff.empty()) {
    auto us = sched::parse_duration(f.retry_backoff);
    if (!us) return sched::Error{"--retry-backoff: " + us.error().message};
    spec.retry_backoff_us = us.value();
  }
  if (f.requeue && f.no_requeue) return sched::Error{"give --requeue or --no-requeue, not both"};
  if (f.requeue) spec.requeue_on_restart = sched::RequeueOnRestart::kYes;
  if (f.no_requeue) spec.requeue_on_restart = sched::RequeueOnRestart::kNo;
  if (sched::Status s = sched::validate_spec(spec); !s) return s.error();
  return spec;
}

sched::Result<std::vector<sched::TaskSpec>> specs_from_file(const std::string& path) {
  if (path == "-") return braid::node::read_spec_lines(std::cin, "<stdin>");
  std::ifstream in(path);
  if (!in) return sched::Error{"cannot read " + path + ": " + std::strerror(errno)};
  return braid::node::read_spec_lines(in, path);
}

// The tasks the flags ask for: from --file, from --array, or the one after --.
sched::Result<std::vector<sched::TaskSpec>> specs_to_submit(const SubmitFlags& f) {
  const bool from_file = f.file_option->count() > 0;
  const bool as_array = f.array_option->count() > 0;
  if (from_file && as_array) {
    return sched::Error{
        "--file and --array cannot be combined: give one of them, or neither and a command "
        "after -- for one task"};
  }
  if (from_file) {
    if (!f.command.empty()) {
      return sched::Error{"--file takes its tasks from the file: give no command after --"};
    }
    for (const CLI::Option* option : f.task_options) {
      if (option->count() > 0) {
        return sched::Error{"--file takes every task field from the file: drop " +
                            option->get_name() + " (allowed with --file: --json)"};
      }
    }
    return specs_from_file(f.file);
  }
  if (f.command.empty()) {
    return sched::Error{
        "submit needs a command: braid submit [OPTIONS] [--array N] -- CMD ARGS..., or braid "
        "submit --file FILE"};
  }
  auto spec = spec_from_flags(f);
  if (!spec) return spec.error();
  if (as_array) return braid::node::expand_array(spec.value(), f.array);
  return std::vector<sched::TaskSpec>{std::move(spec).value()};
}

// One submit RPC for all the tasks: the daemon takes all of them or none.
int run_submit(ControlClient& client, const SubmitFlags& f) {
  auto specs = specs_to_submit(f);
  if (!specs) return usage(specs.error().message);
  if (auto s = braid::node::check_submit_size(specs.value()); !s) return usage(s.error().message);
  int code = 0;
  auto reply = client.submit(specs.value());
  const auto* ids = ok(reply, code);
  if (!ids) return code;
  // A plain submit keeps its original output, {"id": ...}; batches print all ids.
  const bool batch = f.file_option->count() > 0 || f.array_option->count() > 0;
  if (f.json) {
    print_json(batch ? nlohmann::json{{"ids", *ids}} : nlohmann::json{{"id", ids->front()}});
  } else {
    std::cout << (batch ? braid::node::format_ids(*ids) : ids->front() + "\n");
  }
  return 0;
}

int run_wait(ControlClient& client, const std::vector<std::string>& ids, const std::string& timeout,
             bool json) {
  sched::Micros timeout_us = 0;
  if (!timeout.empty()) {
    auto us = sched::parse_duration(timeout);
    if (!us) return usage("--timeout: " + us.error().message);
    timeout_us = us.value();
  }
  int code = 0;
  auto reply = client.wait(ids, timeout_us);
  const auto* outcome = ok(reply, code);
  if (!outcome) return code;
  if (json) {
    print_json(
        {{"timed_out", outcome->timed_out}, {"tasks", braid::node::tasks_json(outcome->tasks)}});
  } else {
    std::cout << braid::node::task_table(outcome->tasks);
  }
  if (outcome->timed_out) return kExitTimedOut;
  for (const auto& t : outcome->tasks) {
    if (t.state != sched::TaskState::kCompleted) return kExitFailed;
  }
  return 0;
}

int run_logs(ControlClient& client, const std::string& id, bool stderr_stream, bool follow) {
  std::uint64_t offset = 0;
  while (true) {
    int code = 0;
    auto reply = client.read_log(id, stderr_stream, offset, kLogChunkBytes);
    const auto* chunk = ok(reply, code);
    if (!chunk) return code;
    std::fwrite(chunk->data.data(), 1, chunk->data.size(), stdout);
    offset += chunk->data.size();
    if (!chunk->data.empty()) continue;  // drain what is there before deciding
    if (!follow || chunk->finished) break;
    std::fflush(stdout);
    std::this_thread::sleep_for(kFollowPollInterval);  // like tail -f: poll the file
  }
  std::fflush(stdout);
  return 0;
}

std::string default_socket() {
  if (const char* env = std::getenv("BRAID_SOCKET"); env != nullptr && *env != '\0') return env;
  return braid::node::default_paths().socket.string();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"braid: drive the local braid node (braidd) over its control socket", "braid"};
  app.require_subcommand(1);
  std::string socket = default_socket();
  app.add_option("--socket", socket, "control socket (env BRAID_SOCKET)")->capture_default_str();

  SubmitFlags submit;
  auto* cmd_submit = app.add_subcommand(
      "submit",
      "submit tasks: braid submit [opts] [--array N] -- CMD ARGS..., or --file FILE (JSONL)");
  submit.task_options = {
      cmd_submit->add_option("--name", submit.spec.name, "a name for people"),
      cmd_submit->add_option("--priority", submit.spec.priority, "0..10, higher runs first (5)"),
      cmd_submit->add_option("--cpus", submit.spec.cpus, "slots the task holds while running (1)"),
      cmd_submit->add_option("--memory", submit.spec.memory_bytes, "memory limit, e.g. 512M")
          ->transform(CLI::AsSizeValue(false)),
      cmd_submit->add_option("--after", submit.spec.after,
                             "run only after this task completed (repeatable)"),
      cmd_submit->add_option("--retries", submit.spec.retries, "re-runs after a failure (0)"),
      cmd_submit->add_option("--retry-backoff", submit.retry_backoff,
                             "wait before the first retry, doubling after each (1s)"),
      cmd_submit->add_option("--time-limit", submit.time_limit, "running time allowed, e.g. 30s"),
      cmd_submit->add_option("--cwd", submit.spec.cwd, "working directory"),
      cmd_submit->add_option("--env", submit.spec.env, "KEY=VALUE (repeatable)"),
      cmd_submit->add_flag("--pin", submit.spec.pinned, "never migrate to another node"),
      cmd_submit->add_flag("--requeue", submit.requeue,
                           "after a crash of braidd, requeue this task if it has retries left "
                           "(default: braidd's --requeue-on-restart)"),
      cmd_submit->add_flag("--no-requeue", submit.no_requeue,
                           "after a crash of braidd, fail this task instead"),
      cmd_submit->add_option("--output", submit.spec.output,
                             "output file pattern: %j id, %a array index, %x name, %% '%'; "
                             "relative to the task's cwd (default: braid's <logs>/%j.out)"),
      cmd_submit->add_flag("--separate-stderr", submit.spec.separate_stderr,
                           "stderr to its own file (braid logs --stderr), not merged"),
  };
  submit.file_option = cmd_submit->add_option(
      "--file", submit.file, "submit every task of this JSONL file (- = stdin), all or none");
  submit.array_option = cmd_submit->add_option(
      "--array", submit.array, "submit N tasks (1..100000); {} in the command becomes 0..N-1");
  cmd_submit->add_flag("--json", submit.json,
                       "print {\"id\": ...}; with --file or --array {\"ids\": [...]}");
  cmd_submit->add_option("command", submit.command, "the program and its arguments, after --");

  bool ps_all = false, json = false;
  std::string ps_state;
  auto* cmd_ps = app.add_subcommand("ps", "list tasks (not finished ones unless --all)");
  cmd_ps->add_flag("--all", ps_all, "include completed, failed and cancelled tasks");
  cmd_ps->add_option("--state", ps_state, "only tasks in this state");
  cmd_ps->add_flag("--json", json, "JSON output");

  std::string id;
  std::vector<std::string> ids;
  auto* cmd_show = app.add_subcommand("show", "show one task");
  cmd_show->add_option("id", id, "task id")->required();
  cmd_show->add_flag("--json", json, "JSON output");

  std::string timeout;
  auto* cmd_wait =
      app.add_subcommand("wait", "wait until tasks finish (exit 1 if any did not complete)");
  cmd_wait->add_option("ids", ids, "task ids")->required();
  cmd_wait->add_option("--timeout", timeout, "give up after this long (exit 124), e.g. 30s");
  cmd_wait->add_flag("--json", json, "JSON output");

  auto* cmd_cancel = app.add_subcommand("cancel", "cancel tasks");
  cmd_cancel->add_option("ids", ids, "task ids")->required();

  bool log_stderr = false, follow = false;
  auto* cmd_logs = app.add_subcommand("logs", "print a task's output");
  cmd_logs->add_option("id", id, "task id")->required();
  cmd_logs->add_flag("--stderr", log_stderr, "standard error instead of standard output");
  cmd_logs->add_flag("--follow,-f", follow, "keep printing until the task finishes");

  auto* cmd_stats = app.add_subcommand("stats", "scheduler statistics");
  cmd_stats->add_flag("--json", json, "JSON output");

  std::string verb, name;
  auto* cmd_policy = app.add_subcommand("policy", "policy get | policy set NAME");
  cmd_policy->add_option("verb", verb, "get or set")
      ->required()
      ->check(CLI::IsMember({"get", "set"}));
  cmd_policy->add_option("name", name, "RoundRobin, Priority or Fair");

  auto* cmd_quantum = app.add_subcommand("quantum", "quantum get | quantum set DURATION");
  cmd_quantum->add_option("verb", verb, "get or set")
      ->required()
      ->check(CLI::IsMember({"get", "set"}));
  cmd_quantum->add_option("duration", name, "1ms..1s, e.g. 20ms");

  std::string value;
  auto* cmd_priority = app.add_subcommand("priority", "priority set ID N | boost ID | lower ID");
  cmd_priority->add_option("verb", verb, "set, boost or lower")
      ->required()
      ->check(CLI::IsMember({"set", "boost", "lower"}));
  cmd_priority->add_option("id", id, "task id")->required();
  cmd_priority->add_option("value", value, "0..10 (for set)");

  auto* cmd_scheduler = app.add_subcommand("scheduler", "scheduler pause | resume | trigger");
  cmd_scheduler->add_option("verb", verb, "pause, resume or trigger")
      ->required()
      ->check(CLI::IsMember({"pause", "resume", "trigger"}));

  auto* cmd_next = app.add_subcommand("schedule-next", "end the longest-running slice now");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    return usage(e.what());
  }

  ControlClient client(socket);
  int code = 0;
  if (cmd_submit->parsed()) return run_submit(client, submit);
  if (cmd_ps->parsed()) {
    if (!ps_state.empty()) {
      if (auto s = sched::parse_task_state(ps_state); !s) return usage(s.error().message);
    }
    auto reply = client.list(ps_all, ps_state);
    const auto* tasks = ok(reply, code);
    if (!tasks) return code;
    if (json) {
      print_json(braid::node::tasks_json(*tasks));
    } else {
      std::cout << braid::node::task_table(*tasks);
    }
    return 0;
  }
  if (cmd_show->parsed()) {
    auto reply = client.show({id});
    const auto* tasks = ok(reply, code);
    if (!tasks) return code;
    if (json) {
      print_json(braid::node::task_json(tasks->front()));
    } else {
      std::cout << braid::node::task_details(tasks->front());
    }
    return 0;
  }
  if (cmd_wait->parsed()) return run_wait(client, ids, timeout, json);
  if (cmd_cancel->parsed()) {
    auto reply = client.cancel(ids);
    return ok(reply, code) ? 0 : code;
  }
  if (cmd_logs->parsed()) return run_logs(client, id, log_stderr, follow);
  if (cmd_stats->parsed()) {
    auto reply = client.stats();
    const auto* stats = ok(reply, code);
    if (!stats) return code;
    if (json) {
      print_json(braid::node::stats_json(*stats));
    } else {
      std::cout << braid::node::stats_table(*stats);
    }
    return 0;
  }
  if (cmd_policy->parsed()) {
    if (verb == "get") {
      auto reply = client.stats();
      const auto* stats = ok(reply, code);
      if (!stats) return code;
      std::cout << sched::to_string(stats->torus.policy) << "\n";
      return 0;
    }
    if (name.empty()) return usage("policy set needs a NAME: use RoundRobin, Priority or Fair");
    if (auto p = sched::parse_policy(name); !p) return usage(p.error().message);
    auto reply = client.set_policy(name);
    return ok(reply, code) ? 0 : code;
  }
  if (cmd_quantum->parsed()) {
    if (verb == "get") {
      auto reply = client.stats();
      const auto* stats = ok(reply, code);
      if (!stats) return code;
      std::cout << sched::format_duration(stats->torus.quantum_micros) << "\n";
      return 0;
    }
    auto us = sched::parse_duration(name);
    if (!us) return usage("quantum: " + us.error().message);
    if (auto s = sched::validate_quantum(us.value()); !s) return usage(s.error().message);
    auto reply = client.set_quantum(us.value());
    return ok(reply, code) ? 0 : code;
  }
  if (cmd_priority->parsed()) {
    rpc::PriorityOp op = verb == "set"     ? rpc::PriorityOp::kSet
                         : verb == "boost" ? rpc::PriorityOp::kBoost
                                           : rpc::PriorityOp::kLower;
    int n = 0;
    if (op == rpc::PriorityOp::kSet) {
      try {
        std::size_t used = 0;
        n = std::stoi(value, &used);
        if (used != value.size()) throw std::invalid_argument(value);
      } catch (const std::exception&) {
        return usage("priority set needs a number 0..10, got \"" + value + "\"");
      }
      if (n < sched::kPriorityMin || n > sched::kPriorityMax) {
        return usage("priority must be 0..10, got " + std::to_string(n));
      }
    }
    auto reply = client.priority(id, op, n);
    const auto* p = ok(reply, code);
    if (!p) return code;
    std::cout << id << " priority " << *p << "\n";
    return 0;
  }
  if (cmd_scheduler->parsed()) {
    rpc::SchedulerOp op = verb == "pause"    ? rpc::SchedulerOp::kPause
                          : verb == "resume" ? rpc::SchedulerOp::kResume
                                             : rpc::SchedulerOp::kTrigger;
    auto reply = client.scheduler(op);
    return ok(reply, code) ? 0 : code;
  }
  if (cmd_next->parsed()) {
    auto reply = client.scheduler(rpc::SchedulerOp::kNext);
    return ok(reply, code) ? 0 : code;
  }
  return usage("no command given: see braid --help");
}
