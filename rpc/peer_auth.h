// Peer authentication: HMAC-SHA256 challenge-response over the cluster
// secret (rpc/peer.capnp, Gate). Both sides prove they hold the secret
// without sending it; nonces from both sides make a recorded exchange
// useless for another connection.
//
//   client mac = HMAC(secret, "braid-peer-v1 client" | server_nonce | client_nonce | name)
//   server mac = HMAC(secret, "braid-peer-v1 server" | server_nonce | client_nonce | name)
//
// Secrets come from a file (cluster_secret_file): its bytes with trailing
// whitespace removed, kSecretMinBytes..kSecretMaxBytes, and the file must
// not be readable by group or others.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "sched/result.h"

namespace braid::rpc {

constexpr std::size_t kNonceBytes = 32;
constexpr std::size_t kMacBytes = 32;  // SHA-256
constexpr std::size_t kSecretMinBytes = 16;
constexpr std::size_t kSecretMaxBytes = 4096;

using Nonce = std::array<std::uint8_t, kNonceBytes>;
using Mac = std::array<std::uint8_t, kMacBytes>;

// A fresh random nonce (getrandom(2)).
Nonce random_nonce();

enum class MacSide : std::uint8_t { kClient, kServer };
Mac peer_mac(std::string_view secret, MacSide side, const Nonce& server_nonce,
             const Nonce& client_nonce, std::string_view name);

// Constant-time comparison (a wrong mac takes as long as a right one).
bool same_mac(const Mac& a, const Mac& b);

// The secret in `path` (see above), or why it cannot be used.
sched::Result<std::string> read_secret_file(const std::string& path);

}  // namespace braid::rpc
