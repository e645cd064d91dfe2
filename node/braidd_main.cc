// braidd: one braid node. main() builds every real object and wires them:
// the Asio loop (one thread), Cap'n Proto on that loop, the clock, the
// node's parts (tasks, waiters, durability, submissions: node/daemon.h), the
// Daemon that joins them and answers the control socket. Reading this
// function shows the whole daemon. A part that follows the node's load
// (peers) is built after the Daemon and registers with add_load_listener().
#include <capnp/rpc-twoparty.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <asio.hpp>
#include <csignal>
#include <cstdio>

#include "node/clock.h"
#include "node/daemon.h"
#include "node/daemon_config.h"
#include "node/data_dir.h"
#include "node/default_paths.h"
#include "node/drain.h"
#include "node/following.h"
#include "node/http_serving.h"
#include "node/metrics.h"
#include "node/migration.h"
#include "node/peers_glue.h"
#include "rpc/asio_event_port.h"
#include "rpc/control_server.h"
#include "rpc/unix_listener.h"

namespace {

bool sched_status_failed(const braid::sched::Status& status) {
  if (status) return false;
  spdlog::critical("{}", status.error().message);
  return true;
}

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_st("braidd", spdlog::color_mode::never);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ braidd[%P] %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = braid::node::parse_daemon_args(argc, argv);
  if (auto* exit_now = std::get_if<braid::node::ExitNow>(&parsed)) {
    std::fputs(exit_now->message.c_str(), exit_now->code == 0 ? stdout : stderr);
    return exit_now->code;
  }
  braid::node::DaemonConfig config = std::get<braid::node::RunDaemon>(std::move(parsed)).config;
  setup_logging(config.log_level);
  // Private state: the database, the logs and the socket are this user's only.
  ::umask(077);
  // A closed stderr or a vanished client must not kill the daemon; children
  // get SIGPIPE back (the executor resets it at spawn).
  std::signal(SIGPIPE, SIG_IGN);
  // A file size limit (ulimit -f) must fail a write, not kill the daemon.
  std::signal(SIGXFSZ, SIG_IGN);

  auto data_dir = braid::node::DataDir::open(config.data_dir);
  if (!data_dir) {
    spdlog::critical("{}", data_dir.error().message);
    return 1;
  }
  // The socket's directory is created 0700. An existing one must be private
  // too when it is the default place (e.g. /tmp/braid-$UID, which another
  // user could have made first); a directory the operator named is theirs.
  const std::filesystem::path socket_dir = config.socket_path().parent_path();
  std::error_code ec;
  if (!socket_dir.empty() && (!std::filesystem::exists(socket_dir, ec) ||
                              socket_dir == braid::node::default_paths().socket.parent_path())) {
    if (auto s = braid::node::ensure_private_dir(socket_dir, "socket dir"); !s) {
      spdlog::critical("{}", s.error().message);
      return 1;
    }
  }

  try {
    asio::io_context io(1);
    braid::rpc::AsioEventPort event_port(io);  // Cap'n Proto runs on this loop too
    {
      braid::node::SystemClock clock;  // the one clock every part reads
      auto opened = braid::node::Durability::open_store(clock, config);
      if (!opened) {
        spdlog::critical("{}", opened.error().message);
        return 1;
      }
      auto [store, meta] = std::move(opened).value();
      // Declared in dependency order, destroyed in reverse: the committer
      // drains (Durability) while the executor (Tasks) still lives. Peers
      // (gossip) go last: Tasks tells them of load changes to the end.
      std::unique_ptr<braid::node::Peers> peers;
      bool accepting = true;  // false once shutting down (the load listener reads it)
      bool draining = false;  // braid drain: the gossiped load says not accepting either
      braid::node::Tasks tasks(io, clock, config, meta.next_sequence);
      braid::node::Waiters waiters(io, tasks);
      braid::node::Durability durability(io, clock, config, std::move(store), std::move(meta),
                                         tasks);
      braid::node::Submissions submissions(io, clock, config, tasks, durability, waiters);
      braid::node::Daemon daemon(io, config, tasks, waiters, durability, submissions);
      // Prometheus metrics (docs/metrics.md): read from the parts at each scrape.
      braid::node::Metrics metrics(tasks, submissions, durability);
      metrics.set_draining(&draining);
      // Takes a new incarnation, restores every stored task; an Error means
      // the node must not start (nothing was changed).
      if (sched_status_failed(durability.recover())) return 1;
      auto started = braid::node::start_peers(io, clock, config, durability);
      if (!started) {
        spdlog::critical("{}", started.error().message);
        return 1;
      }
      peers = std::move(started).value();
      std::unique_ptr<braid::node::Migration> migration;
      if (peers) {
        daemon.set_peers_view([&] {
          braid::rpc::PeersView view = braid::node::peers_view(*peers, clock);
          if (migration) view.migration = migration->counters();
          return view;
        });
        daemon.set_peer_faults_handler([&](const braid::rpc::PeerFaultsRequest& f) {
          braid::rpc::PeerFaults faults;  // tests only (braid debug peer-faults)
          faults.drop_permille = f.drop_permille;
          faults.blocked.insert(f.blocked.begin(), f.blocked.end());
          peers->set_faults(std::move(faults));
          spdlog::warn("peer faults injected: drop {}/1000, {} address(es) blocked",
                       f.drop_permille, f.blocked.size());
          return braid::sched::ok_status();
        });
        // What peers are told: whether this node takes tasks from them.
        auto gossiped_load = [&] {
          return braid::node::load_of(tasks.torus(), accepting && !draining && config.migrate);
        };
        daemon.add_load_listener([&, gossiped_load] {  // a copy: the block ends
          peers->set_load(gossiped_load());
          if (migration) migration->on_load_changed();
        });
        peers->set_load(gossiped_load());
        // Always there with peers: with --no-migrate it balances nothing and
        // refuses offers, but still resolves what the store holds of
        // migration and applies outcomes of tasks that moved before.
        braid::node::MigrationOptions m;
        m.balance.self = config.name;
        m.seed = static_cast<std::uint64_t>(clock.wall_us());
        m.load = gossiped_load;
        m.balancing = config.migrate;
        migration =
            std::make_unique<braid::node::Migration>(io, clock, tasks, durability, *peers, m);
        if (sched_status_failed(migration->start())) return 1;
        metrics.set_peers(peers.get(), &clock);
        metrics.set_migration(migration.get());
        if (config.migrate && config.cluster_secret.empty()) {
          spdlog::warn(
              "migration without a cluster secret (--migrate): any local user who "
              "reaches the peer port can hand this node tasks to run as its user");
        }
        daemon.set_on_drain([&, gossiped_load](bool drain) {
          draining = drain;
          peers->set_load(gossiped_load());
          return migration->set_draining(drain);
        });
      }
      // logs and ps --cluster across nodes (node/following.h).
      std::unique_ptr<braid::node::Following> following;
      if (peers) {
        braid::node::FollowingOptions f;
        f.answer_peers = !config.cluster_secret.empty() || config.migrate;
        following = std::make_unique<braid::node::Following>(tasks, *peers, f);
      }
      daemon.set_following(following.get());
      capnp::TwoPartyServer server(
          kj::heap<braid::rpc::ControlServer>(daemon, daemon.lifetime_token()));
      braid::rpc::UnixListener listener(io, config.socket_path().string());
      listener.on_accept([&](kj::Own<kj::AsyncIoStream> stream) { server.accept(kj::mv(stream)); });
      spdlog::info("control socket {}", config.socket_path().string());
      // The HTTP/JSON API and /metrics (docs/api.md), on this loop too.
      // TODO(merge): the metrics text is node::Metrics::text() (node/metrics.h).
      auto http = braid::node::HttpServing::start(
          io, daemon, config, [] { return std::string("# metrics not wired yet\n"); });
      if (!http) {
        spdlog::critical("{}", http.error().message);
        return 1;
      }

      // First SIGTERM/SIGINT: graceful (tasks get SIGTERM, then SIGKILL after
      // kill_grace). A second one: stop now; the executor's destructor SIGKILLs
      // what is left and reaps it.
      asio::signal_set signals(io, SIGTERM, SIGINT);
      signals.async_wait([&](const std::error_code& ec, int signal) {
        if (ec) return;
        spdlog::info("signal {}: stopping (again to stop at once)", signal);
        listener.close();
        http.value()->close();
        // Stops once the tasks are ended and the leave had a moment to spread.
        auto pending = std::make_shared<int>(peers ? 2 : 1);
        auto one_done = [&io, pending] {
          if (--*pending == 0) io.stop();
        };
        if (peers) {
          accepting = false;
          peers->leave(one_done);
        }
        daemon.shutdown(one_done);
        signals.async_wait([&](const std::error_code& ec2, int again) {
          if (ec2) return;
          spdlog::warn("signal {}: stopping at once, killing every task", again);
          io.stop();
        });
      });
      io.run();
    }  // connections, server and daemon go first, while the KJ loop exists
    io.restart();
    io.poll();  // handlers they left behind find nothing to do
    spdlog::info("stopped");
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    return 1;
  } catch (const kj::Exception& e) {
    spdlog::critical("fatal: {}", e.getDescription().cStr());
    return 1;
  }
  return 0;
}
