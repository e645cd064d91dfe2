#include "node/daemon_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "node/default_paths.h"

namespace braid::node {
namespace {

std::variant<RunDaemon, ExitNow> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "braidd");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_daemon_args(static_cast<int>(argv.size()), argv.data());
}

const DaemonConfig& config_of(const std::variant<RunDaemon, ExitNow>& r) {
  if (const auto* e = std::get_if<ExitNow>(&r)) ADD_FAILURE() << e->message;
  return std::get<RunDaemon>(r).config;
}

std::string error_of(const std::variant<RunDaemon, ExitNow>& r) {
  const auto* e = std::get_if<ExitNow>(&r);
  if (e == nullptr) return "(accepted)";
  EXPECT_EQ(e->code, 2);
  return e->message;
}

TEST(DaemonConfig, DefaultsAreSensible) {
  auto r = parse({"--name", "alpha"});
  const DaemonConfig& c = config_of(r);
  EXPECT_EQ(c.name, "alpha");
  EXPECT_EQ(c.data_dir, default_paths().data_dir);
  EXPECT_EQ(c.socket_path(), default_paths().socket);
  EXPECT_GE(c.torus.slots, 1);
  EXPECT_EQ(c.torus.policy, sched::Policy::kFair);
  EXPECT_EQ(c.torus.quantum_us, 10'000);
  EXPECT_EQ(c.torus.node_name, "alpha");
  EXPECT_EQ(c.executor.kill_grace, std::chrono::seconds(10));
  EXPECT_EQ(c.executor.log_dir, default_paths().data_dir / "logs");
  EXPECT_GT(c.memory_total, 0u);  // MemTotal
  EXPECT_EQ(c.torus.memory_bytes, c.memory_total);
  EXPECT_EQ(c.torus.started_max, static_cast<std::uint32_t>(c.torus.slots));
  EXPECT_EQ(c.torus.fair_window_quanta, sched::kFairWindowDefaultQuanta);
  EXPECT_TRUE(c.torus.io_aware);
  EXPECT_TRUE(c.requeue_on_restart);
  EXPECT_EQ(c.retention_us, 24LL * 3600 * 1'000'000);
  EXPECT_EQ(c.retention_max_tasks, 100'000u);
}

TEST(DaemonConfig, SocketFollowsAGivenDataDirUnlessGivenItself) {
  EXPECT_EQ(config_of(parse({"--name", "a", "--data-dir", "/tmp/d"})).socket_path(),
            "/tmp/d/braidd.sock");
  const DaemonConfig c =
      config_of(parse({"--name", "a", "--data-dir", "/tmp/d", "--socket", "/tmp/s.sock"}));
  EXPECT_EQ(c.socket_path(), "/tmp/s.sock");
  EXPECT_EQ(c.data_dir, "/tmp/d");
  EXPECT_EQ(config_of(parse({"--name", "a", "--socket", "/tmp/s.sock"})).data_dir,
            default_paths().data_dir);
}

TEST(DaemonConfig, NodeMarkNamesTheNodeAndTheDataDir) {
  const DaemonConfig a = config_of(parse({"--name", "a", "--data-dir", "/tmp/d"}));
  EXPECT_EQ(a.executor.node_mark, a.executor.cgroup_name);
  EXPECT_EQ(a.executor.node_mark.rfind("braid-a-", 0), 0u) << a.executor.node_mark;
  EXPECT_EQ(a.executor.node_mark,
            config_of(parse({"--name", "a", "--data-dir", "/tmp/d/"})).executor.node_mark);
  EXPECT_NE(a.executor.node_mark,
            config_of(parse({"--name", "a", "--data-dir", "/tmp/e"})).executor.node_mark);
  EXPECT_NE(a.executor.node_mark,
            config_of(parse({"--name", "b", "--data-dir", "/tmp/d"})).executor.node_mark);
}

TEST(DaemonConfig, MemoryTotalTakesSizes) {
  const DaemonConfig c = config_of(parse({"--name", "a", "--memory-total", "2G"}));
  EXPECT_EQ(c.memory_total, 2ULL << 30);
  EXPECT_EQ(c.torus.memory_bytes, 2ULL << 30);
  EXPECT_NE(error_of(parse({"--name", "a", "--memory-total", "lots"})), "(accepted)");
}

TEST(DaemonConfig, MeminfoTotal) {
  EXPECT_EQ(parse_meminfo_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            24576000ULL * 1024);
  EXPECT_EQ(parse_meminfo_total("MemFree: 1 kB\n"), std::nullopt);
}

TEST(DaemonConfig, DurabilitySettings) {
  auto r = parse({"--name", "a", "--requeue-on-restart", "false", "--retention", "90m",
                  "--retention-max-tasks", "7"});
  const DaemonConfig& c = config_of(r);
  EXPECT_FALSE(c.requeue_on_restart);
  EXPECT_EQ(c.retention_us, 90LL * 60 * 1'000'000);
  EXPECT_EQ(c.retention_max_tasks, 7u);
  EXPECT_EQ(
      error_of(parse({"--name", "a", "--retention", "soon"})).rfind("braidd: --retention: ", 0),
      0u);
  EXPECT_NE(error_of(parse({"--name", "a", "--requeue-on-restart", "maybe"})), "(accepted)");
}

TEST(DaemonConfig, MaxNodeRequeues) {
  EXPECT_EQ(config_of(parse({"--name", "a"})).max_node_requeues, 3);
  EXPECT_EQ(config_of(parse({"--name", "a", "--max-node-requeues", "0"})).max_node_requeues, 0);
  EXPECT_NE(error_of(parse({"--name", "a", "--max-node-requeues", "-1"})), "(accepted)");
}

TEST(DaemonConfig, IoAwareIsOnOrOff) {
  EXPECT_FALSE(config_of(parse({"--name", "a", "--io-aware", "off"})).torus.io_aware);
  EXPECT_TRUE(config_of(parse({"--name", "a", "--io-aware", "on"})).torus.io_aware);
  const std::string error = error_of(parse({"--name", "a", "--io-aware", "maybe"}));
  EXPECT_NE(error.find("--io-aware"), std::string::npos) << error;
  EXPECT_NE(error.find("on"), std::string::npos) << error;
}

TEST(DaemonConfig, StartedMaxFollowsSlotsUnlessGiven) {
  EXPECT_EQ(config_of(parse({"--name", "a", "--slots", "300"})).torus.started_max, 300u);
  EXPECT_EQ(config_of(parse({"--name", "a", "--fair-window", "0"})).torus.fair_window_quanta, 0u);
  EXPECT_EQ(error_of(parse({"--name", "a", "--fair-window", "100001"})),
            "braidd: --fair-window must be 0..100000 quanta, got 100001\n");
  EXPECT_EQ(error_of(parse({"--name", "a", "--slots", "4", "--started-max", "2"})),
            "braidd: --started-max must be >= slots (4), got 2\n");
}

TEST(DaemonConfig, FlagsAreParsed) {
  auto r =
      parse({"--name", "b", "--slots", "3", "--policy", "priority", "--quantum", "25ms",
             "--kill-grace", "500ms", "--executor", "signals", "--join", "h:1", "--join", "h:2"});
  const DaemonConfig& c = config_of(r);
  EXPECT_EQ(c.torus.slots, 3);
  EXPECT_EQ(c.torus.policy, sched::Policy::kPriority);
  EXPECT_EQ(c.torus.quantum_us, 25'000);
  EXPECT_EQ(c.executor.kill_grace, std::chrono::milliseconds(500));
  EXPECT_EQ(c.executor.mode, ExecutorConfig::Mode::kSignals);
  EXPECT_EQ(c.join, (std::vector<std::string>{"h:1", "h:2"}));
}

TEST(DaemonConfig, TomlFileGivesEveryKeyAndFlagsWin) {
  const std::string path = ::testing::TempDir() + "/braidd-test.toml";
  std::ofstream(path) << "name = \"fromfile\"\nslots = 5\npolicy = \"RoundRobin\"\n"
                         "quantum = \"50ms\"\ndata_dir = \"/tmp/bd\"\njoin = [\"a:1\", \"b:2\"]\n";
  auto r = parse({"--config", path, "--slots", "2"});
  const DaemonConfig& c = config_of(r);
  EXPECT_EQ(c.name, "fromfile");
  EXPECT_EQ(c.torus.slots, 2);  // the flag wins
  EXPECT_EQ(c.torus.policy, sched::Policy::kRoundRobin);
  EXPECT_EQ(c.torus.quantum_us, 50'000);
  EXPECT_EQ(c.data_dir, "/tmp/bd");
  EXPECT_EQ(c.socket_path(), "/tmp/bd/braidd.sock");  // data_dir from the file counts as given
  EXPECT_EQ(c.join, (std::vector<std::string>{"a:1", "b:2"}));
}

TEST(DaemonConfig, TomlSocketAndMemoryTotal) {
  const std::string path = ::testing::TempDir() + "/braidd-test-socket.toml";
  std::ofstream(path) << "name = \"n\"\nsocket = \"/tmp/x/b.sock\"\nmemory_total = \"3G\"\n";
  const DaemonConfig c = config_of(parse({"--config", path}));
  EXPECT_EQ(c.socket_path(), "/tmp/x/b.sock");
  EXPECT_EQ(c.data_dir, default_paths().data_dir);
  EXPECT_EQ(c.memory_total, 3ULL << 30);
}

TEST(DaemonConfig, BadValuesAreNamedWithWhatIsAllowed) {
  EXPECT_EQ(error_of(parse({"--name", "a", "--policy", "Fiar"})),
            "braidd: --policy: unknown policy \"Fiar\": use RoundRobin, Priority or Fair\n");
  EXPECT_EQ(error_of(parse({"--name", "a", "--quantum", "0ms"})),
            "braidd: --quantum must be 1ms..1s, got 0s\n");
  EXPECT_EQ(error_of(parse({"--name", "a", "--quantum", "10"})),
            "braidd: --quantum: invalid duration \"10\": use a number and a unit (us, ms, s, m, "
            "h), e.g. 10ms\n");
  EXPECT_EQ(error_of(parse({"--name", "a b"})),
            "braidd: --name: node name \"a b\" must be 1..63 characters of A-Z a-z 0-9 . _ -\n");
  EXPECT_EQ(error_of(parse({"--name", "a", "--executor", "docker"})),
            "braidd: --executor: unknown mode \"docker\": use auto, cgroup or signals\n");
  EXPECT_NE(error_of(parse({"--bogus"})).find("--bogus"), std::string::npos);
  EXPECT_EQ(error_of(parse({"--name", "a", "--listen", "nohost"})),
            "braidd: --listen: address \"nohost\": no HOST:PORT (allowed: HOST:PORT, HOST a "
            "name, an IPv4 address or [IPv6], PORT 1..65535) or off\n");
  EXPECT_EQ(error_of(parse({"--name", "a", "--join", "h:99999"})),
            "braidd: --join: \"h:99999\" must look like HOST:PORT with a port 1..65535\n");
  EXPECT_TRUE(std::holds_alternative<RunDaemon>(parse({"--name", "a", "--listen", "[::1]:7420"})));
}

// Peers beyond this machine must prove a secret; loopback needs none.
TEST(DaemonConfig, PeerFlagsAndTheSecretRule) {
  auto loopback = parse({"--name", "a", "--listen", "127.0.0.1:0", "--gossip-profile", "fast"});
  ASSERT_TRUE(std::holds_alternative<RunDaemon>(loopback)) << error_of(loopback);
  EXPECT_TRUE(std::get<RunDaemon>(loopback).config.listen_given);
  auto defaults = parse({"--name", "a"});
  ASSERT_TRUE(std::holds_alternative<RunDaemon>(defaults));
  EXPECT_FALSE(std::get<RunDaemon>(defaults).config.listen_given);
  EXPECT_EQ(std::get<RunDaemon>(defaults).config.gossip_profile, "lan");
  EXPECT_EQ(error_of(parse({"--name", "a", "--listen", "0.0.0.0:7420"})),
            "braidd: --listen 0.0.0.0:7420: peers beyond this machine need "
            "--cluster-secret-file (or --insecure to run an open cluster)\n");
  EXPECT_TRUE(std::holds_alternative<RunDaemon>(
      parse({"--name", "a", "--listen", "0.0.0.0:7420", "--insecure"})));
  EXPECT_TRUE(std::holds_alternative<RunDaemon>(parse({"--name", "a", "--listen", "off"})));
  EXPECT_EQ(error_of(parse({"--name", "a", "--gossip-profile", "wan"})),
            "braidd: --gossip-profile: \"wan\" (allowed: lan, memberlist, fast)\n");
  const std::string secret = ::testing::TempDir() + "/braidd-secret";
  std::ofstream(secret) << "a secret of enough bytes\n";
  ::chmod(secret.c_str(), 0600);
  auto with_secret =
      parse({"--name", "a", "--listen", "10.0.0.1:7420", "--cluster-secret-file", secret});
  ASSERT_TRUE(std::holds_alternative<RunDaemon>(with_secret)) << error_of(with_secret);
  EXPECT_EQ(std::get<RunDaemon>(with_secret).config.cluster_secret, "a secret of enough bytes");
  EXPECT_TRUE(std::get<RunDaemon>(with_secret).config.migrate);  // on by default with a secret
  EXPECT_FALSE(std::get<RunDaemon>(parse({"--name", "a", "--listen", "10.0.0.1:7420",
                                          "--cluster-secret-file", secret, "--no-migrate"}))
                   .config.migrate);
  ::chmod(secret.c_str(), 0644);
  EXPECT_NE(error_of(parse({"--name", "a", "--cluster-secret-file", secret}))
                .find("--cluster-secret-file: cluster secret file"),
            std::string::npos);
  EXPECT_NE(
      error_of(parse({"--name", "a", "--peer-drop-permille", "1001"})).find("--peer-drop-permille"),
      std::string::npos);
}

TEST(DaemonConfig, HttpMetricsAndTheTokenRule) {
  auto defaults = parse({"--name", "a"});
  const DaemonConfig& d = config_of(defaults);
  EXPECT_EQ(d.http, "127.0.0.1:8000");
  EXPECT_FALSE(d.http_given);
  EXPECT_EQ(d.metrics, "off");
  EXPECT_TRUE(d.api_token.empty());
  auto given = parse({"--name", "a", "--http", "127.0.0.1:0", "--metrics", "127.0.0.1:9464"});
  EXPECT_TRUE(config_of(given).http_given);
  EXPECT_EQ(config_of(given).metrics, "127.0.0.1:9464");
  EXPECT_TRUE(std::holds_alternative<RunDaemon>(parse({"--name", "a", "--http", "off"})));
  EXPECT_EQ(error_of(parse({"--name", "a", "--http", "0.0.0.0:8000"})),
            "braidd: --http 0.0.0.0:8000: an API reachable beyond this machine needs "
            "--api-token-file (its PUT, POST and DELETE requests must carry the token)\n");
  EXPECT_NE(error_of(parse({"--name", "a", "--http", "nonsense"})).find("--http: "),
            std::string::npos);
  EXPECT_NE(error_of(parse({"--name", "a", "--metrics", "nonsense"})).find("--metrics: "),
            std::string::npos);
  const std::string token = ::testing::TempDir() + "/braidd-api-token";
  std::ofstream(token) << "an-api-token-of-enough-bytes\n";
  ::chmod(token.c_str(), 0600);
  auto with_token = parse({"--name", "a", "--http", "0.0.0.0:8000", "--api-token-file", token});
  EXPECT_EQ(config_of(with_token).api_token, "an-api-token-of-enough-bytes");
  std::ofstream(token) << "a token with spaces inside\n";
  EXPECT_NE(error_of(parse({"--name", "a", "--api-token-file", token})).find("printable ASCII"),
            std::string::npos);
  const std::string path = ::testing::TempDir() + "/braidd-http.toml";
  std::ofstream(path) << "http = \"127.0.0.1:8123\"\nmetrics = \"127.0.0.1:8123\"\n";
  auto from_file = parse({"--name", "a", "--config", path});
  EXPECT_EQ(config_of(from_file).http, "127.0.0.1:8123");
  EXPECT_TRUE(config_of(from_file).http_given);
  EXPECT_EQ(config_of(from_file).metrics, "127.0.0.1:8123");
}

TEST(DaemonConfig, LabelsFromFlagsAndTheConfigTable) {
  const DaemonConfig none = config_of(parse({"--name", "a"}));
  EXPECT_TRUE(none.torus.labels.empty());
  // Without a cluster secret migration is on only when asked for (a peer's
  // task would run as braidd's user for any local user).
  EXPECT_FALSE(none.torus.migrates);
  EXPECT_FALSE(config_of(parse({"--name", "a", "--no-migrate"})).torus.migrates);
  const DaemonConfig flags =
      config_of(parse({"--name", "a", "--label", "gpu=1", "--label", "zone=a", "--migrate"}));
  EXPECT_EQ(flags.torus.labels, (std::vector<sched::Label>{{"gpu", "1"}, {"zone", "a"}}));
  EXPECT_TRUE(flags.torus.migrates);
  const std::string path = ::testing::TempDir() + "/braidd-labels.toml";
  std::ofstream(path) << "name = \"n\"\nlabels = { gpu = \"1\", cores = 64 }\n";
  const DaemonConfig file = config_of(parse({"--config", path}));
  EXPECT_EQ(file.torus.labels,
            (std::vector<sched::Label>{{"cores", "64"}, {"gpu", "1"}}));  // key order
  std::ofstream(path) << "name = \"n\"\n[labels]\nzone = \"b\"\n";
  EXPECT_EQ(config_of(parse({"--config", path})).torus.labels,
            (std::vector<sched::Label>{{"zone", "b"}}));
  EXPECT_EQ(error_of(parse({"--name", "a", "--label", "gpu"})),
            "braidd: --label: label \"gpu\" must look like KEY=VALUE, each 1..63 of A-Z a-z 0-9 "
            ". _ -\n");
  EXPECT_EQ(error_of(parse({"--name", "a", "--label", "gpu=1", "--label", "gpu=2"})),
            "braidd: --label key \"gpu\" is given twice (gpu=1, gpu=2): each key at most once\n");
  std::ofstream(path) << "name = \"n\"\nlabels = { gpu = [1] }\n";
  EXPECT_EQ(error_of(parse({"--config", path})),
            "braidd: config key \"labels.gpu\" must be a string, number or boolean\n");
}

TEST(DaemonConfig, BadConfigFilesAreRefused) {
  const std::string path = ::testing::TempDir() + "/braidd-bad.toml";
  std::ofstream(path) << "slots = \n";
  EXPECT_NE(error_of(parse({"--config", path})).find("not valid TOML"), std::string::npos);
  std::ofstream(path) << "name = 1979-05-27\n";
  EXPECT_EQ(error_of(parse({"--config", path})),
            "braidd: config key \"name\" must be a string, number or boolean\n");
  std::ofstream(path) << "no_such_key = 1\n";
  EXPECT_EQ(error_of(parse({"--config", path})),
            "braidd: unknown config key \"no-such-key\": every key is a long flag name (see "
            "braidd --help)\n");
}

}  // namespace
}  // namespace braid::node
