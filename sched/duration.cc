#include "sched/duration.h"

#include <array>
#include <charconv>
#include <cmath>
#include <utility>

namespace braid::sched {
namespace {

struct Unit {
  std::string_view suffix;
  Micros us;
};

// Longest suffixes first so "ms" is not read as "m" + "s".
constexpr std::array<Unit, 5> kUnits{{{"us", 1},
                                      {"ms", kMicrosPerMilli},
                                      {"s", kMicrosPerSecond},
                                      {"m", 60 * kMicrosPerSecond},
                                      {"h", 3600 * kMicrosPerSecond}}};

Error bad(std::string_view text) {
  return Error{"invalid duration \"" + std::string(text) +
               "\": use a number and a unit (us, ms, s, m, h), e.g. 10ms"};
}

}  // namespace

Result<Micros> parse_duration(std::string_view text) {
  for (const Unit& unit : kUnits) {
    if (text.size() <= unit.suffix.size() || !text.ends_with(unit.suffix)) continue;
    std::string_view number = text.substr(0, text.size() - unit.suffix.size());
    // "5ms" also ends with "s": only accept when the rest is a clean number.
    double value = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc() || end != number.data() + number.size()) continue;
    if (!std::isfinite(value) || value < 0) return bad(text);
    double us = std::round(value * static_cast<double>(unit.us));
    if (us > 9.0e18) return bad(text);
    return static_cast<Micros>(us);
  }
  return bad(text);
}

std::string format_duration(Micros us) {
  if (us == 0) return "0s";
  for (auto it = kUnits.rbegin(); it != kUnits.rend(); ++it) {
    if (us % it->us == 0) return std::to_string(us / it->us) + std::string(it->suffix);
  }
  return std::to_string(us) + "us";
}

}  // namespace braid::sched
