#include "rpc/peer_auth.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace braid::rpc {

Nonce random_nonce() {
  Nonce nonce{};
  std::size_t filled = 0;
  while (filled < nonce.size()) {
    const ssize_t n = ::getrandom(nonce.data() + filled, nonce.size() - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    filled += static_cast<std::size_t>(n);
  }
  return nonce;
}

Mac peer_mac(std::string_view secret, MacSide side, const Nonce& server_nonce,
             const Nonce& client_nonce, std::string_view name) {
  const std::string_view label =
      side == MacSide::kClient ? "braid-peer-v1 client" : "braid-peer-v1 server";
  std::string input;
  input.reserve(label.size() + 2 * kNonceBytes + name.size());
  input.append(label);
  input.append(reinterpret_cast<const char*>(server_nonce.data()), server_nonce.size());
  input.append(reinterpret_cast<const char*>(client_nonce.data()), client_nonce.size());
  input.append(name);
  Mac mac{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac.data(),
           &length) == nullptr ||
      length != mac.size()) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return mac;
}

bool same_mac(const Mac& a, const Mac& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

sched::Result<std::string> read_secret_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return sched::Error{"cluster secret file " + path + ": " + std::strerror(errno)};
  }
  struct stat st {};
  std::string secret;
  bool read_ok = ::fstat(fd, &st) == 0;
  if (read_ok && S_ISREG(st.st_mode) && st.st_size <= static_cast<off_t>(kSecretMaxBytes + 64)) {
    secret.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < secret.size()) {
      const ssize_t n = ::read(fd, secret.data() + got, secret.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        read_ok = n == 0;
        break;
      }
      got += static_cast<std::size_t>(n);
    }
    secret.resize(got);
  }
  ::close(fd);
  if (!read_ok) return sched::Error{"cluster secret file " + path + ": cannot be read"};
  if (st.st_size > static_cast<off_t>(kSecretMaxBytes + 64)) {
    return sched::Error{"cluster secret file " + path + ": larger than " +
                        std::to_string(kSecretMaxBytes) + " bytes"};
  }
  if (!S_ISREG(st.st_mode)) {
    return sched::Error{"cluster secret file " + path + ": not a regular file"};
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return sched::Error{"cluster secret file " + path +
                        ": readable by group or others (allowed: mode 0600 or 0400)"};
  }
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' ||
                             secret.back() == ' ' || secret.back() == '\t')) {
    secret.pop_back();
  }
  if (secret.size() < kSecretMinBytes || secret.size() > kSecretMaxBytes) {
    return sched::Error{"cluster secret file " + path + ": " + std::to_string(secret.size()) +
                        " bytes (allowed: " + std::to_string(kSecretMinBytes) + ".." +
                        std::to_string(kSecretMaxBytes) + ")"};
  }
  return secret;
}

}  // namespace braid::rpc
