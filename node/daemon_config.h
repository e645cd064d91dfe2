// braidd's configuration: one TOML file (--config) whose every key is also a
// command-line flag; flags win. parse_daemon_args() checks every value and
// answers bad input with one line naming the key and what is allowed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "node/executor.h"
#include "sched/result.h"
#include "sched/torus.h"

namespace braid::node {

struct DaemonConfig {
  std::string name;                // default: the host name
  std::filesystem::path data_dir;  // db/, logs/ (default: default_paths().data_dir)
  // The control socket. Default: <data_dir>/braidd.sock when --data-dir (or
  // the config's data_dir) was given, else default_paths().socket, so that
  // a braidd on defaults and the CLI on defaults meet from any cwd.
  std::filesystem::path socket;
  // Peers (gossip): the TCP address peers reach this node at, "off" for
  // none. The default is loopback; when it is taken (several nodes on one
  // host) braidd runs without peers and says so once; an address given
  // explicitly that cannot be bound is a startup error. Port 0: any.
  std::string listen = "127.0.0.1:7420";
  bool listen_given = false;           // --listen (or the config key) named it
  std::string advertise;               // address peers are told; default: listen's
  std::vector<std::string> join;       // seed peers
  std::string cluster_secret_file;     // peers must prove this secret
  std::string cluster_secret;          // its contents (read at parse time)
  bool insecure = false;               // allow a non-loopback listen without a secret
  std::string gossip_profile = "lan";  // lan or fast (tests)
  int peer_drop_permille = 0;          // tests: drop this many of 1000 sent messages
  // Move queued tasks to idle peers and adopt theirs (docs/migration.md). On
  // by default only with a cluster secret (a peer's task runs as this
  // node's user); without one, only when --migrate is given.
  bool migrate = true;
  bool migrate_given = false;  // --migrate or --no-migrate on the command line or in the config
  // The node's labels (--label KEY=VALUE, or the config's `labels = { KEY =
  // "VALUE" }`) are torus.labels: tasks submitted with --node-label run only
  // on nodes that have them (issue 11 §2; sched/labels.h).
  // GET /metrics (docs/metrics.md) on HOST:PORT, or "off". The same address
  // as `http`: served by the API's listener.
  std::string metrics = "off";
  // The HTTP/JSON API (docs/api.md): HOST:PORT or "off". Like `listen`: the
  // default taken means no API and one warning; an address given that cannot
  // be bound is a startup error.
  std::string http = "127.0.0.1:8000";
  bool http_given = false;         // --http (or the config key) named it
  std::string api_token_file;      // mutating API requests need this token
  std::string api_token;           // its contents (read at parse time)
  std::string log_level = "info";  // trace debug info warn error
  sched::TorusConfig torus;        // slots, policy, quantum, started_max
  ExecutorConfig executor;         // kill_grace, mode; log_dir = data_dir/logs
  // Tasks that were running or stopped when the previous run died are
  // requeued (without using a retry: the crash was not their fault) unless
  // this is false or the task says otherwise...
  bool requeue_on_restart = true;
  // ...at most this many times per task (a task that keeps taking the node
  // down cannot loop); past it the task fails with "node restarted".
  int max_node_requeues = 3;
  // Finished tasks are kept this long, and at most this many, then purged.
  sched::Micros retention_us = 24LL * 3600 * sched::kMicrosPerSecond;
  std::uint64_t retention_max_tasks = 100'000;

  // Memory the torus admits started tasks' --memory against
  // (torus.memory_bytes); default: MemTotal of /proc/meminfo.
  std::uint64_t memory_total = 0;

  const std::filesystem::path& socket_path() const { return socket; }
};

// What parse_daemon_args() decided.
struct RunDaemon {
  DaemonConfig config;
};
struct ExitNow {
  int code;             // 0 after --help / --version, 2 on bad usage
  std::string message;  // printed as is (stdout for code 0, stderr otherwise)
};

std::variant<RunDaemon, ExitNow> parse_daemon_args(int argc, const char* const* argv);

// MemTotal of the text of /proc/meminfo, in bytes; nullopt if absent.
std::optional<std::uint64_t> parse_meminfo_total(std::string_view meminfo);

}  // namespace braid::node
