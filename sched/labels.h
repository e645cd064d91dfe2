// Node labels and a task's label constraints (issue 11 §2, as Slurm's
// --constraint): a node has labels `KEY=VALUE` (braidd's `labels` config), a
// task may name labels it needs (`braid submit --node-label KEY=VALUE`,
// repeatable); it runs only on a node that has every one of them.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sched/result.h"

namespace braid::sched {

struct Label {
  std::string key;
  std::string value;

  bool operator==(const Label&) const = default;
};

// Limits: keys and values are 1..kLabelBytesMax of A-Z a-z 0-9 . _ - ; a
// node has, and a task needs, at most kLabelsMax labels, each key once.
constexpr std::size_t kLabelBytesMax = 63;
constexpr std::size_t kLabelsMax = 32;

// Parses "KEY=VALUE" (shape only; validate_labels checks the set). The
// error quotes the text and says what is allowed.
Result<Label> parse_label(std::string_view text);

// Checks a set of labels (a node's, or a task's constraints): the error
// names the first wrong one and the allowed shape. `what`: "node label" or
// "--node-label", the words the error uses.
Status validate_labels(const std::vector<Label>& labels, std::string_view what = "node label");

// "gpu=1,zone=a" (empty for none).
std::string format_labels(const std::vector<Label>& labels);

// The first constraint `node_labels` do not satisfy (the node lacks its key,
// or has it with another value), or nullopt when all are met.
std::optional<Label> first_unmet(const std::vector<Label>& node_labels,
                                 const std::vector<Label>& constraints);

// How unmet_labels_reason's answers start.
constexpr std::string_view kNeedsLabelPrefix = "needs node label ";

// Why a node with `node_labels` cannot run a task with `constraints`:
// "needs node label gpu=1; this node has none" ("...; this node has gpu=0"),
// or nullopt when it can.
std::optional<std::string> unmet_labels_reason(const std::vector<Label>& node_labels,
                                               const std::vector<Label>& constraints);

}  // namespace braid::sched
