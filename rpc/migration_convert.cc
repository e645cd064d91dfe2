#include "rpc/migration_convert.h"

#include "rpc/convert.h"

namespace braid::rpc {
namespace {

constexpr std::size_t kShortTextMax = 255;  // names, ids, addresses, state names

sched::Result<std::string> bounded(std::string_view field, capnp::Text::Reader t,
                                   std::size_t max_bytes) {
  if (t.size() > max_bytes) {
    return sched::Error{std::string(field) + " must be at most " + std::to_string(max_bytes) +
                        " bytes, got " + std::to_string(t.size())};
  }
  return std::string(t.cStr(), t.size());
}

schema::HandoffAnswerKind to_wire(sched::HandoffAnswerKind kind) {
  switch (kind) {
    case sched::HandoffAnswerKind::kAccepted:
      return schema::HandoffAnswerKind::ACCEPTED;
    case sched::HandoffAnswerKind::kRefused:
      return schema::HandoffAnswerKind::REFUSED;
    case sched::HandoffAnswerKind::kHave:
      return schema::HandoffAnswerKind::HAVE;
    case sched::HandoffAnswerKind::kNotHave:
      return schema::HandoffAnswerKind::NOT_HAVE;
  }
  return schema::HandoffAnswerKind::REFUSED;
}

sched::Result<sched::HandoffAnswerKind> from_wire(schema::HandoffAnswerKind kind) {
  switch (kind) {
    case schema::HandoffAnswerKind::ACCEPTED:
      return sched::HandoffAnswerKind::kAccepted;
    case schema::HandoffAnswerKind::REFUSED:
      return sched::HandoffAnswerKind::kRefused;
    case schema::HandoffAnswerKind::HAVE:
      return sched::HandoffAnswerKind::kHave;
    case schema::HandoffAnswerKind::NOT_HAVE:
      return sched::HandoffAnswerKind::kNotHave;
  }
  return sched::Error{"answer kind: unknown value " + std::to_string(static_cast<int>(kind)) +
                      " (allowed: accepted, refused, have, notHave)"};
}

void to_wire(const sched::MigratingTask& task, schema::MigratingTask::Builder out) {
  out.setId(task.id);
  rpc::to_wire(task.spec, out.initSpec());
  if (task.spec.base_env) {
    out.setHasEnv(true);
    const auto& entries = task.spec.base_env->entries;
    auto env = out.initEnv(static_cast<unsigned>(entries.size()));
    for (std::size_t i = 0; i < entries.size(); ++i) env.set(static_cast<unsigned>(i), entries[i]);
  }
  out.setSubmittedAtMicros(task.submitted_at_us);
  out.setAttempts(task.attempts);
  out.setNodeRequeues(task.node_requeues);
  out.setHops(task.hops);
}

sched::Result<sched::MigratingTask> from_wire(schema::MigratingTask::Reader in) {
  sched::MigratingTask task;
  auto id = bounded("task id", in.getId(), kShortTextMax);
  if (!id) return id.error();
  task.id = std::move(id).value();
  auto spec = rpc::from_wire(in.getSpec());
  if (!spec) return sched::Error{"offered spec: " + spec.error().message};
  task.spec = std::move(spec).value();
  if (in.getHasEnv()) {
    auto env = env_from_wire(in.getEnv());
    if (!env) return env.error();
    task.spec.base_env = std::move(env).value();
  }
  task.submitted_at_us = in.getSubmittedAtMicros();
  task.attempts = in.getAttempts();
  task.node_requeues = in.getNodeRequeues();
  task.hops = in.getHops();
  return task;
}

void to_wire(const sched::OutcomeReport& report, schema::Outcome::Builder out) {
  out.setTaskId(report.task_id);
  out.setExecutor(report.executor);
  out.setState(std::string(sched::to_string(report.state)));
  if (report.exit) {
    out.setHasExit(true);
    out.setExitKind(static_cast<std::uint8_t>(report.exit->kind));
    out.setExitCode(report.exit->code);
    out.setExitError(report.exit->error);
  }
  out.setReason(report.reason);
  out.setStartedAtMicros(report.started_at_us);
  out.setFinishedAtMicros(report.finished_at_us);
  out.setAttempts(report.attempts);
  out.setCpuTimeMicros(report.cpu_time_us);
}

sched::Result<sched::OutcomeReport> from_wire(schema::Outcome::Reader in) {
  sched::OutcomeReport report;
  auto id = bounded("task id", in.getTaskId(), kShortTextMax);
  if (!id) return id.error();
  report.task_id = std::move(id).value();
  auto executor = bounded("executor", in.getExecutor(), kShortTextMax);
  if (!executor) return executor.error();
  report.executor = std::move(executor).value();
  auto state_name = bounded("state", in.getState(), kShortTextMax);
  if (!state_name) return state_name.error();
  auto state = sched::parse_task_state(state_name.value());
  if (!state) return sched::Error{"outcome state: " + state.error().message};
  report.state = state.value();
  if (in.getHasExit()) {
    if (in.getExitKind() > static_cast<std::uint8_t>(sched::ExitStatus::Kind::kSpawnFailed)) {
      return sched::Error{"exit kind: unknown value " + std::to_string(in.getExitKind()) +
                          " (allowed: 0 exited, 1 signaled, 2 spawn failed)"};
    }
    auto error = bounded("exit error", in.getExitError(), sched::kMaxReasonBytes);
    if (!error) return error.error();
    report.exit = sched::ExitStatus{static_cast<sched::ExitStatus::Kind>(in.getExitKind()),
                                    in.getExitCode(), std::move(error).value()};
  }
  auto reason = bounded("reason", in.getReason(), sched::kMaxReasonBytes);
  if (!reason) return reason.error();
  report.reason = std::move(reason).value();
  report.started_at_us = in.getStartedAtMicros();
  report.finished_at_us = in.getFinishedAtMicros();
  report.attempts = in.getAttempts();
  report.cpu_time_us = in.getCpuTimeMicros();
  return report;
}

// The body, before sched::validate().
sched::Result<sched::MigrationMessage> body_from_wire(schema::MigrationMessage::Reader in,
                                                      sched::MigrationMessage m) {
  auto body = in.getBody();
  switch (body.which()) {
    case schema::MigrationMessage::Body::OFFER: {
      auto task = from_wire(body.getOffer().getTask());
      if (!task) return task.error();
      m.body = sched::HandoffOffer{body.getOffer().getEpoch(), std::move(task).value()};
      return m;
    }
    case schema::MigrationMessage::Body::ANSWER: {
      auto a = body.getAnswer();
      auto id = bounded("task id", a.getTaskId(), kShortTextMax);
      if (!id) return id.error();
      auto kind = from_wire(a.getKind());
      if (!kind) return kind.error();
      auto reason = bounded("reason", a.getReason(), sched::kMaxReasonBytes);
      if (!reason) return reason.error();
      m.body = sched::HandoffAnswer{std::move(id).value(), a.getEpoch(), kind.value(),
                                    std::move(reason).value()};
      return m;
    }
    case schema::MigrationMessage::Body::QUERY: {
      auto id = bounded("task id", body.getQuery().getTaskId(), kShortTextMax);
      if (!id) return id.error();
      m.body = sched::HandoffQuery{std::move(id).value(), body.getQuery().getEpoch()};
      return m;
    }
    case schema::MigrationMessage::Body::OUTCOME: {
      auto report = from_wire(body.getOutcome());
      if (!report) return report.error();
      m.body = std::move(report).value();
      return m;
    }
    case schema::MigrationMessage::Body::OUTCOME_ACK: {
      auto id = bounded("task id", body.getOutcomeAck().getTaskId(), kShortTextMax);
      if (!id) return id.error();
      m.body = sched::OutcomeAck{std::move(id).value()};
      return m;
    }
    case schema::MigrationMessage::Body::WORK_REQUEST:
      m.body = sched::WorkRequest{body.getWorkRequest().getSlots()};
      return m;
    case schema::MigrationMessage::Body::CONFIRM_QUERY: {
      auto id = bounded("task id", body.getConfirmQuery().getTaskId(), kShortTextMax);
      if (!id) return id.error();
      m.body = sched::HandoffConfirmQuery{std::move(id).value(), body.getConfirmQuery().getEpoch()};
      return m;
    }
    case schema::MigrationMessage::Body::CONFIRM: {
      auto c = body.getConfirm();
      auto id = bounded("task id", c.getTaskId(), kShortTextMax);
      if (!id) return id.error();
      m.body = sched::HandoffConfirm{std::move(id).value(), c.getEpoch(), c.getGo()};
      return m;
    }
  }
  return sched::Error{
      "message body: unknown kind " + std::to_string(static_cast<int>(body.which())) +
      " (allowed: offer, answer, query, confirmQuery, confirm, outcome, outcomeAck, "
      "workRequest)"};
}

}  // namespace

void to_wire(const sched::MigrationMessage& message, schema::MigrationMessage::Builder out) {
  out.setFrom(message.from);
  out.setFromAddress(message.from_address);
  auto body = out.initBody();
  std::visit(
      [&body](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, sched::HandoffOffer>) {
          auto offer = body.initOffer();
          offer.setEpoch(b.epoch);
          to_wire(b.task, offer.initTask());
        } else if constexpr (std::is_same_v<T, sched::HandoffAnswer>) {
          auto answer = body.initAnswer();
          answer.setTaskId(b.task_id);
          answer.setEpoch(b.epoch);
          answer.setKind(to_wire(b.kind));
          answer.setReason(b.reason);
        } else if constexpr (std::is_same_v<T, sched::HandoffQuery>) {
          auto query = body.initQuery();
          query.setTaskId(b.task_id);
          query.setEpoch(b.epoch);
        } else if constexpr (std::is_same_v<T, sched::HandoffConfirmQuery>) {
          auto query = body.initConfirmQuery();
          query.setTaskId(b.task_id);
          query.setEpoch(b.epoch);
        } else if constexpr (std::is_same_v<T, sched::HandoffConfirm>) {
          auto confirm = body.initConfirm();
          confirm.setTaskId(b.task_id);
          confirm.setEpoch(b.epoch);
          confirm.setGo(b.go);
        } else if constexpr (std::is_same_v<T, sched::OutcomeReport>) {
          to_wire(b, body.initOutcome());
        } else if constexpr (std::is_same_v<T, sched::OutcomeAck>) {
          body.initOutcomeAck().setTaskId(b.task_id);
        } else {
          body.initWorkRequest().setSlots(b.slots);
        }
      },
      message.body);
}

sched::Result<sched::MigrationMessage> from_wire(schema::MigrationMessage::Reader in) {
  sched::MigrationMessage m;
  auto from = bounded("from", in.getFrom(), kShortTextMax);
  if (!from) return from.error();
  m.from = std::move(from).value();
  auto address = bounded("from address", in.getFromAddress(), kShortTextMax);
  if (!address) return address.error();
  m.from_address = std::move(address).value();
  auto out = body_from_wire(in, std::move(m));
  if (!out) return out.error();
  if (sched::Status s = sched::validate(out.value()); !s) return s.error();
  return out;
}

}  // namespace braid::rpc
