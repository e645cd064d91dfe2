#include "node/sd_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "node/test_temp_dir.h"

namespace braid::node {
namespace {

// A real datagram socket standing in for systemd's notify socket, bound to
// `name` as $NOTIFY_SOCKET spells it (a path, or '@' for an abstract name).
class FakeManager {
 public:
  explicit FakeManager(const std::string& name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name.data(), name.size());
    socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    if (name[0] == '@') {
      address.sun_path[0] = '\0';
    } else {
      length += 1;
    }
    bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) == 0;
  }
  ~FakeManager() { ::close(fd_); }
  bool bound() const { return bound_; }

  // The next datagram, or "(none)" after 5 s.
  std::string receive() const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return "(none)";
    char buffer[512];
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    return n < 0 ? "(error)" : std::string(buffer, static_cast<std::size_t>(n));
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

TEST(SdNotify, SendsEachStateAsOneDatagramToAPathSocket) {
  testing::TempDir dir("braid-sdnotify");
  ASSERT_FALSE(dir.path().empty());
  const std::string path = (dir.path() / "notify").string();
  FakeManager manager(path);
  ASSERT_TRUE(manager.bound());
  SdNotify notify(path);
  ASSERT_TRUE(notify.enabled());
  ASSERT_TRUE(notify.send("READY=1"));
  ASSERT_TRUE(notify.send("STOPPING=1"));
  EXPECT_EQ(manager.receive(), "READY=1");
  EXPECT_EQ(manager.receive(), "STOPPING=1");
}

TEST(SdNotify, ReachesAnAbstractSocket) {
  const std::string name = "@braid-sdnotify-test-" + std::to_string(::getpid());
  FakeManager manager(name);
  ASSERT_TRUE(manager.bound());
  SdNotify notify(name);
  auto sent = notify.send("READY=1");
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(manager.receive(), "READY=1");
}

TEST(SdNotify, TakesTheSocketFromTheEnvironmentAndHidesItFromChildren) {
  testing::TempDir dir("braid-sdnotify");
  const std::string path = (dir.path() / "notify").string();
  FakeManager manager(path);
  ASSERT_TRUE(manager.bound());
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  const SdNotify notify = SdNotify::from_environment();
  EXPECT_EQ(std::getenv("NOTIFY_SOCKET"), nullptr);  // tasks must not inherit it
  EXPECT_EQ(notify.socket(), path);
  ASSERT_TRUE(notify.send("READY=1"));
  EXPECT_EQ(manager.receive(), "READY=1");
}

TEST(SdNotify, WithoutAServiceManagerDoesNothing) {
  ::unsetenv("NOTIFY_SOCKET");
  const SdNotify notify = SdNotify::from_environment();
  EXPECT_FALSE(notify.enabled());
  EXPECT_TRUE(notify.send("READY=1"));
}

TEST(SdNotify, NamesTheSocketWhenItCannotSend) {
  auto relative = SdNotify("notify").send("READY=1");
  ASSERT_FALSE(relative);
  EXPECT_NE(relative.error().message.find("NOTIFY_SOCKET notify: must be an absolute path"),
            std::string::npos);
  auto missing = SdNotify("/nonexistent/braid/notify").send("READY=1");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("No such file or directory"), std::string::npos)
      << missing.error().message;
  auto too_long = SdNotify("/" + std::string(200, 'x')).send("READY=1");
  ASSERT_FALSE(too_long);
  EXPECT_NE(too_long.error().message.find("longer than 107 bytes"), std::string::npos);
}

}  // namespace
}  // namespace braid::node
