#include "rpc/peer_query.h"

#include "gossip/types.h"
#include "rpc/convert.h"

namespace braid::rpc {
namespace {

constexpr std::size_t kStateNameMax = 32;
// A row's fixed part as encoded, roughly (its numbers and pointers).
constexpr std::size_t kRowOverheadBytes = 256;

sched::Status bounded(std::string_view field, capnp::Text::Reader t, std::size_t max_bytes) {
  if (t.size() > max_bytes) {
    return sched::Error{std::string(field) + " must be at most " + std::to_string(max_bytes) +
                        " bytes, got " + std::to_string(t.size())};
  }
  return sched::ok_status();
}

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

sched::Result<std::string> node_name(std::string_view field, capnp::Text::Reader t) {
  if (t.size() == 0) return std::string();
  if (t.size() > gossip::kNameMaxBytes ||
      !gossip::valid_name(std::string_view(t.cStr(), t.size()))) {
    return sched::Error{std::string(field) + " is not a node name (1.." +
                        std::to_string(gossip::kNameMaxBytes) + " of A-Z a-z 0-9 . _ -)"};
  }
  return text(t);
}

sched::Result<sched::TaskState> state_of(std::string_view field, capnp::Text::Reader t) {
  if (sched::Status s = bounded(field, t, kStateNameMax); !s) return s.error();
  auto state = sched::parse_task_state(text(t));
  if (!state) return sched::Error{std::string(field) + ": " + state.error().message};
  return state.value();
}

sched::Result<std::string> task_id(capnp::Text::Reader t) {
  if (sched::Status s = bounded("task id", t, 255); !s) return s.error();
  std::string id = text(t);
  if (sched::Status s = sched::validate_task_id(id); !s) return s.error();
  return id;
}

std::size_t row_bytes(const TaskView& t) {
  std::size_t n = kRowOverheadBytes + t.id.size() + t.name.size() + t.node.size() +
                  t.reason.size() + t.account.size() + t.moved_to.size() + t.adopted_from.size();
  for (const std::string& a : t.argv) n += a.size() + 8;
  for (const sched::Refusal& r : t.refusals) n += r.node.size() + r.reason.size() + 16;
  return n;
}

}  // namespace

void to_wire(const PeerLogRequest& request, schema::Peer::ReadLogParams::Builder out) {
  out.setTaskId(request.task_id);
  out.setStderr(request.stderr_stream);
  out.setOffset(request.offset);
  out.setMaxBytes(request.max_bytes);
}

sched::Result<PeerLogRequest> from_wire(schema::Peer::ReadLogParams::Reader in) {
  PeerLogRequest request;
  auto id = task_id(in.getTaskId());
  if (!id) return id.error();
  request.task_id = std::move(id).value();
  request.stderr_stream = in.getStderr();
  request.offset = in.getOffset();
  request.max_bytes = std::min(in.getMaxBytes(), kPeerLogChunkBytesMax);  // asking more is fine
  return request;
}

void to_wire(const PeerLogAnswer& answer, schema::Peer::ReadLogResults::Builder out) {
  if (!answer.error.empty()) {
    out.setError(answer.error);
    return;
  }
  out.setData(
      kj::arrayPtr(reinterpret_cast<const capnp::byte*>(answer.data.data()), answer.data.size()));
  out.setState(std::string(sched::to_string(answer.state)));
  out.setMovedTo(answer.moved_to);
}

sched::Result<PeerLogAnswer> from_wire(schema::Peer::ReadLogResults::Reader in,
                                       const PeerLogRequest& asked) {
  PeerLogAnswer answer;
  if (in.getError().size() > 0) {
    if (sched::Status s = bounded("error", in.getError(), kStringBytesMax); !s) return s.error();
    answer.error = text(in.getError());
    return answer;
  }
  const std::size_t limit = std::min(asked.max_bytes, kPeerLogChunkBytesMax);
  if (in.getData().size() > limit) {
    return sched::Error{"log data must be at most the " + std::to_string(limit) +
                        " bytes asked for, got " + std::to_string(in.getData().size())};
  }
  auto state = state_of("state", in.getState());
  if (!state) return state.error();
  answer.state = state.value();
  auto moved_to = node_name("movedTo", in.getMovedTo());
  if (!moved_to) return moved_to.error();
  answer.moved_to = std::move(moved_to).value();
  if (!answer.moved_to.empty() && in.getData().size() > 0) {
    return sched::Error{"a moved task's answer carries no log data"};
  }
  const auto data = in.getData();
  answer.data.assign(reinterpret_cast<const char*>(data.begin()), data.size());
  return answer;
}

void to_wire(const PeerListRequest& request, schema::Peer::ListTasksParams::Builder out) {
  out.setAll(request.all);
  out.setState(request.state);
  out.setName(request.name_glob);
  out.setLimit(request.limit);
}

sched::Result<PeerListRequest> from_wire(schema::Peer::ListTasksParams::Reader in) {
  PeerListRequest request;
  request.all = in.getAll();
  if (in.getState().size() > 0) {
    auto state = state_of("state", in.getState());
    if (!state) return state.error();
    request.state = std::string(sched::to_string(state.value()));
  }
  auto glob = name_glob_from_wire(in.getName());
  if (!glob) return glob.error();
  request.name_glob = std::move(glob).value();
  request.limit = in.getLimit() == 0 ? kPeerListRowsMax : std::min(in.getLimit(), kPeerListRowsMax);
  return request;
}

void fill_list_answer(const PeerListAnswer& answer, std::uint32_t limit,
                      schema::Peer::ListTasksResults::Builder out) {
  if (!answer.error.empty()) {
    out.setError(answer.error);
    return;
  }
  const std::size_t max_rows = std::min<std::size_t>(
      limit == 0 ? kPeerListRowsMax : std::min(limit, kPeerListRowsMax), answer.tasks.size());
  std::size_t rows = 0;
  std::size_t bytes = 0;
  while (rows < max_rows) {
    const std::size_t next = row_bytes(answer.tasks[rows]);
    if (bytes + next > kPeerListBytesMax) break;
    bytes += next;
    ++rows;
  }
  auto list = out.initTasks(static_cast<unsigned>(rows));
  for (std::size_t i = 0; i < rows; ++i) to_wire(answer.tasks[i], list[static_cast<unsigned>(i)]);
  out.setMore(answer.more || rows < answer.tasks.size());
}

sched::Result<PeerListAnswer> from_wire(schema::Peer::ListTasksResults::Reader in) {
  PeerListAnswer answer;
  if (in.getError().size() > 0) {
    if (sched::Status s = bounded("error", in.getError(), kStringBytesMax); !s) return s.error();
    answer.error = text(in.getError());
    return answer;
  }
  const auto tasks = in.getTasks();
  if (tasks.size() > kPeerListRowsMax) {
    return sched::Error{"a list holds at most " + std::to_string(kPeerListRowsMax) +
                        " tasks, got " + std::to_string(tasks.size())};
  }
  answer.tasks.reserve(tasks.size());
  for (unsigned i = 0; i < tasks.size(); ++i) {
    auto task = checked_task_from_wire(tasks[i]);
    if (!task) return sched::Error{"task " + std::to_string(i + 1) + ": " + task.error().message};
    answer.tasks.push_back(std::move(task).value());
  }
  answer.more = in.getMore();
  return answer;
}

sched::Result<TaskView> checked_task_from_wire(schema::TaskInfo::Reader in) {
  if (auto id = task_id(in.getId()); !id) return id.error();
  if (auto state = state_of("state", in.getState()); !state) return state.error();
  for (auto [field, t] : {std::pair{"node", in.getNode()}, std::pair{"movedTo", in.getMovedTo()},
                          std::pair{"adoptedFrom", in.getAdoptedFrom()}}) {
    if (auto name = node_name(field, t); !name) return name.error();
  }
  if (in.getNode().size() == 0) return sched::Error{"node is empty"};
  for (auto [field, t] : {std::pair{"name", in.getName()}, std::pair{"reason", in.getReason()},
                          std::pair{"account", in.getAccount()}}) {
    if (sched::Status s = bounded(field, t, kStringBytesMax); !s) return s.error();
  }
  const auto argv = in.getArgv();
  if (argv.size() > kArgvEntriesMax) {
    return sched::Error{"argv holds at most " + std::to_string(kArgvEntriesMax) + " entries, got " +
                        std::to_string(argv.size())};
  }
  for (auto a : argv) {
    if (sched::Status s = bounded("argv entry", a, kStringBytesMax); !s) return s.error();
  }
  const auto refusals = in.getRefusals();
  if (refusals.size() > sched::kRefusalsKept) {
    return sched::Error{"refusals hold at most " + std::to_string(sched::kRefusalsKept) + ", got " +
                        std::to_string(refusals.size())};
  }
  for (auto r : refusals) {
    if (auto name = node_name("refusal node", r.getNode()); !name) return name.error();
    if (sched::Status s = bounded("refusal reason", r.getReason(), sched::kRefusalReasonBytesMax);
        !s) {
      return s.error();
    }
  }
  return from_wire(in);
}

}  // namespace braid::rpc
