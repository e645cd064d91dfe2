// Helpers shared by storage/ unit tests only.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "storage/store.h"
#include "storage/task_record.h"

namespace braid::storage::testing {

// A fresh directory under /tmp, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/braid-storage-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Lower-case hex of `bytes`, for comparing encodings with golden values.
inline std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out.push_back(kDigits[static_cast<unsigned char>(c) >> 4]);
    out.push_back(kDigits[static_cast<unsigned char>(c) & 0xf]);
  }
  return out;
}

// Every file under `dir` (relative path -> contents): equal snapshots mean
// nothing was added, removed or changed.
inline std::map<std::string, std::string> snapshot(const std::filesystem::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string name = std::filesystem::relative(entry.path(), dir).string();
    files[name] = entry.is_regular_file() ? read_file(entry.path()) : "<dir>";
  }
  return files;
}

// A typical small record: submitted, not started.
inline TaskRecord typical_record(std::uint64_t record_no) {
  TaskRecord record;
  record.record_no = record_no;
  record.task.id = "node:" + std::to_string(record_no);
  record.task.spec.argv = {"sleep", "1"};
  record.task.submitted_at_us = 1'700'000'000'000'000 + static_cast<std::int64_t>(record_no);
  return record;
}

// Store::open that must succeed (a test failure otherwise, and nullptr).
inline std::unique_ptr<Store> open_ok(const std::filesystem::path& dir) {
  sched::Result<std::unique_ptr<Store>> store = Store::open(dir);
  EXPECT_TRUE(store) << store.error().message;
  return store ? std::move(store).value() : nullptr;
}

}  // namespace braid::storage::testing
