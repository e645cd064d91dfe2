// Reading memory figures from /proc: the machine's MemAvailable and one
// process's resident set. The daemon feeds them to the torus, which stops
// starting tasks when memory runs short (sched/torus.h, "Memory").
//
// Every reader returns std::nullopt when the file is missing or does not
// parse; none of them throws.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace braid::node {

// A "Field:   N kB" line of a /proc/meminfo text, in bytes; nullopt when the
// field is absent or not in kB.
std::optional<std::uint64_t> parse_meminfo_bytes(std::string_view meminfo, std::string_view field);
// MemAvailable of a /proc/meminfo text, in bytes.
std::optional<std::uint64_t> parse_mem_available(std::string_view meminfo);
// Reads /proc/meminfo.
std::optional<std::uint64_t> read_mem_available();

// Resident pages of a /proc/<pid>/statm text (its second field), in bytes.
std::optional<std::uint64_t> parse_statm_rss(std::string_view statm, std::uint64_t page_bytes);
// Reads /proc/<pid>/statm: the process's own resident set, in bytes.
std::optional<std::uint64_t> read_rss_bytes(pid_t pid);

}  // namespace braid::node
