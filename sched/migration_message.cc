#include "sched/migration_message.h"

#include <algorithm>

namespace braid::sched {
namespace {

constexpr std::size_t kNodeNameMax = 63;  // as a task id's NODE part
constexpr std::size_t kAddressMax = 96;   // "HOST:PORT", as gossip's

bool is_node_name(std::string_view name) {
  return !name.empty() && name.size() <= kNodeNameMax &&
         std::all_of(name.begin(), name.end(), is_name_char);
}

bool is_address(std::string_view address) {
  const std::size_t colon = address.rfind(':');
  if (address.size() < 3 || address.size() > kAddressMax || colon == std::string_view::npos ||
      colon == 0 || colon + 1 == address.size()) {
    return false;
  }
  return std::all_of(address.begin(), address.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

Status check_reason(std::string_view reason) {
  if (reason.size() > kMaxReasonBytes) {
    return Error{"reason must be at most " + std::to_string(kMaxReasonBytes) + " bytes, got " +
                 std::to_string(reason.size())};
  }
  if (reason.find('\n') != std::string_view::npos) return Error{"reason must be one line"};
  return ok_status();
}

Status check(const HandoffOffer& offer) {
  const MigratingTask& t = offer.task;
  if (auto s = validate_task_id(t.id); !s) return s;
  if (auto s = validate_spec(t.spec); !s) return Error{"offered spec: " + s.error().message};
  if (t.attempts < 0 || t.node_requeues < 0 || t.node_requeues > t.attempts) {
    return Error{"attempts must be >= node_requeues >= 0, got " + std::to_string(t.attempts) +
                 " and " + std::to_string(t.node_requeues)};
  }
  if (t.hops < 1 || t.hops > 255) {
    return Error{"hops must be 1..255, got " + std::to_string(t.hops)};
  }
  return ok_status();
}

Status check(const HandoffAnswer& answer) {
  if (auto s = validate_task_id(answer.task_id); !s) return s;
  if (answer.kind > HandoffAnswerKind::kNotHave) {
    return Error{"unknown answer kind " + std::to_string(static_cast<int>(answer.kind)) +
                 " (allowed: accepted, refused, have, not-have)"};
  }
  return check_reason(answer.reason);
}

Status check(const HandoffQuery& query) { return validate_task_id(query.task_id); }

Status check(const HandoffConfirmQuery& query) { return validate_task_id(query.task_id); }

Status check(const HandoffConfirm& confirm) { return validate_task_id(confirm.task_id); }

Status check(const OutcomeReport& report) {
  if (auto s = validate_task_id(report.task_id); !s) return s;
  if (!is_node_name(report.executor)) {
    return Error{"executor must be a node name (1..63 of A-Z a-z 0-9 . _ -)"};
  }
  if (!is_terminal(report.state)) {
    return Error{"an outcome's state must be completed, failed or cancelled, got " +
                 std::string(to_string(report.state))};
  }
  if (report.attempts < 0) return Error{"attempts must be >= 0"};
  return check_reason(report.reason);
}

Status check(const OutcomeAck& ack) { return validate_task_id(ack.task_id); }

Status check(const WorkRequest& request) {
  if (request.slots < 1 || request.slots > kMaxRequestedSlots) {
    return Error{"slots must be 1.." + std::to_string(kMaxRequestedSlots) + ", got " +
                 std::to_string(request.slots)};
  }
  return ok_status();
}

}  // namespace

std::string_view to_string(HandoffAnswerKind kind) {
  switch (kind) {
    case HandoffAnswerKind::kAccepted:
      return "accepted";
    case HandoffAnswerKind::kRefused:
      return "refused";
    case HandoffAnswerKind::kHave:
      return "have";
    case HandoffAnswerKind::kNotHave:
      return "not-have";
  }
  return "unknown";
}

Status validate(const MigrationMessage& message) {
  if (!is_node_name(message.from)) {
    return Error{"from must be a node name (1..63 of A-Z a-z 0-9 . _ -)"};
  }
  if (!is_address(message.from_address)) {
    return Error{"from_address must be HOST:PORT (at most 96 printable bytes)"};
  }
  return std::visit([](const auto& body) { return check(body); }, message.body);
}

}  // namespace braid::sched
