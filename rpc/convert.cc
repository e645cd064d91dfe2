#include "rpc/convert.h"

#include <algorithm>
#include <string_view>

namespace braid::rpc {
namespace {

sched::Status check_string(std::string_view field, std::string_view value) {
  if (value.size() > kStringBytesMax) {
    return sched::Error{std::string(field) + " is " + std::to_string(value.size()) +
                        " bytes; at most " + std::to_string(kStringBytesMax) + " are allowed"};
  }
  if (value.find('\0') != std::string_view::npos) {
    return sched::Error{std::string(field) + " contains a NUL byte, which no program can receive"};
  }
  return sched::ok_status();
}

sched::Result<std::vector<std::string>> strings(std::string_view field,
                                                capnp::List<capnp::Text>::Reader list,
                                                std::size_t max_entries) {
  if (list.size() > max_entries) {
    return sched::Error{std::string(field) + " has " + std::to_string(list.size()) +
                        " entries; at most " + std::to_string(max_entries) + " are allowed"};
  }
  std::vector<std::string> out;
  out.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    const capnp::Text::Reader element =
        list[static_cast<unsigned>(i)];  // read once: each read counts
    std::string_view value(element.cStr(), element.size());
    if (sched::Status s = check_string(field, value); !s) {  // name the element only then
      return sched::Error{std::string(field) + "[" + std::to_string(i) + "]" +
                          s.error().message.substr(field.size())};
    }
    out.emplace_back(value);
  }
  return out;
}

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

void set_strings(capnp::List<capnp::Text>::Builder out, const std::vector<std::string>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    out.set(static_cast<unsigned>(i), values[i]);
  }
}

std::vector<std::string> get_strings(capnp::List<capnp::Text>::Reader list) {
  std::vector<std::string> out;
  out.reserve(list.size());
  for (auto t : list) out.push_back(text(t));
  return out;
}

}  // namespace

sched::Result<sched::TaskSpec> from_wire(schema::TaskSpec::Reader spec) {
  sched::TaskSpec out;
  auto argv = strings("argv", spec.getArgv(), kArgvEntriesMax);
  if (!argv) return argv.error();
  out.argv = std::move(argv).value();
  auto env = strings("env", spec.getEnv(), kEnvEntriesMax);
  if (!env) return env.error();
  out.env = std::move(env).value();
  auto after = strings("after", spec.getAfter(), kAfterEntriesMax);
  if (!after) return after.error();
  out.after = std::move(after).value();
  auto after_any = strings("afterAny", spec.getAfterAny(), kAfterEntriesMax);
  if (!after_any) return after_any.error();
  auto after_fail = strings("afterFail", spec.getAfterFail(), kAfterEntriesMax);
  if (!after_fail) return after_fail.error();
  if (out.after.size() + after_any.value().size() + after_fail.value().size() > kAfterEntriesMax) {
    return sched::Error{"a task may name at most " + std::to_string(kAfterEntriesMax) +
                        " dependencies (after, afterAny and afterFail together)"};
  }
  for (const std::string& id : after_any.value()) out.add_dependency(id, sched::DepKind::kAny);
  for (const std::string& id : after_fail.value()) {
    out.add_dependency(id, sched::DepKind::kFail);
  }
  out.hold = spec.getHold();
  out.array_index = spec.getArrayIndex();
  out.array_throttle = spec.getArrayThrottle();
  out.cwd = text(spec.getCwd());
  if (sched::Status s = check_string("cwd", out.cwd); !s) return s.error();
  out.name = text(spec.getName());
  if (sched::Status s = check_string("name", out.name); !s) return s.error();
  out.priority = spec.getPriority();
  out.cpus = spec.getCpus();
  out.memory_bytes = spec.getMemoryBytes();
  out.retries = spec.getRetries();
  out.retry_backoff_us = spec.getRetryBackoffMicros();
  out.time_limit_us = spec.getTimeLimitMicros();
  out.pinned = spec.getPinned();
  out.array_index = spec.getArrayIndex();
  out.output = text(spec.getOutput());
  if (sched::Status s = check_string("output", out.output); !s) return s.error();
  out.separate_stderr = spec.getSeparateStderr();
  out.account = text(spec.getAccount());  // its shape is validate_spec's
  switch (spec.getRequeueOnRestart()) {
    case schema::RequeueOnRestart::NODE_DEFAULT:
      out.requeue_on_restart = sched::RequeueOnRestart::kNodeDefault;
      break;
    case schema::RequeueOnRestart::YES:
      out.requeue_on_restart = sched::RequeueOnRestart::kYes;
      break;
    case schema::RequeueOnRestart::NO:
      out.requeue_on_restart = sched::RequeueOnRestart::kNo;
      break;
    default:
      return sched::Error{"requeueOnRestart: unknown value " +
                          std::to_string(static_cast<int>(spec.getRequeueOnRestart())) +
                          " (allowed: nodeDefault, yes, no)"};
  }
  return out;
}

sched::Result<std::string> name_glob_from_wire(capnp::Text::Reader glob) {
  std::string out = text(glob);
  if (sched::Status s = check_string("name pattern", out); !s) return s.error();
  return out;
}

sched::Result<std::shared_ptr<const sched::Environment>> env_from_wire(
    capnp::List<capnp::Text>::Reader env) {
  auto entries = strings("env", env, kEnvEntriesMax);
  if (!entries) return entries.error();
  for (const std::string& entry : entries.value()) {
    if (!sched::is_env_entry(entry)) {
      return sched::Error{"environment entry \"" + entry.substr(0, 64) + "\" is not KEY=VALUE"};
    }
  }
  auto out = std::make_shared<sched::Environment>();
  out->entries = std::move(entries).value();
  return std::shared_ptr<const sched::Environment>(std::move(out));
}

sched::Result<std::vector<std::string>> ids_from_wire(capnp::List<capnp::Text>::Reader ids) {
  auto out = strings("ids", ids, kIdsPerCallMax);
  if (!out) return out;
  for (const std::string& id : out.value()) {
    if (sched::Status s = sched::validate_task_id(id); !s) return s.error();
  }
  return out;
}

void to_wire(const sched::TaskSpec& spec, schema::TaskSpec::Builder out) {
  set_strings(out.initArgv(static_cast<unsigned>(spec.argv.size())), spec.argv);
  set_strings(out.initEnv(static_cast<unsigned>(spec.env.size())), spec.env);
  if (spec.after_kinds.empty()) {
    set_strings(out.initAfter(static_cast<unsigned>(spec.after.size())), spec.after);
  } else {
    std::vector<std::string> by_kind[3];
    for (std::size_t i = 0; i < spec.after.size(); ++i) {
      by_kind[static_cast<std::size_t>(spec.dep_kind(i))].push_back(spec.after[i]);
    }
    set_strings(out.initAfter(static_cast<unsigned>(by_kind[0].size())), by_kind[0]);
    set_strings(out.initAfterAny(static_cast<unsigned>(by_kind[1].size())), by_kind[1]);
    set_strings(out.initAfterFail(static_cast<unsigned>(by_kind[2].size())), by_kind[2]);
  }
  out.setHold(spec.hold);
  out.setArrayIndex(spec.array_index);
  out.setArrayThrottle(spec.array_throttle);
  out.setCwd(spec.cwd);
  out.setName(spec.name);
  out.setPriority(spec.priority);
  out.setCpus(spec.cpus);
  out.setMemoryBytes(spec.memory_bytes);
  out.setRetries(spec.retries);
  out.setRetryBackoffMicros(spec.retry_backoff_us);
  out.setTimeLimitMicros(spec.time_limit_us);
  out.setPinned(spec.pinned);
  out.setArrayIndex(spec.array_index);
  out.setOutput(spec.output);
  out.setSeparateStderr(spec.separate_stderr);
  out.setAccount(spec.account);
  switch (spec.requeue_on_restart) {
    case sched::RequeueOnRestart::kNodeDefault:
      out.setRequeueOnRestart(schema::RequeueOnRestart::NODE_DEFAULT);
      break;
    case sched::RequeueOnRestart::kYes:
      out.setRequeueOnRestart(schema::RequeueOnRestart::YES);
      break;
    case sched::RequeueOnRestart::kNo:
      out.setRequeueOnRestart(schema::RequeueOnRestart::NO);
      break;
  }
}

void to_wire(const TaskView& task, schema::TaskInfo::Builder out) {
  out.setId(task.id);
  out.setName(task.name);
  out.setState(std::string(sched::to_string(task.state)));
  out.setNode(task.node);
  out.setPriority(task.priority);
  set_strings(out.initArgv(static_cast<unsigned>(task.argv.size())), task.argv);
  out.setHasExit(task.exit.has_value());
  out.setExitCode(-1);
  if (task.exit) {
    using Kind = sched::ExitStatus::Kind;
    if (task.exit->kind == Kind::kExited) out.setExitCode(task.exit->code);
    if (task.exit->kind == Kind::kSignaled) out.setExitSignal(task.exit->code);
  }
  out.setReason(task.reason);
  out.setCpuTimeMicros(task.cpu_time_us);
  out.setRunTimeMicros(task.run_time_us);
  out.setVruntime(task.vruntime_ns);
  out.setPreemptions(static_cast<std::uint32_t>(task.preemptions));
  out.setAttempts(static_cast<std::uint32_t>(task.attempts));
  out.setSubmittedAt(task.submitted_at_us);
  out.setStartedAt(task.started_at_us);
  out.setFinishedAt(task.finished_at_us);
  out.setPid(task.pid);
  out.setCpus(task.cpus);
  out.setRetries(task.retries);
  out.setArrayIndex(task.array_index);
  out.setNodeRequeues(static_cast<std::uint32_t>(task.node_requeues));
  out.setAccount(task.account);
  out.setHops(static_cast<std::uint32_t>(task.hops));
  out.setMovedTo(task.moved_to);
  out.setAdoptedFrom(task.adopted_from);
  auto refusals = out.initRefusals(static_cast<unsigned>(task.refusals.size()));
  for (std::size_t i = 0; i < task.refusals.size(); ++i) {
    refusals[static_cast<unsigned>(i)].setNode(task.refusals[i].node);
    refusals[static_cast<unsigned>(i)].setReason(task.refusals[i].reason);
  }
}

TaskView from_wire(schema::TaskInfo::Reader info) {
  TaskView t;
  t.id = text(info.getId());
  t.name = text(info.getName());
  auto state = sched::parse_task_state(text(info.getState()));
  t.state = state ? state.value() : sched::TaskState::kFailed;
  t.node = text(info.getNode());
  t.priority = info.getPriority();
  t.argv = get_strings(info.getArgv());
  if (info.getHasExit()) {
    if (info.getExitSignal() != 0) {
      t.exit = sched::ExitStatus::signaled(info.getExitSignal());
    } else if (info.getExitCode() >= 0) {
      t.exit = sched::ExitStatus::exited(info.getExitCode());
    } else {
      t.exit = sched::ExitStatus::spawn_failed("");
    }
  }
  t.reason = text(info.getReason());
  t.cpu_time_us = info.getCpuTimeMicros();
  t.run_time_us = info.getRunTimeMicros();
  t.vruntime_ns = info.getVruntime();
  t.preemptions = static_cast<int>(info.getPreemptions());
  t.attempts = static_cast<int>(info.getAttempts());
  t.submitted_at_us = info.getSubmittedAt();
  t.started_at_us = info.getStartedAt();
  t.finished_at_us = info.getFinishedAt();
  t.pid = info.getPid();
  t.cpus = info.getCpus();
  t.retries = info.getRetries();
  t.array_index = info.getArrayIndex();
  t.node_requeues = static_cast<int>(info.getNodeRequeues());
  t.account = text(info.getAccount());
  t.hops = static_cast<int>(info.getHops());
  t.moved_to = text(info.getMovedTo());
  t.adopted_from = text(info.getAdoptedFrom());
  for (auto r : info.getRefusals()) t.refusals.push_back({text(r.getNode()), text(r.getReason())});
  return t;
}

void to_wire(const StatsView& stats, schema::Stats::Builder out) {
  using sched::TaskState;
  const sched::TorusStats& s = stats.torus;
  out.setNode(stats.node);
  out.setTotalScheduled(s.total_scheduled);
  out.setContextSwitches(s.context_switches);
  out.setPreemptions(s.preemptions);
  out.setActiveProcesses(s.active_processes);
  out.setPolicy(std::string(sched::to_string(s.policy)));
  out.setQuantumMicros(s.quantum_micros);
  out.setPaused(s.paused);
  out.setSlots(s.slots);
  out.setSlotsBusy(s.slots_busy);
  out.setExecutor(stats.executor);
  out.setPending(s.count(TaskState::kPending));
  out.setQueued(s.count(TaskState::kQueued));
  out.setRunning(s.count(TaskState::kRunning));
  out.setStopped(s.count(TaskState::kStopped));
  out.setCompleted(s.count(TaskState::kCompleted));
  out.setFailed(s.count(TaskState::kFailed));
  out.setCancelled(s.count(TaskState::kCancelled));
  out.setHeld(s.count(TaskState::kHeld));
  out.setUptimeMicros(stats.uptime_us);
  out.setSliceCount(stats.slice_count);
  out.setSliceErrorP50Micros(stats.slice_error_p50_us);
  out.setSliceErrorP99Micros(stats.slice_error_p99_us);
  out.setMemoryTotal(stats.memory_total_bytes);
  out.setMemoryLimits(stats.memory_limits);
  out.setMemoryStarted(s.memory_started_bytes);
  out.setMemoryAvailable(s.memory_available_bytes);
  out.setBlocked(s.blocked);
  out.setIoAware(stats.io_aware);
}

StatsView from_wire(schema::Stats::Reader in) {
  using sched::TaskState;
  StatsView v;
  sched::TorusStats& s = v.torus;
  v.node = text(in.getNode());
  s.total_scheduled = in.getTotalScheduled();
  s.context_switches = in.getContextSwitches();
  s.preemptions = in.getPreemptions();
  s.active_processes = in.getActiveProcesses();
  auto policy = sched::parse_policy(text(in.getPolicy()));
  s.policy = policy ? policy.value() : sched::Policy::kFair;
  s.quantum_micros = in.getQuantumMicros();
  s.paused = in.getPaused();
  s.slots = in.getSlots();
  s.slots_busy = in.getSlotsBusy();
  v.executor = text(in.getExecutor());
  auto set = [&](TaskState st, std::uint64_t n) {
    s.tasks_by_state[static_cast<std::size_t>(st)] = n;
  };
  set(TaskState::kPending, in.getPending());
  set(TaskState::kQueued, in.getQueued());
  set(TaskState::kRunning, in.getRunning());
  set(TaskState::kStopped, in.getStopped());
  set(TaskState::kCompleted, in.getCompleted());
  set(TaskState::kFailed, in.getFailed());
  set(TaskState::kCancelled, in.getCancelled());
  set(TaskState::kHeld, in.getHeld());
  v.uptime_us = in.getUptimeMicros();
  v.slice_count = in.getSliceCount();
  v.slice_error_p50_us = in.getSliceErrorP50Micros();
  v.slice_error_p99_us = in.getSliceErrorP99Micros();
  v.memory_total_bytes = in.getMemoryTotal();
  v.memory_limits = text(in.getMemoryLimits());
  v.torus.memory_started_bytes = in.getMemoryStarted();
  v.torus.memory_available_bytes = in.getMemoryAvailable();
  v.torus.blocked = in.getBlocked();
  v.io_aware = in.getIoAware();
  return v;
}

std::optional<PriorityOp> from_wire(schema::PriorityOp op) {
  switch (op) {
    case schema::PriorityOp::SET:
      return PriorityOp::kSet;
    case schema::PriorityOp::BOOST:
      return PriorityOp::kBoost;
    case schema::PriorityOp::LOWER:
      return PriorityOp::kLower;
  }
  return std::nullopt;
}

std::optional<SchedulerOp> from_wire(schema::SchedulerOp op) {
  switch (op) {
    case schema::SchedulerOp::PAUSE:
      return SchedulerOp::kPause;
    case schema::SchedulerOp::RESUME:
      return SchedulerOp::kResume;
    case schema::SchedulerOp::TRIGGER:
      return SchedulerOp::kTrigger;
    case schema::SchedulerOp::NEXT:
      return SchedulerOp::kNext;
  }
  return std::nullopt;
}

schema::PriorityOp to_wire(PriorityOp op) {
  switch (op) {
    case PriorityOp::kSet:
      return schema::PriorityOp::SET;
    case PriorityOp::kBoost:
      return schema::PriorityOp::BOOST;
    case PriorityOp::kLower:
      return schema::PriorityOp::LOWER;
  }
  return schema::PriorityOp::SET;
}

schema::SchedulerOp to_wire(SchedulerOp op) {
  switch (op) {
    case SchedulerOp::kPause:
      return schema::SchedulerOp::PAUSE;
    case SchedulerOp::kResume:
      return schema::SchedulerOp::RESUME;
    case SchedulerOp::kTrigger:
      return schema::SchedulerOp::TRIGGER;
    case SchedulerOp::kNext:
      return schema::SchedulerOp::NEXT;
  }
  return schema::SchedulerOp::TRIGGER;
}

PeerView from_wire(schema::PeerInfo::Reader info) {
  PeerView v;
  v.name = text(info.getName());
  v.address = text(info.getAddress());
  v.state = text(info.getState());
  v.incarnation = info.getIncarnation();
  v.queued = info.getQueued();
  v.running = info.getRunning();
  v.blocked = info.getBlocked();
  v.slots = info.getSlots();
  v.free_slots = info.getFreeSlots();
  v.top_queued_priority = info.getTopQueuedPriority();
  v.accepting = info.getAccepting();
  v.age_us = info.getAgeMicros();
  v.is_self = info.getIsSelf();
  return v;
}

void to_wire(const PeerView& v, schema::PeerInfo::Builder out) {
  out.setName(v.name);
  out.setAddress(v.address);
  out.setState(v.state);
  out.setIncarnation(v.incarnation);
  out.setQueued(v.queued);
  out.setRunning(v.running);
  out.setBlocked(v.blocked);
  out.setSlots(v.slots);
  out.setFreeSlots(v.free_slots);
  out.setTopQueuedPriority(v.top_queued_priority);
  out.setAccepting(v.accepting);
  out.setAgeMicros(v.age_us);
  out.setIsSelf(v.is_self);
}

GossipCounters from_wire(schema::GossipCounters::Reader in) {
  GossipCounters c;
  c.messages_sent = in.getMessagesSent();
  c.messages_received = in.getMessagesReceived();
  c.bytes_sent = in.getBytesSent();
  c.bytes_received = in.getBytesReceived();
  c.dropped = in.getDropped();
  c.probes = in.getProbes();
  c.suspicions_raised = in.getSuspicionsRaised();
  c.deaths_declared = in.getDeathsDeclared();
  c.refutations = in.getRefutations();
  c.refused_auth = in.getRefusedAuth();
  c.invalid = in.getInvalid();
  c.health_score = in.getHealthScore();
  c.timer_fires = in.getTimerFires();
  c.timer_late_10ms = in.getTimerLate10ms();
  c.timer_late_max_us = in.getTimerLateMaxUs();
  return c;
}

void to_wire(const GossipCounters& c, schema::GossipCounters::Builder out) {
  out.setMessagesSent(c.messages_sent);
  out.setMessagesReceived(c.messages_received);
  out.setBytesSent(c.bytes_sent);
  out.setBytesReceived(c.bytes_received);
  out.setDropped(c.dropped);
  out.setProbes(c.probes);
  out.setSuspicionsRaised(c.suspicions_raised);
  out.setDeathsDeclared(c.deaths_declared);
  out.setRefutations(c.refutations);
  out.setRefusedAuth(c.refused_auth);
  out.setInvalid(c.invalid);
  out.setHealthScore(c.health_score);
  out.setTimerFires(c.timer_fires);
  out.setTimerLate10ms(c.timer_late_10ms);
  out.setTimerLateMaxUs(c.timer_late_max_us);
}

MigrationCounters from_wire(schema::MigrationCounters::Reader in) {
  MigrationCounters c;
  c.enabled = in.getEnabled();
  c.offers_made = in.getOffersMade();
  c.moved_away = in.getMovedAway();
  c.refused_by_peers = in.getRefusedByPeers();
  c.reclaimed = in.getReclaimed();
  c.adopted = in.getAdopted();
  c.refused_by_us = in.getRefusedByUs();
  c.unresolved = in.getUnresolved();
  c.outcomes_owed = in.getOutcomesOwed();
  c.outcomes_applied = in.getOutcomesApplied();
  c.outcomes_unexpected = in.getOutcomesUnexpected();
  c.forced_releases = in.getForcedReleases();
  c.held = in.getHeld();
  c.released = in.getReleased();
  c.discarded = in.getDiscarded();
  return c;
}

void to_wire(const MigrationCounters& c, schema::MigrationCounters::Builder out) {
  out.setEnabled(c.enabled);
  out.setOffersMade(c.offers_made);
  out.setMovedAway(c.moved_away);
  out.setRefusedByPeers(c.refused_by_peers);
  out.setReclaimed(c.reclaimed);
  out.setAdopted(c.adopted);
  out.setRefusedByUs(c.refused_by_us);
  out.setUnresolved(c.unresolved);
  out.setOutcomesOwed(c.outcomes_owed);
  out.setOutcomesApplied(c.outcomes_applied);
  out.setOutcomesUnexpected(c.outcomes_unexpected);
  out.setForcedReleases(c.forced_releases);
  out.setHeld(c.held);
  out.setReleased(c.released);
  out.setDiscarded(c.discarded);
}

}  // namespace braid::rpc
