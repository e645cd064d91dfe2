#include "sched/labels.h"

#include <algorithm>

#include "sched/task.h"

namespace braid::sched {
namespace {

bool is_label_part(std::string_view s) {
  return !s.empty() && s.size() <= kLabelBytesMax && std::all_of(s.begin(), s.end(), is_name_char);
}

std::string shown(std::string_view text) {
  std::string s(text.substr(0, 80));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return s + (text.size() > 80 ? "..." : "");
}

constexpr std::string_view kShape = "KEY=VALUE, each 1..63 of A-Z a-z 0-9 . _ -";

}  // namespace

Result<Label> parse_label(std::string_view text) {
  const std::size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return Error{"label \"" + shown(text) + "\" must look like " + std::string(kShape)};
  }
  Label label{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
  if (!is_label_part(label.key) || !is_label_part(label.value)) {
    return Error{"label \"" + shown(text) + "\" must look like " + std::string(kShape)};
  }
  return label;
}

Status validate_labels(const std::vector<Label>& labels, std::string_view what) {
  if (labels.size() > kLabelsMax) {
    return Error{"at most " + std::to_string(kLabelsMax) + " " + std::string(what) +
                 "s are allowed, got " + std::to_string(labels.size())};
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const Label& l = labels[i];
    if (!is_label_part(l.key) || !is_label_part(l.value)) {
      return Error{std::string(what) + " \"" + shown(l.key) + "=" + shown(l.value) +
                   "\" must look like " + std::string(kShape)};
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (labels[j].key == l.key) {
        return Error{std::string(what) + " key \"" + l.key + "\" is given twice (" + labels[j].key +
                     "=" + labels[j].value + ", " + l.key + "=" + l.value +
                     "): each key at most once"};
      }
    }
  }
  return ok_status();
}

std::string format_labels(const std::vector<Label>& labels) {
  std::string out;
  for (const Label& l : labels) {
    if (!out.empty()) out += ',';
    out += l.key + "=" + l.value;
  }
  return out;
}

std::optional<Label> first_unmet(const std::vector<Label>& node_labels,
                                 const std::vector<Label>& constraints) {
  for (const Label& c : constraints) {
    if (std::find(node_labels.begin(), node_labels.end(), c) == node_labels.end()) return c;
  }
  return std::nullopt;
}

std::optional<std::string> unmet_labels_reason(const std::vector<Label>& node_labels,
                                               const std::vector<Label>& constraints) {
  const std::optional<Label> unmet = first_unmet(node_labels, constraints);
  if (!unmet) return std::nullopt;
  std::string reason =
      std::string(kNeedsLabelPrefix) + unmet->key + "=" + unmet->value + "; this node has ";
  const auto same_key = std::find_if(node_labels.begin(), node_labels.end(),
                                     [&](const Label& l) { return l.key == unmet->key; });
  if (same_key == node_labels.end()) return reason + "none";
  return reason + same_key->key + "=" + same_key->value;
}

}  // namespace braid::sched
