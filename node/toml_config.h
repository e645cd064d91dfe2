// TomlConfig: lets CLI11 read braidd's config file with toml++ (strict TOML),
// so every config key is also a flag and flags given on the command line win.
// Keys map to long flags: `data_dir` and `data-dir` both mean --data-dir.
// The table `labels = { gpu = "1", zone = "a" }` means --label gpu=1 --label zone=a.
#pragma once

#include <CLI/CLI.hpp>

namespace braid::node {

class TomlConfig final : public CLI::Config {
 public:
  std::string to_config(const CLI::App* app, bool default_also, bool write_description,
                        std::string prefix) const override;
  // Throws CLI::ParseError (CLI::FileError) with the TOML error and its line.
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;
};

}  // namespace braid::node
