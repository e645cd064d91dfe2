// Human durations for flags, config and messages: "250us", "10ms", "1.5s",
// "2m", "1h". A bare number is refused: the unit is always explicit.
#pragma once

#include <string>
#include <string_view>

#include "sched/result.h"
#include "sched/types.h"

namespace braid::sched {

// Parses "<number><unit>" with unit us|ms|s|m|h; the number may have a
// fractional part. The result is rounded to whole microseconds and must be
// >= 0. Errors name the text and the accepted units.
Result<Micros> parse_duration(std::string_view text);

// Shortest exact rendering in the largest fitting unit: 10000 -> "10ms",
// 1500000 -> "1500ms", 3000000 -> "3s", 7 -> "7us".
std::string format_duration(Micros us);

}  // namespace braid::sched
