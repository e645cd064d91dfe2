// Tests for HttpListener: kj::HttpServer over Asio-accepted TCP connections,
// with a real client socket on another thread and the loop driven here by
// io.run_one_for() until the client is done or a deadline passes.
#include "rpc/http_listener.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "rpc/asio_event_port.h"
#include "rpc/kj_timer.h"

namespace braid::rpc {
namespace {

using namespace std::chrono_literals;

class HelloService final : public kj::HttpService {
 public:
  explicit HelloService(const kj::HttpHeaderTable& table) : table_(table) {}
  kj::Promise<void> request(kj::HttpMethod method, kj::StringPtr url, const kj::HttpHeaders&,
                            kj::AsyncInputStream& body, Response& response) override {
    ++requests;
    auto text = kj::str(kj::str(method), " ", url);
    return body.readAllText().then([this, &response, text = kj::mv(text)](kj::String in) mutable {
      kj::HttpHeaders headers(table_);
      auto reply = kj::str(text, " ", in.size());
      auto stream = response.send(200, "OK", headers, reply.size());
      auto write = stream->write(reply.begin(), reply.size());
      return write.attach(kj::mv(stream), kj::mv(reply));
    });
  }
  int requests = 0;

 private:
  const kj::HttpHeaderTable& table_;
};

// Sends `request` to 127.0.0.1:port and returns everything until the server closes.
std::string exchange(std::uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "connect failed";
  }
  (void)!::write(fd, request.data(), request.size());
  ::shutdown(fd, SHUT_WR);  // no more requests: the server closes after answering
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof(buffer))) > 0;) out.append(buffer, n);
  ::close(fd);
  return out;
}

TEST(HttpListenerTest, ServesRequestsOnTheLoop) {
  asio::io_context io;
  AsioEventPort port(io);
  AsioKjTimer timer(io);
  kj::HttpHeaderTable table;
  HelloService service(table);
  auto opened = HttpListener::open(io, timer, table, service, "127.0.0.1", 0);
  ASSERT_TRUE(opened) << opened.error().message;
  auto listener = std::move(opened).value();
  ASSERT_NE(listener->port(), 0);

  std::atomic<bool> done{false};
  std::string answer;
  std::thread client([&] {
    answer = exchange(listener->port(),
                      "POST /a/b?c=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                      "GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done && std::chrono::steady_clock::now() < deadline) io.run_one_for(50ms);
  client.join();
  EXPECT_NE(answer.find("HTTP/1.1 200 OK"), std::string::npos) << answer;
  EXPECT_NE(answer.find("POST /a/b?c=1 5"), std::string::npos) << answer;
  EXPECT_NE(answer.find("GET /two 0"), std::string::npos) << answer;
  EXPECT_EQ(service.requests, 2);
  listener.reset();
  io.restart();
  io.poll();
}

TEST(HttpListenerTest, GarbageGetsA400AndTheLoopGoesOn) {
  asio::io_context io;
  AsioEventPort port(io);
  AsioKjTimer timer(io);
  kj::HttpHeaderTable table;
  HelloService service(table);
  auto listener = std::move(HttpListener::open(io, timer, table, service, "127.0.0.1", 0)).value();
  std::atomic<bool> done{false};
  std::string bad, good;
  std::thread client([&] {
    bad = exchange(listener->port(), "GET / HTTP/1.1\r\nno colon here\r\n\r\n");
    good = exchange(listener->port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done && std::chrono::steady_clock::now() < deadline) io.run_one_for(50ms);
  client.join();
  EXPECT_EQ(bad.rfind("HTTP/1.1 400", 0), 0u) << bad;
  EXPECT_EQ(service.requests, 1);  // only the good one reached the service
  EXPECT_NE(good.find("GET / 0"), std::string::npos) << good;
  listener.reset();
  io.restart();
  io.poll();
}

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval timeout{4, 0};  // a read past this: the server kept the connection
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

// Everything read until the server closes ("" + "TIMEOUT" when it does not within 4 s).
std::string read_to_eof(int fd) {
  std::string out;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) out.append(buffer, n);
  if (n < 0) out += "TIMEOUT";
  ::close(fd);
  return out;
}

struct AlwaysClose final : kj::HttpServerCallbacks {
  bool shouldClose() override { return true; }
};

void run_until(asio::io_context& io, const std::atomic<bool>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done && std::chrono::steady_clock::now() < deadline) io.run_one_for(50ms);
}

TEST(HttpListenerTest, AnAnswerThatClosesEndsItsConnection) {
  asio::io_context io;
  AsioEventPort port(io);
  AsioKjTimer timer(io);
  kj::HttpHeaderTable table;
  HelloService service(table);
  AlwaysClose close;
  HttpListener::Options options;
  options.callbacks = &close;
  auto listener =
      std::move(HttpListener::open(io, timer, table, service, "127.0.0.1", 0, options)).value();
  std::atomic<bool> done{false};
  std::string answer;
  std::thread client([&] {
    const int fd = connect_to(listener->port());
    const std::string request = "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";  // no shutdown
    (void)!::write(fd, request.data(), request.size());
    answer = read_to_eof(fd);
    done = true;
  });
  run_until(io, done);
  client.join();
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  EXPECT_NE(answer.find("GET /x 0"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("TIMEOUT"), std::string::npos) << answer;
  listener.reset();
  io.restart();
  io.poll();
}

TEST(HttpListenerTest, AFullListenerClosesItsOldestConnection) {
  asio::io_context io;
  AsioEventPort port(io);
  AsioKjTimer timer(io);
  kj::HttpHeaderTable table;
  HelloService service(table);
  HelloService stranger(table);
  HttpListener::Options options;
  options.max_connections = 1;
  options.stranger_service = &stranger;
  // Both peers trusted (the uid lookup is TcpPeerUid's; a root client that
  // half-closes, as exchange() does, would be a stranger there).
  options.trusted_peer = [](const auto&, const auto&) { return true; };
  auto listener =
      std::move(HttpListener::open(io, timer, table, service, "127.0.0.1", 0, options)).value();
  std::atomic<bool> held{false};
  std::atomic<bool> done{false};
  std::string oldest, newest;
  std::thread client([&] {
    const int idle = connect_to(listener->port());  // sends nothing
    held = true;
    while (held) std::this_thread::sleep_for(10ms);  // until the server has accepted it
    newest = exchange(listener->port(), "GET /new HTTP/1.1\r\nHost: x\r\n\r\n");
    oldest = read_to_eof(idle);
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!(held && listener->connections() == 1) && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(10ms);
  }
  held = false;
  run_until(io, done);
  client.join();
  EXPECT_NE(newest.find("GET /new 0"), std::string::npos) << newest;
  EXPECT_EQ(oldest, "");  // closed without an answer, not left to time out
  EXPECT_EQ(service.requests, 1);
  EXPECT_EQ(stranger.requests, 0);
  listener.reset();
  io.restart();
  io.poll();
}

// Runs `io` and reads `fd` (without blocking) until the server closes it:
// what was read, + "TIMEOUT" when it was not closed within 5 s.
std::string drain(asio::io_context& io, int fd) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return out;
    if (n > 0) {
      out.append(buffer, n);
      continue;
    }
    io.run_one_for(10ms);
  }
  return out + "TIMEOUT";
}

// Sends one request on `fd` (kept open) and runs `io` until an answer arrives.
std::string ask(asio::io_context& io, int fd, const std::string& path) {
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  (void)!::write(fd, request.data(), request.size());
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n > 0) return std::string(buffer, n);
    if (n == 0 || errno != EAGAIN) return "closed";
    io.run_one_for(10ms);
  }
  return "TIMEOUT";
}

TEST(HttpListenerTest, AStrangerNeverEndsATrustedConnection) {
  asio::io_context io;
  AsioEventPort port(io);
  AsioKjTimer timer(io);
  kj::HttpHeaderTable table;
  HelloService service(table);
  HelloService stranger(table);
  // The peers' verdicts in the order they connect (T: trusted, S: stranger).
  const std::string verdicts = "TSSTST";
  std::size_t accepted = 0;
  HttpListener::Options options;
  options.max_connections = 2;
  options.stranger_service = &stranger;
  options.trusted_peer = [&](const asio::ip::tcp::endpoint&, const asio::ip::tcp::endpoint&) {
    return verdicts.at(accepted++) == 'T';
  };
  auto listener =
      std::move(HttpListener::open(io, timer, table, service, "127.0.0.1", 0, options)).value();
  // Connects and runs `io` until the listener has looked the peer up.
  auto next = [&] {
    const int fd = connect_to(listener->port());
    const std::size_t before = accepted;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (accepted == before && std::chrono::steady_clock::now() < deadline) {
      io.run_one_for(10ms);
    }
    return fd;
  };
  const int t1 = next();
  const int s1 = next();
  const int s2 = next();  // full: the oldest stranger goes
  EXPECT_EQ(drain(io, s1), "");
  const int t2 = next();  // full: the oldest stranger goes, not t1
  EXPECT_EQ(drain(io, s2), "");
  const int s3 = next();  // full of trusted connections: refused
  EXPECT_EQ(drain(io, s3), "");
  EXPECT_EQ(listener->connections(), 2u);
  EXPECT_NE(ask(io, t1, "/t1").find("GET /t1 0"), std::string::npos);
  EXPECT_NE(ask(io, t2, "/t2").find("GET /t2 0"), std::string::npos);
  const int t3 = next();  // full, no stranger: the oldest connection goes
  EXPECT_EQ(drain(io, t1), "");
  EXPECT_NE(ask(io, t3, "/t3").find("GET /t3 0"), std::string::npos);
  EXPECT_NE(ask(io, t2, "/t2").find("GET /t2 0"), std::string::npos);
  EXPECT_EQ(accepted, verdicts.size());
  EXPECT_EQ(service.requests, 4);
  EXPECT_EQ(stranger.requests, 0);
  for (int fd : {t1, s1, s2, t2, s3, t3}) ::close(fd);
  listener.reset();
  io.restart();
  io.poll();
}

TEST(HttpListenerTest, NothingPipelinedAfterAClosingAnswerIsServed) {
  asio::io_context io;
  AsioEventPort port(io);
  AsioKjTimer timer(io);
  kj::HttpHeaderTable table;
  HelloService service(table);
  AlwaysClose close;
  HttpListener::Options options;
  options.callbacks = &close;
  auto listener =
      std::move(HttpListener::open(io, timer, table, service, "127.0.0.1", 0, options)).value();
  const int fd = connect_to(listener->port());
  const std::string requests =
      "GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n";
  (void)!::write(fd, requests.data(), requests.size());  // one write: kj reads both at once
  const std::string answer = drain(io, fd);
  ::close(fd);
  EXPECT_NE(answer.find("GET /first 0"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("/second"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("TIMEOUT"), std::string::npos) << answer;
  EXPECT_EQ(service.requests, 1);
  listener.reset();
  io.restart();
  io.poll();
}

TEST(HttpListenerTest, AnAddressInUseIsOneLine) {
  asio::io_context io;
  AsioEventPort port(io);
  AsioKjTimer timer(io);
  kj::HttpHeaderTable table;
  HelloService service(table);
  auto first = std::move(HttpListener::open(io, timer, table, service, "127.0.0.1", 0)).value();
  auto second = HttpListener::open(io, timer, table, service, "127.0.0.1", first->port());
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("cannot listen on 127.0.0.1:"), std::string::npos)
      << second.error().message;
  auto bad_host = HttpListener::open(io, timer, table, service, "example.org", 80);
  ASSERT_FALSE(bad_host);
  EXPECT_NE(bad_host.error().message.find("IP address"), std::string::npos);
}

}  // namespace
}  // namespace braid::rpc
