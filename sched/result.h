// Expected errors as values (LevelDB's Status habit): untrusted input is
// refused with a message that names the field and what is allowed, e.g.
// "priority must be 0..10, got 11". Impossible states are BRAID_CHECKs instead.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "sched/check.h"

namespace braid::sched {

struct Error {
  std::string message;  // one line: what is wrong and what is allowed
};

// Either a value or an Error. Small on purpose: C++20 has no std::expected.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const T& value() const& {
    BRAID_CHECK(ok(), std::get<Error>(v_).message);
    return std::get<T>(v_);
  }
  T&& value() && {
    BRAID_CHECK(ok(), std::get<Error>(v_).message);
    return std::get<T>(std::move(v_));
  }
  const Error& error() const {
    BRAID_CHECK(!ok());
    return std::get<Error>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// Result of an operation that returns nothing but may be refused.
struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace braid::sched
