// Lifetime: the one guard every Asio handler and posted callback of an
// object holds. A handler that completes after its owner is gone (a timer
// whose completion was already queued when the owner cancelled it, a post
// from another thread) must do nothing; guard() makes it so.
//
// Usage: a member `Lifetime lifetime_;` declared LAST (destroyed first), and
// `timer.async_wait(lifetime_.guard([this](const std::error_code& ec) {...}))`.
// The guarded handler may be copied and called from any thread, but it only
// runs `f` while the owner lives; owners that are touched from one thread only
// must also run their handlers on that thread (post to the loop first).
#pragma once

#include <memory>
#include <utility>

namespace braid::node {

class Lifetime final {
 public:
  Lifetime() = default;
  Lifetime(const Lifetime&) = delete;
  Lifetime& operator=(const Lifetime&) = delete;

  // `f` wrapped so that calling it once the Lifetime is destroyed does nothing.
  template <typename F>
  auto guard(F f) const {
    return [token = std::weak_ptr<const bool>(token_), f = std::move(f)](auto&&... args) mutable {
      if (token.expired()) return;
      f(std::forward<decltype(args)>(args)...);
    };
  }
  // Whether a guard taken now still runs later; for callers that keep a
  // token themselves (e.g. kj::defer).
  std::weak_ptr<const bool> token() const { return token_; }

 private:
  std::shared_ptr<const bool> token_ = std::make_shared<const bool>(true);
};

}  // namespace braid::node
