// braid: the command-line client of a local braidd (control socket).
//
// Exit codes: 0 success; 1 `wait` saw a task fail or be cancelled; 2 bad
// usage or input the daemon refused (one line says what and what is allowed);
// 3 no daemon answers on the socket; 124 `wait --timeout` ran out.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>

#include "node/cli_drain.h"
#include "node/cli_exit.h"
#include "node/cli_output.h"
#include "node/cli_reply.h"
#include "node/cli_run.h"
#include "node/control_client.h"
#include "node/default_paths.h"
#include "node/export_env.h"
#include "node/id_args.h"
#include "node/spec_file.h"
#include "sched/duration.h"
#include "sched/policy.h"
#include "sched/torus.h"

extern char** environ;

namespace {

using braid::node::ControlClient;
namespace sched = braid::sched;
namespace rpc = braid::rpc;

using braid::node::ok;
using braid::node::usage;

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << "\n"; }

struct SubmitFlags {
  sched::TaskSpec spec;
  std::string time_limit;
  std::string retry_backoff;
  bool requeue = false;     // --requeue
  bool no_requeue = false;  // --no-requeue
  // --node-label KEY=VALUE (issue 11 §2)
  std::vector<std::string> node_labels;
  std::vector<std::string> command;
  std::vector<std::string> after_any;   // --after-any
  std::vector<std::string> after_fail;  // --after-fail
  std::string file;                     // --file: JSONL tasks, "-" = stdin
  std::string array;                    // --array SPEC (spec_file.h: parse_array)
  bool json = false;
  bool wait = false;                // --wait: then wait for the tasks, exit as `braid wait`
  std::string export_spec = "ALL";  // --export: the submitter's environment the tasks get
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
  for (const std::string& id : f.after_any) spec.add_dependency(id, sched::DepKind::kAny);
  for (const std::string& id : f.after_fail) spec.add_dependency(id, sched::DepKind::kFail);
  for (const std::string& text : f.node_labels) {
    auto label = sched::parse_label(text);
    if (!label) return sched::Error{"--node-label: " + label.error().message};
    spec.constraints.push_back(std::move(label).value());
  }
  if (sched::Status s = sched::validate_labels(spec.constraints, "--node-label"); !s)
    return s.error();
  if (sched::Status s = sched::validate_spec(spec); !s) return s.error();
  return spec;
}

sched::Result<std::vector<sched::TaskSpec>> specs_from_file(const std::string& path) {
  if (path == "-") return braid::node::read_spec_lines(std::cin, "<stdin>");
  std::ifstream in(path);
  if (!in) return sched::Error{"cannot read " + path + ": " + std::strerror(errno)};
  return braid::node::read_spec_lines(in, path);
}

// The tasks as the flags or the file give them: from --file, from --array,
// or the one after --.
sched::Result<std::vector<sched::TaskSpec>> specs_as_given(const SubmitFlags& f) {
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
        "submit needs a command: braid submit [OPTIONS] [--array SPEC] -- CMD ARGS..., or braid "
        "submit --file FILE"};
  }
  std::optional<braid::node::ArraySpec> array;
  if (as_array) {
    auto parsed = braid::node::parse_array(f.array);
    if (!parsed) return parsed.error();
    array = std::move(parsed).value();
  }
  auto spec = spec_from_flags(f);
  if (!spec) return spec.error();
  if (array) return braid::node::expand_array(spec.value(), *array);
  return std::vector<sched::TaskSpec>{std::move(spec).value()};
}

// A task runs in its submitter's working directory unless it names one; a
// relative one is relative to the submitter's (as with Slurm's --chdir).
sched::Status resolve_cwds(std::vector<sched::TaskSpec>& specs) {
  std::error_code ec;
  const std::filesystem::path here = std::filesystem::current_path(ec);
  if (ec) return sched::Error{"cannot tell the current directory: " + ec.message()};
  for (sched::TaskSpec& spec : specs) {
    if (spec.cwd.empty()) {
      spec.cwd = here.string();
    } else if (std::filesystem::path(spec.cwd).is_relative()) {
      spec.cwd = (here / spec.cwd).lexically_normal().string();
    }
  }
  return sched::ok_status();
}

// Every task starts from the submitter's environment, as --export narrows it
// (Slurm's convention); sent and stored once for the whole submission.
sched::Status attach_environment(std::vector<sched::TaskSpec>& specs,
                                 const std::string& export_spec) {
  auto entries = braid::node::export_environment(export_spec, environ);
  if (!entries) return entries.error();
  auto env =
      std::make_shared<const sched::Environment>(sched::Environment{0, std::move(entries).value()});
  for (sched::TaskSpec& spec : specs) spec.base_env = env;
  return sched::ok_status();
}

// The tasks to submit: working directories resolved, environment attached.
sched::Result<std::vector<sched::TaskSpec>> specs_to_submit(const SubmitFlags& f) {
  auto given = specs_as_given(f);
  if (!given) return given;
  std::vector<sched::TaskSpec> specs = std::move(given).value();
  if (sched::Status s = resolve_cwds(specs); !s) return s.error();
  if (sched::Status s = attach_environment(specs, f.export_spec); !s) return s.error();
  return specs;
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
  if (!f.wait) return 0;
  std::cout.flush();
  return braid::node::wait_command(client, *ids, 0, f.json);
}

// `braid run`: one task, submitted, its output streamed, its code passed on.
int run_run(ControlClient& client, const SubmitFlags& f) {
  if (f.command.empty()) return usage("run needs a command: braid run [OPTIONS] -- CMD ARGS...");
  auto spec = spec_from_flags(f);
  if (!spec) return usage(spec.error().message);
  std::vector<sched::TaskSpec> specs{std::move(spec).value()};
  if (sched::Status s = resolve_cwds(specs); !s) return usage(s.error().message);
  if (sched::Status s = attach_environment(specs, f.export_spec); !s) {
    return usage(s.error().message);
  }
  return braid::node::run_command(client, specs.front());
}

// Prints every task the query selects, fetched a page at a time (the table
// is aligned as a whole, so it is printed at the end); `limit` 0 = all.
int run_ps(ControlClient& client, rpc::ListQuery query, const std::string& state,
           std::uint64_t limit, bool json) {
  std::vector<rpc::TaskView> tasks;
  while (true) {
    if (limit > 0) {
      query.limit = static_cast<std::uint32_t>(
          std::min<std::uint64_t>(limit - tasks.size(), rpc::kListPageMax));
    }
    int code = 0;
    auto reply = client.list(query, state);
    const auto* page = ok(reply, code);
    if (!page) return code;
    tasks.insert(tasks.end(), page->tasks.begin(), page->tasks.end());
    for (const std::string& e : page->peer_errors) std::fprintf(stderr, "braid: %s\n", e.c_str());
    query.after = page->next;
    if (page->next == 0) break;
    if (limit > 0 && tasks.size() >= limit) {
      std::fprintf(stderr, "braid: more tasks follow: add --after %llu for the next ones\n",
                   static_cast<unsigned long long>(page->next));
      break;
    }
  }
  if (json) {
    print_json(braid::node::tasks_json(tasks));
  } else {
    std::cout << (query.cluster ? braid::node::cluster_task_table(tasks)
                                : braid::node::task_table(tasks));
  }
  return 0;
}

// The flags that shape a task, shared by submit and run.
std::vector<const CLI::Option*> add_task_options(CLI::App* cmd, SubmitFlags& f) {
  return {
      cmd->add_option("--name", f.spec.name, "a name for people"),
      cmd->add_option("--priority", f.spec.priority, "0..10, higher runs first (5)"),
      cmd->add_option("--account", f.spec.account,
                      "whose share of the node it uses: under Fair the accounts get equal "
                      "CPU first (default: the default account)"),
      cmd->add_option("--cpus", f.spec.cpus, "slots the task holds while running (1)"),
      cmd->add_option("--memory", f.spec.memory_bytes, "memory limit, e.g. 512M")
          ->transform(CLI::Validator(
              [](std::string& size) {
                // Built only when --memory is given: its unit table is a
                // tenth of a submit's start-up instructions.
                static const CLI::AsSizeValue kSizes(false);
                return kSizes(size);
              },
              "SIZE")),
      cmd->add_option("--after", f.spec.after, "run only after this task completed (repeatable)")
          ->allow_extra_args(false),
      cmd->add_option("--after-any", f.after_any,
                      "run only after this task ended, whatever the outcome (repeatable)")
          ->allow_extra_args(false),
      cmd->add_option("--after-fail", f.after_fail,
                      "run only if this task failed or was cancelled (repeatable)")
          ->allow_extra_args(false),
      cmd->add_flag("--hold", f.spec.hold, "submit held: it never starts until braid release"),
      cmd->add_option("--retries", f.spec.retries, "re-runs after a failure (0)"),
      cmd->add_option("--retry-backoff", f.retry_backoff,
                      "wait before the first retry, doubling after each (1s)"),
      cmd->add_option("--time-limit", f.time_limit, "running time allowed, e.g. 30s"),
      cmd->add_option("--cwd", f.spec.cwd, "working directory"),
      cmd->add_option("--env", f.spec.env, "KEY=VALUE (repeatable)")->allow_extra_args(false),
      cmd->add_flag("--pin", f.spec.pinned, "never migrate to another node"),
      cmd->add_option("--node-label", f.node_labels,
                      "run only on a node with this label, KEY=VALUE (repeatable: all must "
                      "match; braidd --label); elsewhere it waits queued to migrate")
          ->allow_extra_args(false),
      cmd->add_flag("--requeue", f.requeue,
                    "after a crash of braidd, requeue this task (no retry used; at most "
                    "braidd's --max-node-requeues times; default: braidd's "
                    "--requeue-on-restart)"),
      cmd->add_flag("--no-requeue", f.no_requeue,
                    "after a crash of braidd, fail this task instead"),
      cmd->add_option("--output", f.spec.output,
                      "output file pattern: %j id, %a array index, %x name, %% '%'; "
                      "relative to the task's cwd (default: braid's <logs>/%j.out)"),
      cmd->add_flag("--separate-stderr", f.spec.separate_stderr,
                    "stderr to its own file (braid logs --stderr), not merged"),
  };
}

std::string default_socket() {
  if (const char* env = std::getenv("BRAID_SOCKET"); env != nullptr && *env != '\0') return env;
  return braid::node::default_paths().socket.string();
}

// The subcommand argv names (the first word that is not a global option or
// its value), or "" when there is none (`braid --help`).
std::string command_named(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--socket" || arg == "--answer-timeout") {
      ++i;  // its value
    } else if (!arg.starts_with("-")) {
      return std::string(arg);
    } else if (arg == "--") {
      return "";
    }
  }
  return "";
}

// The subcommands braid builds: only the one argv names, with its options
// (CLI11 builds every option eagerly, and that was most of the CLI's start-up
// work). When argv names none, or one braid does not have, finish() adds every
// subcommand without options, so that the help and the error list them all.
class Commands {
 public:
  Commands(CLI::App& app, std::string named) : app_(app), named_(std::move(named)) {}

  // The subcommand to give options to, or nullptr when argv names another.
  CLI::App* add(std::string name, std::string description) {
    if (name == named_) {
      found_ = app_.add_subcommand(std::move(name), std::move(description));
      return found_;
    }
    skipped_.emplace_back(std::move(name), std::move(description));
    return nullptr;
  }

  void finish() {
    if (found_ != nullptr) return;
    for (auto& [name, description] : skipped_) app_.add_subcommand(name, description);
  }

  // Whether argv asks for help: -h or --help before any --, and not as the
  // value of an option (braid submit --name -h names the task "-h"). Answered
  // without CLI11, which throws to print help: the first exception thrown in a
  // static binary sorts all its unwind tables, about 1.5 ms.
  bool asks_for_help(int argc, char** argv) const {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--") return false;
      if (arg == "-h" || arg == "--help") return true;
      if (!arg.starts_with("-") || arg.find('=') != std::string::npos) continue;
      const CLI::Option* option = found_ != nullptr ? found_->get_option_no_throw(arg) : nullptr;
      if (option == nullptr) option = app_.get_option_no_throw(arg);
      if (option != nullptr && option->get_expected_min() > 0) ++i;  // skip its value
    }
    return false;
  }

  // The help that argv asks for: of the subcommand it names, else braid's.
  std::string help() const {
    return found_ != nullptr ? found_->help(app_.get_name()) : app_.help();
  }

 private:
  CLI::App& app_;
  std::string named_;
  CLI::App* found_ = nullptr;
  std::vector<std::pair<std::string, std::string>> skipped_;
};

// Whether argv named this subcommand (nullptr: it was not even built).
bool ran(const CLI::App* cmd) { return cmd != nullptr && cmd->parsed(); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"braid: drive the local braid node (braidd) over its control socket", "braid"};
  app.require_subcommand(1);
  std::string socket = default_socket();
  app.add_option("--socket", socket, "control socket (env BRAID_SOCKET)")->capture_default_str();
  std::string answer_timeout = "30s";
  app.add_option("--answer-timeout", answer_timeout,
                 "how long to wait for braidd's answer before exiting 3 (a wait: on top of its "
                 "--timeout), e.g. 500ms, 30s, 2m")
      ->capture_default_str();
  Commands commands(app, command_named(argc, argv));

  SubmitFlags submit;
  auto* cmd_submit = commands.add(
      "submit",
      "submit tasks: braid submit [opts] [--array SPEC] -- CMD ARGS..., or --file FILE (JSONL)");
  if (cmd_submit != nullptr) {
    submit.task_options = add_task_options(cmd_submit, submit);
    submit.file_option = cmd_submit->add_option(
        "--file", submit.file, "submit every task of this JSONL file (- = stdin), all or none");
    submit.array_option = cmd_submit->add_option(
        "--array", submit.array,
        "N (indices 0..N-1), 1-100, 0-99:5, 1,3,7-9, with an optional throttle %K "
        "(1-1000%4: at most 4 started at once); {} in the command becomes the index");
    cmd_submit->add_flag("--json", submit.json,
                         "print {\"id\": ...}; with --file or --array {\"ids\": [...]}");
    cmd_submit->add_option("--export", submit.export_spec,
                           "the submitter's environment the tasks get: ALL (default), NONE, or "
                           "NAME,NAME=VALUE,... (may start with ALL); --env adds to it");
    cmd_submit->add_flag("--wait", submit.wait,
                         "then wait until the tasks finish; exit as braid wait does");
    cmd_submit->add_option("command", submit.command, "the program and its arguments, after --");
  }

  SubmitFlags run;
  auto* cmd_run = commands.add(
      "run", "run one task: submit it, stream its output, exit with its code (Ctrl-C cancels it)");
  if (cmd_run != nullptr) {
    run.task_options = add_task_options(cmd_run, run);
    cmd_run->add_option(
        "--export", run.export_spec,
        "the environment the task gets: ALL (default), NONE, or NAME,NAME=VALUE,...");
    cmd_run->add_option("command", run.command, "the program and its arguments, after --");
  }

  bool json = false;
  rpc::ListQuery ps_query;
  std::string ps_state;
  std::uint64_t ps_limit = 0;
  auto* cmd_ps = commands.add("ps", "list tasks (not finished ones unless --all)");
  if (cmd_ps != nullptr) {
    cmd_ps->add_flag("--all", ps_query.all, "include completed, failed and cancelled tasks");
    cmd_ps->add_option("--state", ps_state, "only tasks in this state");
    cmd_ps->add_option("--name", ps_query.name_glob, "only tasks whose name matches this glob");
    cmd_ps->add_option("--limit", ps_limit, "at most this many tasks (default: all)");
    cmd_ps->add_option("--after", ps_query.after,
                       "only tasks admitted after this cursor (printed when --limit cut the list)");
    cmd_ps->add_flag("--json", json, "JSON output");
    cmd_ps->add_flag("--cluster", ps_query.cluster,
                     "also every live peer's tasks, with a NODE column");
  }

  std::string id;
  std::vector<std::string> ids;
  auto* cmd_show = commands.add("show", "show tasks (ids or ranges like n:5..n:104)");
  if (cmd_show != nullptr) {
    cmd_show->add_option("ids", ids, "task ids or ranges")->required();
    cmd_show->add_flag("--json", json, "JSON output (an object for one task, else an array)");
  }

  std::string timeout;
  auto* cmd_wait = commands.add("wait", "wait until tasks finish (exit 1 if any did not complete)");
  if (cmd_wait != nullptr) {
    cmd_wait->add_option("ids", ids, "task ids or ranges like n:5..n:104")->required();
    cmd_wait->add_option("--timeout", timeout, "give up after this long (exit 124), e.g. 30s");
    cmd_wait->add_flag("--json", json, "JSON output");
  }

  std::string cancel_state, cancel_name;
  const CLI::Option* cancel_state_option = nullptr;
  const CLI::Option* cancel_name_option = nullptr;
  auto* cmd_cancel =
      commands.add("cancel", "cancel tasks: by ids (or ranges), or by --state / --name");
  if (cmd_cancel != nullptr) {
    cmd_cancel->add_option("ids", ids, "task ids or ranges like n:5..n:104");
    cancel_state_option =
        cmd_cancel->add_option("--state", cancel_state,
                               "every unfinished task in this state: pending, queued, held, "
                               "running, stopped or all");
    cancel_name_option =
        cmd_cancel->add_option("--name", cancel_name, "every unfinished task whose name matches");
  }

  auto* cmd_clear = commands.add("clear", "purge every finished task now (like tsp -C)");

  auto* cmd_hold =
      commands.add("hold", "hold pending or queued tasks: never started until released");
  if (cmd_hold != nullptr) {
    cmd_hold->add_option("ids", ids, "task ids or ranges like n:5..n:104")->required();
  }
  auto* cmd_release = commands.add("release", "release held tasks");
  if (cmd_release != nullptr) {
    cmd_release->add_option("ids", ids, "task ids or ranges like n:5..n:104")->required();
  }

  bool log_stderr = false, follow = false;
  auto* cmd_logs = commands.add("logs", "print a task's output");
  if (cmd_logs != nullptr) {
    cmd_logs->add_option("id", id, "task id")->required();
    cmd_logs->add_flag("--stderr", log_stderr, "standard error instead of standard output");
    cmd_logs->add_flag("--follow,-f", follow, "keep printing until the task finishes");
  }

  auto* cmd_stats = commands.add("stats", "scheduler statistics");
  if (cmd_stats != nullptr) cmd_stats->add_flag("--json", json, "JSON output");
  auto* cmd_peers = commands.add("peers", "the cluster's members as this node knows them");
  if (cmd_peers != nullptr) cmd_peers->add_flag("--json", json, "JSON output");
  bool drain_cancel = false;
  bool drain_no_wait = false;
  auto* cmd_drain = commands.add(
      "drain", "take no new tasks and move the queued ones to peers (for a rolling restart)");
  if (cmd_drain != nullptr) {
    cmd_drain->add_flag("--cancel", drain_cancel, "end the drain: take new tasks again");
    cmd_drain->add_flag("--no-wait", drain_no_wait, "start the drain and return at once");
    cmd_drain->add_option("--timeout", timeout, "give up waiting after this long (exit 124)");
    cmd_drain->add_flag("--json", json, "JSON output");
  }

  std::string verb, name;
  auto* cmd_policy = commands.add("policy", "policy get | policy set NAME");
  if (cmd_policy != nullptr) {
    cmd_policy->add_option("verb", verb, "get or set")
        ->required()
        ->check(CLI::IsMember({"get", "set"}));
    cmd_policy->add_option("name", name, "RoundRobin, Priority or Fair");
  }

  auto* cmd_quantum = commands.add("quantum", "quantum get | quantum set DURATION");
  if (cmd_quantum != nullptr) {
    cmd_quantum->add_option("verb", verb, "get or set")
        ->required()
        ->check(CLI::IsMember({"get", "set"}));
    cmd_quantum->add_option("duration", name, "1ms..1s, e.g. 20ms");
  }

  std::string value;
  auto* cmd_priority = commands.add("priority", "priority set ID N | boost ID | lower ID");
  if (cmd_priority != nullptr) {
    cmd_priority->add_option("verb", verb, "set, boost or lower")
        ->required()
        ->check(CLI::IsMember({"set", "boost", "lower"}));
    cmd_priority->add_option("id", id, "task id")->required();
    cmd_priority->add_option("value", value, "0..10 (for set)");
  }

  auto* cmd_scheduler = commands.add("scheduler", "scheduler pause | resume | trigger");
  if (cmd_scheduler != nullptr) {
    cmd_scheduler->add_option("verb", verb, "pause, resume or trigger")
        ->required()
        ->check(CLI::IsMember({"pause", "resume", "trigger"}));
  }

  auto* cmd_next = commands.add("schedule-next", "end the longest-running slice now");

  // Testing aids (docs/cli.md "braid debug"): not for production use.
  CLI::App* cmd_peer_faults = nullptr;
  int drop_permille = 0;
  std::vector<std::string> blocked;
  bool clear_faults = false;
  auto* cmd_debug = commands.add("debug", "testing aids: debug peer-faults");
  if (cmd_debug != nullptr) {
    cmd_peer_faults = cmd_debug->add_subcommand(
        "peer-faults", "replace the faults this node injects in what it sends to peers");
    cmd_peer_faults->add_option("--drop-permille", drop_permille, "drop N of 1000 sent messages")
        ->check(CLI::Range(0, 1000));
    cmd_peer_faults->add_option("--block", blocked, "send nothing to this peer address");
    cmd_peer_faults->add_flag("--clear", clear_faults, "inject no faults");
  }
  commands.finish();

  if (commands.asks_for_help(argc, argv)) {
    std::cout << commands.help();
    return 0;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    return usage(e.what());
  }

  auto answer_timeout_us = sched::parse_duration(answer_timeout);
  if (!answer_timeout_us || answer_timeout_us.value() <= 0) {
    return usage("--answer-timeout: " + (answer_timeout_us ? std::string("must be above 0")
                                                           : answer_timeout_us.error().message));
  }
  ControlClient client(socket, answer_timeout_us.value());
  int code = 0;
  if (ran(cmd_submit)) return run_submit(client, submit);
  if (ran(cmd_run)) return run_run(client, run);
  if (ran(cmd_ps)) {
    if (!ps_state.empty()) {
      if (auto s = sched::parse_task_state(ps_state); !s) return usage(s.error().message);
    }
    return run_ps(client, ps_query, ps_state, ps_limit, json);
  }
  if (ran(cmd_clear)) {
    auto reply = client.clear();
    const auto* purged = ok(reply, code);
    if (!purged) return code;
    std::cout << "cleared " << *purged << " finished tasks\n";
    return 0;
  }
  if (ran(cmd_cancel) && (cancel_state_option->count() > 0 || cancel_name_option->count() > 0)) {
    if (!ids.empty()) return usage("cancel takes ids or --state/--name, not both");
    auto reply = client.cancel_where(cancel_state.empty() ? "all" : cancel_state, cancel_name);
    const auto* cancelled = ok(reply, code);
    if (!cancelled) return code;
    std::cout << "cancelled " << *cancelled << " tasks\n";
    return 0;
  }
  if (ran(cmd_show) || ran(cmd_wait) || ran(cmd_cancel) || ran(cmd_hold) || ran(cmd_release)) {
    if (ids.empty()) return usage("cancel needs task ids, or --state STATE / --name GLOB");
    auto expanded = braid::node::expand_ids(ids);
    if (!expanded) return usage(expanded.error().message);
    ids = std::move(expanded).value();
  }
  if (ran(cmd_show)) {
    auto reply = client.show(ids);
    const auto* tasks = ok(reply, code);
    if (!tasks) return code;
    if (json) {
      print_json(tasks->size() == 1 ? braid::node::task_json(tasks->front())
                                    : braid::node::tasks_json(*tasks));
    } else {
      for (std::size_t i = 0; i < tasks->size(); ++i) {
        std::cout << (i > 0 ? "\n" : "") << braid::node::task_details((*tasks)[i]);
      }
    }
    return 0;
  }
  if (ran(cmd_wait)) {
    sched::Micros timeout_us = 0;
    if (!timeout.empty()) {
      auto us = sched::parse_duration(timeout);
      if (!us) return usage("--timeout: " + us.error().message);
      timeout_us = us.value();
    }
    return braid::node::wait_command(client, ids, timeout_us, json);
  }
  if (ran(cmd_cancel)) {
    auto reply = client.cancel(ids);
    return ok(reply, code) ? 0 : code;
  }
  if (ran(cmd_hold) || ran(cmd_release)) {
    auto reply = client.hold(ids, ran(cmd_release));
    return ok(reply, code) ? 0 : code;
  }
  if (ran(cmd_logs)) return braid::node::logs_command(client, id, log_stderr, follow);
  if (ran(cmd_drain)) {
    sched::Micros timeout_us = 0;
    if (!timeout.empty()) {
      auto us = sched::parse_duration(timeout);
      if (!us) return usage("--timeout: " + us.error().message);
      timeout_us = us.value();
    }
    return braid::node::drain_command(client, drain_cancel, !drain_no_wait && !drain_cancel,
                                      timeout_us, json);
  }
  if (ran(cmd_peers)) {
    auto reply = client.peers();
    const auto* peers = ok(reply, code);
    if (!peers) return code;
    if (json) {
      print_json(braid::node::peers_json(*peers));
    } else if (peers->listen.empty()) {
      std::cout << "no peer listener (braidd runs alone)\n";
    } else {
      std::cout << braid::node::peers_table(*peers);
    }
    return 0;
  }
  if (ran(cmd_stats)) {
    auto reply = client.stats();
    const auto* stats = ok(reply, code);
    if (!stats) return code;
    auto peers_reply = client.peers();  // the gossip counters, when the node has peers
    const auto* peers = ok(peers_reply, code);
    if (!peers) return code;
    if (json) {
      nlohmann::json out = braid::node::stats_json(*stats);
      out["gossip"] =
          peers->listen.empty() ? nlohmann::json(nullptr) : braid::node::gossip_json(peers->gossip);
      out["migration"] = peers->migration.enabled ? braid::node::migration_json(peers->migration)
                                                  : nlohmann::json(nullptr);
      print_json(out);
    } else {
      std::cout << braid::node::stats_table(*stats);
      if (!peers->listen.empty()) std::cout << braid::node::gossip_line(peers->gossip);
      if (peers->migration.enabled) std::cout << braid::node::migration_line(peers->migration);
    }
    return 0;
  }
  if (ran(cmd_policy)) {
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
  if (ran(cmd_quantum)) {
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
  if (ran(cmd_priority)) {
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
  if (ran(cmd_scheduler)) {
    rpc::SchedulerOp op = verb == "pause"    ? rpc::SchedulerOp::kPause
                          : verb == "resume" ? rpc::SchedulerOp::kResume
                                             : rpc::SchedulerOp::kTrigger;
    auto reply = client.scheduler(op);
    return ok(reply, code) ? 0 : code;
  }
  if (ran(cmd_next)) {
    auto reply = client.scheduler(rpc::SchedulerOp::kNext);
    return ok(reply, code) ? 0 : code;
  }
  if (ran(cmd_debug) && !ran(cmd_peer_faults)) {
    return usage("debug needs a subcommand: peer-faults");
  }
  if (ran(cmd_peer_faults)) {
    const bool given = drop_permille > 0 || !blocked.empty();
    if (clear_faults == given) {
      return usage("debug peer-faults needs --clear, or --drop-permille N and/or --block ADDR");
    }
    auto reply = client.set_peer_faults({drop_permille, blocked});
    return ok(reply, code) ? 0 : code;
  }
  return usage("no command given: see braid --help");
}
