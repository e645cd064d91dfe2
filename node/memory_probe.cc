#include "node/memory_probe.h"

#include <unistd.h>

#include <charconv>
#include <string>

#include "node/proc_stat.h"

namespace braid::node {
namespace {

// The unsigned number at the start of `text` after spaces; nullopt if none.
std::optional<std::uint64_t> leading_number(std::string_view text) {
  const std::size_t start = text.find_first_not_of(' ');
  if (start == std::string_view::npos) return std::nullopt;
  std::uint64_t value = 0;
  const char* first = text.data() + start;
  const auto [end, ec] = std::from_chars(first, text.data() + text.size(), value);
  if (ec != std::errc() || end == first) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::uint64_t> parse_meminfo_bytes(std::string_view meminfo, std::string_view field) {
  const std::string key = std::string(field) + ":";
  std::size_t at = meminfo.find(key);
  while (at != std::string_view::npos && at > 0 && meminfo[at - 1] != '\n') {
    at = meminfo.find(key, at + 1);
  }
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = meminfo.substr(at + key.size());
  rest = rest.substr(0, rest.find('\n'));
  std::optional<std::uint64_t> kib = leading_number(rest);
  if (!kib || rest.find(" kB") == std::string_view::npos) return std::nullopt;
  return *kib * 1024;  // the kernel writes "kB", meaning KiB
}

std::optional<std::uint64_t> parse_mem_available(std::string_view meminfo) {
  return parse_meminfo_bytes(meminfo, "MemAvailable");
}

std::optional<std::uint64_t> read_mem_available() {
  std::optional<std::string> text = read_small_file("/proc/meminfo");  // proc_stat.h
  if (!text) return std::nullopt;
  return parse_mem_available(*text);
}

std::optional<std::uint64_t> parse_statm_rss(std::string_view statm, std::uint64_t page_bytes) {
  const std::size_t space = statm.find(' ');
  if (space == std::string_view::npos || !leading_number(statm)) return std::nullopt;
  std::optional<std::uint64_t> pages = leading_number(statm.substr(space + 1));
  if (!pages) return std::nullopt;
  return *pages * page_bytes;
}

std::optional<std::uint64_t> read_rss_bytes(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/statm";
  std::optional<std::string> text = read_small_file(path.c_str());
  if (!text) return std::nullopt;
  static const auto kPageBytes = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  return parse_statm_rss(*text, kPageBytes);
}

}  // namespace braid::node
