#include "rpc/control_server.h"

#include <memory>
#include <string>
#include <vector>

#include "rpc/convert.h"

namespace braid::rpc {
namespace {

template <typename Builder>
void fill_tasks(Builder results, const std::vector<TaskView>& tasks) {
  auto list = results.initTasks(static_cast<unsigned>(tasks.size()));
  for (std::size_t i = 0; i < tasks.size(); ++i) to_wire(tasks[i], list[static_cast<unsigned>(i)]);
}

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

}  // namespace

namespace {

// Specs converted per loop turn: a 100000-task submission must not hold the
// loop (other clients' calls, timers, exits) for more than a few ms at once.
// The KJ port checks its 1 ms budget only every 32 turns, so one Asio handler
// converts up to 32 chunks: at 1000 specs (~0.5 ms each) that held the loop
// ~16 ms at once, and a `stats` call waits for several such handlers.
constexpr std::size_t kSpecsPerTurn = 200;  // ~0.1 ms

struct Conversion {
  // Read once: following the list pointer again would count the whole list
  // against the message's traversal limit again.
  capnp::List<schema::TaskSpec>::Reader specs_in;
  std::vector<sched::TaskSpec> specs;
  std::shared_ptr<const sched::Environment> env;  // every spec starts from it
  std::string error;
};

// Converts the submission's specs a turn at a time (kj::evalLater between
// chunks lets every other event in). The params stay valid while `context` lives.
kj::Promise<void> convert_specs(
    capnp::CallContext<schema::Control::SubmitParams, schema::Control::SubmitResults> context,
    std::shared_ptr<Conversion> state) {
  const auto& specs_in = state->specs_in;
  const std::size_t end =
      std::min<std::size_t>(state->specs.size() + kSpecsPerTurn, specs_in.size());
  for (std::size_t i = state->specs.size(); i < end; ++i) {
    auto spec = from_wire(specs_in[static_cast<unsigned>(i)]);
    if (!spec) {
      state->error = specs_in.size() == 1
                         ? spec.error().message
                         : "task " + std::to_string(i + 1) + ": " + spec.error().message;
      return kj::READY_NOW;
    }
    state->specs.push_back(std::move(spec).value());
    state->specs.back().base_env = state->env;
  }
  if (end == specs_in.size()) return kj::READY_NOW;
  return kj::evalLater([context, state]() mutable { return convert_specs(context, state); });
}

}  // namespace

kj::Promise<void> ControlServer::submit(SubmitContext context) {
  auto specs_in = context.getParams().getSpecs();
  if (specs_in.size() > kSpecsPerSubmitMax) {
    context.getResults().setError("a submission holds at most " +
                                  std::to_string(kSpecsPerSubmitMax) + " tasks, got " +
                                  std::to_string(specs_in.size()));
    return kj::READY_NOW;
  }
  auto state = std::make_shared<Conversion>();
  if (context.getParams().getHasEnv()) {
    auto env = env_from_wire(context.getParams().getEnv());
    if (!env) {
      context.getResults().setError(env.error().message);
      return kj::READY_NOW;
    }
    state->env = std::move(env).value();
  }
  state->specs_in = specs_in;
  state->specs.reserve(specs_in.size());
  return convert_specs(context, state).then([this, context, state]() mutable -> kj::Promise<void> {
    if (!state->error.empty()) {
      context.getResults().setError(state->error);
      return kj::READY_NOW;
    }
    if (backend_gone()) {  // the node stopped while the specs were converted
      context.getResults().setError("the node is shutting down: nothing was submitted");
      return kj::READY_NOW;
    }
    return backend_.submit(std::move(state->specs))
        .then([context](kj::Own<SubmitOutcome> outcome) mutable {
          auto results = context.getResults();
          if (!outcome->error.empty()) {
            results.setError(outcome->error);
            return;
          }
          auto out = results.initIds(static_cast<unsigned>(outcome->ids.size()));
          for (std::size_t i = 0; i < outcome->ids.size(); ++i) {
            out.set(static_cast<unsigned>(i), outcome->ids[i]);
          }
        });
  });
}

kj::Promise<void> ControlServer::list(ListContext context) {
  auto params = context.getParams();
  auto results = context.getResults();
  ListQuery query;
  query.all = params.getAll();
  if (params.hasState() && params.getState().size() > 0) {
    auto parsed = sched::parse_task_state(text(params.getState()));
    if (!parsed) {
      results.setError(parsed.error().message);
      return kj::READY_NOW;
    }
    query.state = parsed.value();
  }
  auto glob = name_glob_from_wire(params.getName());
  if (!glob) {
    results.setError(glob.error().message);
    return kj::READY_NOW;
  }
  query.name_glob = std::move(glob).value();
  query.after = params.getAfter();
  query.limit = std::min(params.getLimit() == 0 ? kListPageMax : params.getLimit(), kListPageMax);
  query.cluster = params.getCluster();
  if (query.cluster) {
    context.allowCancellation();
    return backend_.list_cluster(query).then([context](kj::Own<ListReply> reply) mutable {
      auto results = context.getResults();
      if (!reply->error.empty()) {
        results.setError(reply->error);
        return;
      }
      fill_tasks(results, reply->page.tasks);
      results.setNext(reply->page.next);
      const auto& errors = reply->page.peer_errors;
      auto out = results.initPeerErrors(static_cast<unsigned>(errors.size()));
      for (std::size_t i = 0; i < errors.size(); ++i) out.set(static_cast<unsigned>(i), errors[i]);
    });
  }
  auto page = backend_.list(query);
  if (!page) {
    results.setError(page.error().message);
  } else {
    fill_tasks(results, page.value().tasks);
    results.setNext(page.value().next);
  }
  return kj::READY_NOW;
}

kj::Promise<void> ControlServer::show(ShowContext context) {
  auto results = context.getResults();
  auto ids = ids_from_wire(context.getParams().getIds());
  if (!ids) {
    results.setError(ids.error().message);
    return kj::READY_NOW;
  }
  auto tasks = backend_.show(ids.value());
  if (!tasks) {
    results.setError(tasks.error().message);
  } else {
    fill_tasks(results, tasks.value());
  }
  return kj::READY_NOW;
}

kj::Promise<void> ControlServer::wait(WaitContext context) {
  // A client that goes away mid-wait cancels it (capnp 0.9 keeps calls alive otherwise).
  context.allowCancellation();
  auto params = context.getParams();
  auto ids = ids_from_wire(params.getIds());
  if (!ids) {
    context.getResults().setError(ids.error().message);
    return kj::READY_NOW;
  }
  if (params.getTimeoutMicros() < 0 || params.getTimeoutMicros() > sched::kTimeLimitMaxUs) {
    context.getResults().setError("timeout must be 0 (wait for ever) .. 366 days");
    return kj::READY_NOW;
  }
  return backend_.wait(std::move(ids).value(), params.getTimeoutMicros())
      .then([context](kj::Own<WaitOutcome> outcome) mutable {
        auto results = context.getResults();
        if (!outcome->error.empty()) {
          results.setError(outcome->error);
          return;
        }
        results.setTimedOut(outcome->timed_out);
        fill_tasks(results, outcome->tasks);
      });
}

kj::Promise<void> ControlServer::cancel(CancelContext context) {
  auto ids = ids_from_wire(context.getParams().getIds());
  sched::Status s = ids ? backend_.cancel(ids.value()) : sched::Status(ids.error());
  if (!s) context.getResults().setError(s.error().message);
  return kj::READY_NOW;
}

kj::Promise<void> ControlServer::hold(HoldContext context) {
  auto ids = ids_from_wire(context.getParams().getIds());
  sched::Status s = ids ? backend_.hold(ids.value(), context.getParams().getRelease())
                        : sched::Status(ids.error());
  if (!s) context.getResults().setError(s.error().message);
  return kj::READY_NOW;
}

kj::Promise<void> ControlServer::readLog(ReadLogContext context) {
  auto params = context.getParams();
  const std::uint32_t max_bytes = std::min(params.getMaxBytes(), kLogChunkBytesMax);
  context.allowCancellation();
  // Wherever the task is (a moved task's log comes from the node that has it).
  return backend_
      .read_log_anywhere(text(params.getId()), params.getStderr(), params.getOffset(), max_bytes)
      .then([context](kj::Own<LogReply> reply) mutable {
        auto results = context.getResults();
        if (!reply->error.empty()) {
          results.setError(reply->error);
          return;
        }
        const std::string& data = reply->chunk.data;
        results.setData(
            kj::arrayPtr(reinterpret_cast<const capnp::byte*>(data.data()), data.size()));
        results.setFinished(reply->chunk.finished);
      });
}

kj::Promise<void> ControlServer::peers(PeersContext context) {
  const PeersView view = backend_.peers();
  auto results = context.getResults();
  results.setListen(view.listen);
  to_wire(view.gossip, results.initGossip());
  to_wire(view.migration, results.initMigration());
  auto members = results.initMembers(static_cast<unsigned>(view.members.size()));
  for (std::size_t i = 0; i < view.members.size(); ++i) {
    to_wire(view.members[i], members[static_cast<unsigned>(i)]);
  }
  return kj::READY_NOW;
}

kj::Promise<void> ControlServer::drain(DrainContext context) {
  auto view = backend_.drain(context.getParams().getCancel(), context.getParams().getQuery());
  auto results = context.getResults();
  if (!view) {
    results.setError(view.error().message);
    return kj::READY_NOW;
  }
  auto state = results.initState();
  state.setDraining(view.value().draining);
  state.setMigrate(view.value().migrate);
  state.setQueued(view.value().queued);
  state.setStaying(view.value().staying);
  state.setRunning(view.value().running);
  return kj::READY_NOW;
}

kj::Promise<void> ControlServer::setPeerFaults(SetPeerFaultsContext context) {
  auto params = context.getParams();
  PeerFaultsRequest faults;
  if (params.getDropPermille() > 1000) {
    context.getResults().setError("dropPermille must be 0..1000, got " +
                                  std::to_string(params.getDropPermille()));
    return kj::READY_NOW;
  }
  faults.drop_permille = static_cast<int>(params.getDropPermille());
  if (params.getBlocked().size() > kPeerFaultsBlockedMax) {
    context.getResults().setError("at most " + std::to_string(kPeerFaultsBlockedMax) +
                                  " blocked addresses");
    return kj::READY_NOW;
  }
  for (auto address : params.getBlocked()) faults.blocked.push_back(text(address));
  sched::Status s = backend_.set_peer_faults(faults);
  if (!s) context.getResults().setError(s.error().message);
  return kj::READY_NOW;
}

kj::Promise<void> ControlServer::stats(StatsContext context) {
  to_wire(backend_.stats(), context.getResults().initStats());
  return kj::READY_NOW;
}

kj::Promise<void> ControlServer::setPolicy(SetPolicyContext context) {
  auto policy = sched::parse_policy(text(context.getParams().getName()));
  sched::Status s = policy ? backend_.set_policy(policy.value()) : sched::Status(policy.error());
  if (!s) context.getResults().setError(s.error().message);
  return kj::READY_NOW;
}

kj::Promise<void> ControlServer::setQuantum(SetQuantumContext context) {
  sched::Status s = backend_.set_quantum(context.getParams().getMicros());
  if (!s) context.getResults().setError(s.error().message);
  return kj::READY_NOW;
}

kj::Promise<void> ControlServer::priority(PriorityContext context) {
  auto params = context.getParams();
  const std::optional<PriorityOp> op = from_wire(params.getOp());
  if (!op) {
    context.getResults().setError("unknown priority operation: use set, boost or lower");
    return kj::READY_NOW;
  }
  auto result = backend_.priority(text(params.getId()), *op, params.getValue());
  if (!result) {
    context.getResults().setError(result.error().message);
  } else {
    context.getResults().setPriority(result.value());
  }
  return kj::READY_NOW;
}

kj::Promise<void> ControlServer::scheduler(SchedulerContext context) {
  const std::optional<SchedulerOp> op = from_wire(context.getParams().getOp());
  if (!op) {
    context.getResults().setError(
        "unknown scheduler operation: use pause, resume, trigger or next");
    return kj::READY_NOW;
  }
  sched::Status s = backend_.scheduler(*op);
  if (!s) context.getResults().setError(s.error().message);
  return kj::READY_NOW;
}

kj::Promise<void> ControlServer::cancelWhere(CancelWhereContext context) {
  auto params = context.getParams();
  auto results = context.getResults();
  std::optional<sched::TaskState> state;
  const std::string state_name = text(params.getState());
  if (state_name != "all") {
    auto parsed = sched::parse_task_state(state_name);
    if (!parsed || sched::is_terminal(parsed.value())) {
      results.setError("cannot cancel by state \"" + state_name +
                       "\": use pending, queued, held, running, stopped or all");
      return kj::READY_NOW;
    }
    state = parsed.value();
  }
  auto glob = name_glob_from_wire(params.getName());
  if (!glob) {
    results.setError(glob.error().message);
    return kj::READY_NOW;
  }
  auto cancelled = backend_.cancel_where(state, glob.value());
  if (!cancelled) {
    results.setError(cancelled.error().message);
  } else {
    results.setCancelled(cancelled.value());
  }
  return kj::READY_NOW;
}

kj::Promise<void> ControlServer::clear(ClearContext context) {
  auto purged = backend_.clear();
  if (!purged) {
    context.getResults().setError(purged.error().message);
  } else {
    context.getResults().setPurged(purged.value());
  }
  return kj::READY_NOW;
}

}  // namespace braid::rpc
