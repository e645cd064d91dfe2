#include "node/toml_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <sstream>

namespace braid::node {
namespace {

std::string flag_name(std::string_view key) {
  std::string name(key);
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

// TOML scalars as the strings CLI11 parses; nullopt for tables and arrays.
std::optional<std::string> scalar(const toml::node& node) {
  if (auto s = node.value<std::string>()) return *s;
  if (node.is_boolean()) return *node.value<bool>() ? "true" : "false";
  if (node.is_integer()) return std::to_string(*node.value<std::int64_t>());
  if (node.is_floating_point()) return std::to_string(*node.value<double>());
  return std::nullopt;
}

void collect(const toml::table& table, std::vector<std::string>& parents,
             std::vector<CLI::ConfigItem>& out) {
  for (const auto& [key, node] : table) {
    const std::string name = flag_name(key.str());
    if (const toml::table* labels = node.as_table();
        labels && parents.empty() && name == "labels") {
      // `labels = { gpu = "1", zone = "a" }`: the node's labels, one --label KEY=VALUE each.
      CLI::ConfigItem item;
      item.name = "label";
      for (const auto& [label_key, value] : *labels) {
        std::optional<std::string> text = scalar(value);
        if (!text) {
          throw CLI::FileError("config key \"labels." + std::string(label_key.str()) +
                               "\" must be a string, number or boolean");
        }
        item.inputs.push_back(std::string(label_key.str()) + "=" + *text);
      }
      if (!item.inputs.empty()) out.push_back(std::move(item));
      continue;
    }
    if (const toml::table* sub = node.as_table()) {
      parents.push_back(name);
      collect(*sub, parents, out);
      parents.pop_back();
      continue;
    }
    CLI::ConfigItem item;
    item.parents = parents;
    item.name = name;
    if (const toml::array* array = node.as_array()) {
      for (const toml::node& element : *array) {
        std::optional<std::string> value = scalar(element);
        if (!value) {
          throw CLI::FileError("config key \"" + std::string(key.str()) +
                               "\" must hold strings, numbers or booleans");
        }
        item.inputs.push_back(*value);
      }
    } else {
      std::optional<std::string> value = scalar(node);
      if (!value) {
        throw CLI::FileError("config key \"" + std::string(key.str()) +
                             "\" must be a string, number or boolean");
      }
      item.inputs.push_back(*value);
    }
    out.push_back(std::move(item));
  }
}

}  // namespace

std::string TomlConfig::to_config(const CLI::App*, bool, bool, std::string) const { return ""; }

std::vector<CLI::ConfigItem> TomlConfig::from_config(std::istream& input) const {
  std::stringstream buffer;
  buffer << input.rdbuf();
  toml::table table;
  try {
    table = toml::parse(buffer.str());
  } catch (const toml::parse_error& e) {
    std::ostringstream message;
    message << "config file is not valid TOML: " << e.description() << " (line "
            << e.source().begin.line << ")";
    throw CLI::FileError(message.str());
  }
  std::vector<CLI::ConfigItem> items;
  std::vector<std::string> parents;
  collect(table, parents, items);
  return items;
}

}  // namespace braid::node
