// braidd under a service manager (systemd Type=notify, node/sd_notify.h): a
// real datagram socket in $NOTIFY_SOCKET gets READY=1 only once the control
// socket accepts connections, and STOPPING=1 at SIGTERM.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

extern char** environ;

namespace braid::testing {
namespace {

// The next datagram on `fd`, or "(none)" after `timeout_ms`.
std::string receive(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return "(none)";
  char buffer[256];
  const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
  return n < 0 ? "(error)" : std::string(buffer, static_cast<std::size_t>(n));
}

sockaddr_un unix_address(const std::string& path, bool abstract, socklen_t& length) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + (abstract ? 1 : 0), path.data(), path.size());
  length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return address;
}

TEST(SdNotify, ReadyOnlyOnceTheControlSocketAcceptsAndStoppingAtSigterm) {
  TempDir dir;
  // The manager's socket: abstract, as systemd's own is ('@' in $NOTIFY_SOCKET).
  const std::string name = "braid-it-notify-" + std::to_string(::getpid());
  const int manager = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(manager, 0);
  socklen_t length = 0;
  sockaddr_un address = unix_address(name, /*abstract=*/true, length);
  ASSERT_EQ(::bind(manager, reinterpret_cast<const sockaddr*>(&address), length), 0);

  const std::string braidd = bin("braidd");
  std::vector<std::string> args = {braidd,     "--name", "it",          "--data-dir", dir.path(),
                                   "--listen", "off",    "--log-level", "warn"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = {"NOTIFY_SOCKET=@" + name};
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) env_strings.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  ASSERT_EQ(::posix_spawn(&pid, braidd.c_str(), nullptr, nullptr, argv.data(), envp.data()), 0);

  ASSERT_EQ(receive(manager, 60000), "READY=1");
  // At that moment the control socket must already accept a connection.
  const int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un control = unix_address(dir.path() + "/braidd.sock", /*abstract=*/false, length);
  EXPECT_EQ(::connect(client, reinterpret_cast<const sockaddr*>(&control), length), 0)
      << std::strerror(errno);
  ::close(client);
  EXPECT_EQ(receive(manager, 200), "(none)");  // nothing else while it runs

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  EXPECT_EQ(receive(manager, 10000), "STOPPING=1");
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ::close(manager);
}

}  // namespace
}  // namespace braid::testing
