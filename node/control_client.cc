#include "node/control_client.h"

#include <capnp/ez-rpc.h>
#include <kj/async-io.h>
#include <sys/stat.h>

#include "rpc/control.capnp.h"
#include "rpc/convert.h"
#include "sched/duration.h"
#include "sched/torus.h"

namespace braid::node {

using rpc::schema::Control;

struct ControlClient::Impl {
  explicit Impl(const std::string& path) : client("unix:" + path) {}
  capnp::EzRpcClient client;
  Control::Client control = client.getMain<Control>();
};

// Waits for one answer for at most the client's answer timeout (plus the
// extra time of a long poll); past it the call fails as DISCONNECTED, so a
// stopped or wedged braidd makes the CLI report "unreachable", not hang.
class ControlClient::Answer {
 public:
  Answer(capnp::EzRpcClient& client, sched::Micros timeout_us)
      : client_(client), timeout_us_(timeout_us) {}

  template <typename T>
  capnp::Response<T> operator()(capnp::RemotePromise<T>&& promise, sched::Micros extra_us = 0) {
    const sched::Micros due_us =
        extra_us >= sched::kNever - timeout_us_ ? sched::kNever : timeout_us_ + extra_us;
    kj::Promise<capnp::Response<T>> answer = kj::mv(promise);
    if (due_us == sched::kNever) return answer.wait(client_.getWaitScope());
    auto late = client_.getIoProvider()
                    .getTimer()
                    .afterDelay(due_us * kj::MICROSECONDS)
                    .then([due_us]() -> capnp::Response<T> {
                      kj::throwFatalException(KJ_EXCEPTION(
                          DISCONNECTED, "no answer within " + sched::format_duration(due_us) +
                                            " (is braidd stopped or overloaded?)"));
                    });
    return answer.exclusiveJoin(kj::mv(late)).wait(client_.getWaitScope());
  }

 private:
  capnp::EzRpcClient& client_;
  sched::Micros timeout_us_;
};

ControlClient::ControlClient(std::string socket_path, sched::Micros answer_timeout_us)
    : socket_path_(std::move(socket_path)), answer_timeout_us_(answer_timeout_us) {}
ControlClient::~ControlClient() = default;

template <typename T, typename Call>
Reply<T> ControlClient::call(Call&& call) {
  const std::string unreachable = "cannot reach braidd at " + socket_path_;
  struct stat st {};
  if (::stat(socket_path_.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    return Unreachable{unreachable +
                       ": no socket there (is braidd running? use --socket or "
                       "BRAID_SOCKET)"};
  }
  try {
    if (!impl_) impl_ = std::make_unique<Impl>(socket_path_);
    Answer answer(impl_->client, answer_timeout_us_);
    return call(impl_->control, answer);
  } catch (const kj::Exception& e) {
    // A lost connection means nobody answers; anything else (a message over
    // the size limits, a remote exception) is a refusal of this request.
    if (e.getType() == kj::Exception::Type::DISCONNECTED) {
      return Unreachable{unreachable + ": " + std::string(e.getDescription().cStr())};
    }
    return Refused{"braidd did not take the request: " + std::string(e.getDescription().cStr())};
  }
}

namespace {

template <typename Results>
std::optional<Refused> refused(const Results& results) {
  if (results.getError().size() == 0) return std::nullopt;
  return Refused{results.getError().cStr()};
}

template <typename Results>
std::vector<rpc::TaskView> tasks_of(const Results& results) {
  std::vector<rpc::TaskView> out;
  for (auto info : results.getTasks()) out.push_back(rpc::from_wire(info));
  return out;
}

void set_ids(capnp::List<capnp::Text>::Builder out, const std::vector<std::string>& ids) {
  for (std::size_t i = 0; i < ids.size(); ++i) out.set(static_cast<unsigned>(i), ids[i]);
}

}  // namespace

Reply<std::vector<std::string>> ControlClient::submit(const std::vector<sched::TaskSpec>& specs) {
  return call<std::vector<std::string>>(
      [&](Control::Client& c, Answer& answer) -> Reply<std::vector<std::string>> {
        auto req = c.submitRequest();
        auto list = req.initSpecs(static_cast<unsigned>(specs.size()));
        for (std::size_t i = 0; i < specs.size(); ++i) {
          rpc::to_wire(specs[i], list[static_cast<unsigned>(i)]);
        }
        // The environment travels once: every spec of a submission shares it.
        if (!specs.empty() && specs.front().base_env) {
          const auto& entries = specs.front().base_env->entries;
          auto env = req.initEnv(static_cast<unsigned>(entries.size()));
          for (std::size_t i = 0; i < entries.size(); ++i) {
            env.set(static_cast<unsigned>(i), entries[i]);
          }
          req.setHasEnv(true);
        }
        auto res = answer(req.send());
        if (auto r = refused(res)) return *r;
        std::vector<std::string> ids;
        for (auto id : res.getIds()) ids.emplace_back(id.cStr());
        return ids;
      });
}

Reply<rpc::ListPage> ControlClient::list(const rpc::ListQuery& query, const std::string& state) {
  return call<rpc::ListPage>([&](Control::Client& c, Answer& answer) -> Reply<rpc::ListPage> {
    auto req = c.listRequest();
    req.setAll(query.all);
    req.setState(state);
    req.setName(query.name_glob);
    req.setAfter(query.after);
    req.setLimit(query.limit);
    req.setCluster(query.cluster);
    auto res = answer(req.send());
    if (auto r = refused(res)) return *r;
    rpc::ListPage page{tasks_of(res), res.getNext(), {}};
    for (auto e : res.getPeerErrors()) page.peer_errors.emplace_back(e.cStr(), e.size());
    return page;
  });
}

Reply<std::vector<rpc::TaskView>> ControlClient::show(const std::vector<std::string>& ids) {
  return call<std::vector<rpc::TaskView>>(
      [&](Control::Client& c, Answer& answer) -> Reply<std::vector<rpc::TaskView>> {
        auto req = c.showRequest();
        set_ids(req.initIds(static_cast<unsigned>(ids.size())), ids);
        auto res = answer(req.send());
        if (auto r = refused(res)) return *r;
        return tasks_of(res);
      });
}

Reply<rpc::WaitOutcome> ControlClient::wait(const std::vector<std::string>& ids,
                                            sched::Micros timeout_us) {
  return call<rpc::WaitOutcome>([&](Control::Client& c, Answer& answer) -> Reply<rpc::WaitOutcome> {
    auto req = c.waitRequest();
    set_ids(req.initIds(static_cast<unsigned>(ids.size())), ids);
    req.setTimeoutMicros(timeout_us);
    // A long poll: its answer is due when its own timeout ends (0: never).
    auto res = answer(req.send(), timeout_us == 0 ? sched::kNever : timeout_us);
    if (auto r = refused(res)) return *r;
    return rpc::WaitOutcome{tasks_of(res), res.getTimedOut(), {}};
  });
}

Reply<Done> ControlClient::cancel(const std::vector<std::string>& ids) {
  return call<Done>([&](Control::Client& c, Answer& answer) -> Reply<Done> {
    auto req = c.cancelRequest();
    set_ids(req.initIds(static_cast<unsigned>(ids.size())), ids);
    auto res = answer(req.send());
    if (auto r = refused(res)) return *r;
    return Done{};
  });
}

Reply<Done> ControlClient::hold(const std::vector<std::string>& ids, bool release) {
  return call<Done>([&](Control::Client& c, Answer& answer) -> Reply<Done> {
    auto req = c.holdRequest();
    set_ids(req.initIds(static_cast<unsigned>(ids.size())), ids);
    req.setRelease(release);
    auto res = answer(req.send());
    if (auto r = refused(res)) return *r;
    return Done{};
  });
}

Reply<rpc::LogChunk> ControlClient::read_log(const std::string& id, bool stderr_stream,
                                             std::uint64_t offset, std::uint32_t max_bytes) {
  return call<rpc::LogChunk>([&](Control::Client& c, Answer& answer) -> Reply<rpc::LogChunk> {
    auto req = c.readLogRequest();
    req.setId(id);
    req.setStderr(stderr_stream);
    req.setOffset(offset);
    req.setMaxBytes(max_bytes);
    auto res = answer(req.send());
    if (auto r = refused(res)) return *r;
    auto data = res.getData();
    return rpc::LogChunk{std::string(reinterpret_cast<const char*>(data.begin()), data.size()),
                         res.getFinished()};
  });
}

Reply<rpc::StatsView> ControlClient::stats() {
  return call<rpc::StatsView>([&](Control::Client& c, Answer& answer) -> Reply<rpc::StatsView> {
    auto res = answer(c.statsRequest().send());
    return rpc::from_wire(res.getStats());
  });
}

Reply<Done> ControlClient::set_policy(const std::string& name) {
  return call<Done>([&](Control::Client& c, Answer& answer) -> Reply<Done> {
    auto req = c.setPolicyRequest();
    req.setName(name);
    auto res = answer(req.send());
    if (auto r = refused(res)) return *r;
    return Done{};
  });
}

Reply<Done> ControlClient::set_quantum(sched::Micros quantum_us) {
  return call<Done>([&](Control::Client& c, Answer& answer) -> Reply<Done> {
    auto req = c.setQuantumRequest();
    req.setMicros(quantum_us);
    auto res = answer(req.send());
    if (auto r = refused(res)) return *r;
    return Done{};
  });
}

Reply<int> ControlClient::priority(const std::string& id, rpc::PriorityOp op, int value) {
  return call<int>([&](Control::Client& c, Answer& answer) -> Reply<int> {
    auto req = c.priorityRequest();
    req.setId(id);
    req.setValue(value);
    req.setOp(rpc::to_wire(op));
    auto res = answer(req.send());
    if (auto r = refused(res)) return *r;
    return static_cast<int>(res.getPriority());
  });
}

Reply<Done> ControlClient::scheduler(rpc::SchedulerOp op) {
  return call<Done>([&](Control::Client& c, Answer& answer) -> Reply<Done> {
    auto req = c.schedulerRequest();
    req.setOp(rpc::to_wire(op));
    auto res = answer(req.send());
    if (auto r = refused(res)) return *r;
    return Done{};
  });
}

Reply<std::uint64_t> ControlClient::cancel_where(const std::string& state,
                                                 const std::string& name) {
  return call<std::uint64_t>([&](Control::Client& c, Answer& answer) -> Reply<std::uint64_t> {
    auto req = c.cancelWhereRequest();
    req.setState(state);
    req.setName(name);
    auto res = answer(req.send());
    if (auto r = refused(res)) return *r;
    return res.getCancelled();
  });
}

Reply<std::uint64_t> ControlClient::clear() {
  return call<std::uint64_t>([&](Control::Client& c, Answer& answer) -> Reply<std::uint64_t> {
    auto res = answer(c.clearRequest().send());
    if (auto r = refused(res)) return *r;
    return res.getPurged();
  });
}

Reply<rpc::PeersView> ControlClient::peers() {
  return call<rpc::PeersView>([&](Control::Client& c, Answer& answer) -> Reply<rpc::PeersView> {
    auto res = answer(c.peersRequest().send());
    rpc::PeersView view;
    view.listen = res.getListen().cStr();
    view.gossip = rpc::from_wire(res.getGossip());
    view.migration = rpc::from_wire(res.getMigration());
    for (auto m : res.getMembers()) view.members.push_back(rpc::from_wire(m));
    return view;
  });
}

Reply<rpc::DrainView> ControlClient::drain(bool cancel, bool query) {
  return call<rpc::DrainView>([&](Control::Client& c, Answer& answer) -> Reply<rpc::DrainView> {
    auto req = c.drainRequest();
    req.setCancel(cancel);
    req.setQuery(query);
    auto res = answer(req.send());
    if (auto r = refused(res)) return *r;
    const auto state = res.getState();
    return rpc::DrainView{state.getDraining(), state.getMigrate(), state.getQueued(),
                          state.getStaying(), state.getRunning()};
  });
}

Reply<Done> ControlClient::set_peer_faults(const rpc::PeerFaultsRequest& faults) {
  return call<Done>([&](Control::Client& c, Answer& answer) -> Reply<Done> {
    auto req = c.setPeerFaultsRequest();
    req.setDropPermille(static_cast<std::uint32_t>(faults.drop_permille));
    auto blocked = req.initBlocked(static_cast<unsigned>(faults.blocked.size()));
    for (std::size_t i = 0; i < faults.blocked.size(); ++i) {
      blocked.set(static_cast<unsigned>(i), faults.blocked[i]);
    }
    auto res = answer(req.send());
    if (auto r = refused(res)) return *r;
    return Done{};
  });
}

}  // namespace braid::node
