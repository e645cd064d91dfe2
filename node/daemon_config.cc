#include "node/daemon_config.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <thread>

#include "node/default_paths.h"
#include "node/memory_probe.h"
#include "node/proc_stat.h"
#include "node/toml_config.h"
#include "rpc/peer_auth.h"
#include "rpc/peer_endpoint.h"
#include "sched/duration.h"

namespace braid::node {
namespace {

constexpr std::size_t kSocketPathBytesMax = 107;  // sizeof(sockaddr_un::sun_path) - 1

// FNV-1a: a hash that stays the same across builds (std::hash need not).
std::uint32_t fnv1a_32(const std::string& text) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : text) hash = (hash ^ c) * 16777619u;
  return hash;
}

std::string host_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0 || buffer[0] == '\0') return "braid";
  std::string name(buffer);
  return name.substr(0, name.find('.'));
}

struct RawFlags {
  std::string policy = "Fair";
  std::string quantum = "10ms";
  std::string kill_grace = "10s";
  std::string executor = "auto";
  std::string retention = "24h";
  std::string io_aware = "on";
  int slots = 0;
  std::uint32_t started_max = 0;    // 0: kStartedPerSlot x slots
  std::vector<std::string> labels;  // --label KEY=VALUE
};

// Started (running + stopped) tasks per slot by default: as many as run, so
// submitted work waits queued (cheap, movable) instead of resident and
// rotating, and only urgent work (a strictly higher priority, beyond
// started_max) stops a task. Measured in docs/benchmarks.md ("Issue 9"): with
// 2 per slot a 40-file xz batch held 2.1x the memory of xargs -P2, with 1 per
// slot 1.16x, at the same makespan.
constexpr std::uint32_t kStartedPerSlot = 1;

sched::Result<sched::Micros> duration_flag(std::string_view flag, const std::string& text) {
  auto us = sched::parse_duration(text);
  if (!us) return sched::Error{"--" + std::string(flag) + ": " + us.error().message};
  return us;
}

// "HOST:PORT" with a port 1..65535 ("[::1]:7420" for IPv6).
sched::Status check_host_port(std::string_view flag, const std::string& value) {
  const std::size_t colon = value.rfind(':');
  bool ok = colon != std::string::npos && colon > 0 && colon + 1 < value.size();
  long port = 0;
  if (ok) {
    const std::string digits = value.substr(colon + 1);
    ok = digits.find_first_not_of("0123456789") == std::string::npos && digits.size() <= 5;
    if (ok) port = std::stol(digits);
  }
  if (!ok || port < 1 || port > 65535) {
    return sched::Error{"--" + std::string(flag) + ": \"" + value +
                        "\" must look like HOST:PORT with a port 1..65535"};
  }
  return sched::ok_status();
}

std::uint64_t machine_memory_bytes() {
  const std::optional<std::string> text = read_small_file("/proc/meminfo");
  return text ? parse_meminfo_total(*text).value_or(0) : 0;
}

// The peer flags: addresses, the secret, and the rule that a node reachable
// from other machines must have a secret (or be told --insecure).
sched::Status finish_peers(DaemonConfig& config) {
  if (config.listen == "off") return sched::ok_status();
  auto listen = rpc::parse_endpoint(config.listen, /*allow_any_port=*/true);
  if (!listen) return sched::Error{"--listen: " + listen.error().message + " or off"};
  if (!config.advertise.empty()) {
    if (auto a = rpc::parse_endpoint(config.advertise); !a) {
      return sched::Error{"--advertise: " + a.error().message};
    }
  }
  if (config.gossip_profile != "lan" && config.gossip_profile != "memberlist" &&
      config.gossip_profile != "fast") {
    return sched::Error{"--gossip-profile: \"" + config.gossip_profile +
                        "\" (allowed: lan, memberlist, fast)"};
  }
  if (!config.cluster_secret_file.empty()) {
    auto secret = rpc::read_secret_file(config.cluster_secret_file);
    if (!secret) return sched::Error{"--cluster-secret-file: " + secret.error().message};
    config.cluster_secret = std::move(secret).value();
  } else if (!rpc::is_loopback(listen.value()) && !config.insecure) {
    return sched::Error{"--listen " + config.listen +
                        ": peers beyond this machine need --cluster-secret-file (or --insecure "
                        "to run an open cluster)"};
  }
  return sched::ok_status();
}

// The HTTP API and metrics addresses, and the rule that an API reachable
// from other machines has a token for its mutating endpoints.
sched::Status finish_http(DaemonConfig& config) {
  std::optional<rpc::Endpoint> http;
  if (config.http != "off") {
    auto parsed = rpc::parse_endpoint(config.http, /*allow_any_port=*/true);
    if (!parsed) return sched::Error{"--http: " + parsed.error().message + " or off"};
    http = parsed.value();
  }
  if (config.metrics != "off") {
    if (auto m = rpc::parse_endpoint(config.metrics, /*allow_any_port=*/true); !m) {
      return sched::Error{"--metrics: " + m.error().message + " or off"};
    }
  }
  if (!config.api_token_file.empty()) {
    auto token = rpc::read_secret_file(config.api_token_file);
    if (!token) return sched::Error{"--api-token-file: " + token.error().message};
    config.api_token = std::move(token).value();
    for (char c : config.api_token) {
      if (c < 0x21 || c > 0x7e) {
        return sched::Error{
            "--api-token-file: the token must be printable ASCII without spaces "
            "(it is sent as Authorization: Bearer <token>)"};
      }
    }
  } else if (http && !rpc::is_loopback(*http)) {
    return sched::Error{"--http " + config.http +
                        ": an API reachable beyond this machine needs --api-token-file (its "
                        "PUT, POST and DELETE requests must carry the token)"};
  }
  return sched::ok_status();
}

sched::Status finish(const RawFlags& raw, DaemonConfig& config) {
  if (sched::Status s = finish_peers(config); !s) return s;
  if (sched::Status s = finish_http(config); !s) return s;
  for (const std::string& peer : config.join) {
    if (sched::Status s = check_host_port("join", peer); !s) return s;
  }
  if (config.name.empty()) config.name = host_name();
  if (sched::Status s = sched::validate_node_name(config.name); !s) {
    return sched::Error{"--name: " + s.error().message};
  }
  auto policy = sched::parse_policy(raw.policy);
  if (!policy) return sched::Error{"--policy: " + policy.error().message};
  auto quantum = duration_flag("quantum", raw.quantum);
  if (!quantum) return quantum.error();
  auto grace = duration_flag("kill-grace", raw.kill_grace);
  if (!grace) return grace.error();
  auto retention = duration_flag("retention", raw.retention);
  if (!retention) return retention.error();
  config.retention_us = retention.value();

  sched::TorusConfig& torus = config.torus;
  for (const std::string& text : raw.labels) {
    auto label = sched::parse_label(text);
    if (!label) return sched::Error{"--label: " + label.error().message};
    torus.labels.push_back(std::move(label).value());
  }
  if (sched::Status s = sched::validate_labels(torus.labels, "--label"); !s) return s;
  // Adopting a peer's task runs it as this node's user: by default only
  // from peers that proved the cluster secret.
  config.migrate = config.migrate && (!config.cluster_secret.empty() || config.migrate_given);
  torus.migrates = config.migrate;
  torus.node_name = config.name;
  torus.policy = policy.value();
  torus.quantum_us = quantum.value();
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  torus.slots = raw.slots == 0 ? static_cast<int>(cores) : raw.slots;
  torus.started_max = raw.started_max != 0
                          ? raw.started_max
                          : kStartedPerSlot * static_cast<std::uint32_t>(torus.slots);
  if (sched::Status s = sched::validate_config(torus); !s) {
    std::string message = s.error().message;  // config names use '_', flags use '-'
    const std::size_t name_end = message.find(' ');
    std::replace(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(name_end), '_',
                 '-');
    return sched::Error{"--" + message};
  }

  torus.io_aware = raw.io_aware == "on";
  if (raw.executor == "auto") {
    config.executor.mode = ExecutorConfig::Mode::kAuto;
  } else if (raw.executor == "cgroup") {
    config.executor.mode = ExecutorConfig::Mode::kCgroup;
  } else if (raw.executor == "signals") {
    config.executor.mode = ExecutorConfig::Mode::kSignals;
  } else {
    return sched::Error{"--executor: unknown mode \"" + raw.executor +
                        "\": use auto, cgroup or signals"};
  }
  config.executor.kill_grace = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::microseconds(grace.value()));
  config.executor.log_dir = config.data_dir / "logs";
  // One cgroup per node and data dir: two daemons of one name (tests, or a
  // node moved to another dir) never end each other's tasks as stale.
  // Symlinks resolved: the same dir reached another way keeps its name.
  std::error_code canonical_ec;
  std::filesystem::path dir_path =
      std::filesystem::weakly_canonical(std::filesystem::absolute(config.data_dir), canonical_ec);
  if (canonical_ec) dir_path = std::filesystem::absolute(config.data_dir).lexically_normal();
  if (!dir_path.has_filename() && dir_path != dir_path.root_path()) {
    dir_path = dir_path.parent_path();  // "d/" is "d"
  }
  const std::string dir = dir_path.string();
  config.executor.cgroup_name = fmt::format("braid-{}-{:08x}", config.name, fnv1a_32(dir));
  config.executor.node_mark = config.executor.cgroup_name;  // same scope: this node, this dir

  if (config.memory_total == 0) config.memory_total = machine_memory_bytes();
  torus.memory_bytes = config.memory_total;

  const std::string socket = std::filesystem::absolute(config.socket_path()).string();
  if (socket.size() > kSocketPathBytesMax) {
    return sched::Error{"--socket: the control socket " + socket + " would be " +
                        std::to_string(socket.size()) + " bytes; Unix sockets allow " +
                        std::to_string(kSocketPathBytesMax) +
                        ": use a shorter --socket or data dir"};
  }
  return sched::ok_status();
}

}  // namespace

std::variant<RunDaemon, ExitNow> parse_daemon_args(int argc, const char* const* argv) {
  CLI::App app{
      "braidd: the braid node daemon (the torus scheduler, its processes and its "
      "control socket)",
      "braidd"};
  app.config_formatter(std::make_shared<TomlConfig>());
  app.set_config("--config", "", "TOML file; every key is also a flag, flags win");
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.set_version_flag("--version", "braidd 0.1.0");

  DaemonConfig config;
  RawFlags raw;
  app.add_option("--name", config.name,
                 "node name, the origin part of task ids (default: host name)");
  const DefaultPaths defaults = default_paths();
  auto* data_dir_option =
      app.add_option("--data-dir", config.data_dir,
                     "state directory: db/, logs/ (default: " + defaults.data_dir.string() + ")");
  app.add_option("--socket", config.socket,
                 "control socket (default: <data-dir>/braidd.sock if --data-dir is given, else " +
                     defaults.socket.string() + ")");
  app.add_option("--memory-total", config.memory_total,
                 "memory that started tasks' --memory is admitted against, e.g. 16G "
                 "(default: MemTotal)")
      ->transform(CLI::AsSizeValue(false));
  auto* listen_option =
      app.add_option("--listen", config.listen,
                     "peer address HOST:PORT (port 0: any), or off; a non-loopback address "
                     "needs --cluster-secret-file")
          ->capture_default_str();
  app.add_option("--advertise", config.advertise,
                 "the HOST:PORT peers reach this node at (default: --listen's)");
  app.add_option("--join", config.join, "seed peer HOST:PORT (repeatable)");
  app.add_option("--cluster-secret-file", config.cluster_secret_file,
                 "file holding the cluster secret (16..4096 bytes, mode 0600) peers must prove");
  app.add_flag("--insecure", config.insecure,
               "allow a non-loopback --listen without a cluster secret");
  app.add_option("--gossip-profile", config.gossip_profile,
                 "gossip timers: lan (probes every 300 ms), memberlist (its LAN timers) or fast "
                 "(tests on one machine)")
      ->capture_default_str();
  auto* migrate_option = app.add_flag(
      "--migrate,!--no-migrate", config.migrate,
      "move queued tasks to idle peers and adopt theirs (default: on with a cluster secret; "
      "without one only when given, as any local user could hand this node tasks; "
      "docs/migration.md)");
  app.add_option("--label", raw.labels,
                 "a label of this node, KEY=VALUE (repeatable; config: labels = { KEY = "
                 "\"VALUE\" }): tasks submitted with --node-label run only on nodes that "
                 "have all theirs");
  app.add_option("--peer-drop-permille", config.peer_drop_permille,
                 "tests: drop this many of every 1000 gossip messages sent (fault injection)")
      ->check(CLI::Range(0, 1000));
  app.add_option("--metrics", config.metrics,
                 "serve GET /metrics (Prometheus) on HOST:PORT, or off; the --http address "
                 "shares the API's listener")
      ->capture_default_str();
  auto* http_option =
      app.add_option("--http", config.http,
                     "HTTP/JSON API address HOST:PORT (port 0: any), or off (docs/api.md); a "
                     "non-loopback address needs --api-token-file")
          ->capture_default_str();
  app.add_option("--api-token-file", config.api_token_file,
                 "file holding the API token (16..4096 printable bytes, mode 0600) that PUT, "
                 "POST and DELETE requests must send as Authorization: Bearer <token>");
  app.add_option("--slots", raw.slots, "tasks running at once (default: cores)");
  app.add_option("--policy", raw.policy, "RoundRobin, Priority or Fair")->capture_default_str();
  app.add_option("--quantum", raw.quantum, "time slice, 1ms..1s")->capture_default_str();
  app.add_option("--started-max", raw.started_max,
                 "started (running + stopped) tasks at most (default: slots)");
  app.add_option("--fair-window", config.torus.fair_window_quanta,
                 "Fair: quanta of CPU time a waiting task must be owed before it preempts "
                 "a running one (0: every quantum)")
      ->capture_default_str();
  app.add_option("--io-aware", raw.io_aware,
                 "on: a running task seen mostly blocked (sleep, I/O) lends its slot to a "
                 "waiting task until it is busy again; off: strict slots")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--kill-grace", raw.kill_grace, "SIGTERM to SIGKILL delay on cancel")
      ->capture_default_str();
  app.add_option("--executor", raw.executor, "auto, cgroup or signals")->capture_default_str();
  app.add_option("--requeue-on-restart", config.requeue_on_restart,
                 "requeue tasks a crash interrupted, without using a retry (true/false)")
      ->capture_default_str()
      ->check(CLI::IsMember({"true", "false"}));
  app.add_option("--max-node-requeues", config.max_node_requeues,
                 "crash requeues per task at most; then it fails with \"node restarted\"")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  app.add_option("--retention", raw.retention, "how long finished tasks are kept")
      ->capture_default_str();
  app.add_option("--retention-max-tasks", config.retention_max_tasks,
                 "finished tasks kept at most; older ones are purged first")
      ->capture_default_str();
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return ExitNow{0, app.help()};
  } catch (const CLI::CallForVersion& e) {
    return ExitNow{0, std::string(e.what()) + "\n"};
  } catch (const CLI::ConfigError& e) {
    // CLI11 says "INI was not able to parse <key>": name the key and what is allowed.
    std::string what = e.what();
    const std::string prefix = "INI was not able to parse ";
    if (what.rfind(prefix, 0) == 0) {
      return ExitNow{2, "braidd: unknown config key \"" + what.substr(prefix.size()) +
                            "\": every key is a long flag name (see braidd --help)\n"};
    }
    return ExitNow{2, "braidd: " + what + "\n"};
  } catch (const CLI::ParseError& e) {
    return ExitNow{2, std::string("braidd: ") + e.what() + "\n"};
  }
  if (config.socket.empty()) {
    config.socket =
        data_dir_option->count() > 0 ? config.data_dir / "braidd.sock" : defaults.socket;
  }
  if (config.data_dir.empty()) config.data_dir = defaults.data_dir;
  config.listen_given = listen_option->count() > 0;
  config.http_given = http_option->count() > 0;
  config.migrate_given = migrate_option->count() > 0;
  if (sched::Status s = finish(raw, config); !s) {
    return ExitNow{2, "braidd: " + s.error().message + "\n"};
  }
  return RunDaemon{std::move(config)};
}

std::optional<std::uint64_t> parse_meminfo_total(std::string_view meminfo) {
  return parse_meminfo_bytes(meminfo, "MemTotal");
}

}  // namespace braid::node
