#include "node/following.h"

#include <set>
#include <unordered_set>

#include "gossip/membership.h"

namespace braid::node {
namespace {

template <typename T>
using SharedFulfiller = std::shared_ptr<kj::Own<kj::PromiseFulfiller<kj::Own<T>>>>;

kj::Own<rpc::LogReply> log_error(std::string error) {
  auto reply = kj::heap<rpc::LogReply>();
  reply->error = std::move(error);
  return reply;
}

std::string origin_of(const std::string& id) {
  const auto colon = id.rfind(':');
  return colon == std::string::npos ? std::string() : id.substr(0, colon);
}

}  // namespace

// One log read that follows forwarding pointers.
struct Following::Chase {
  rpc::PeerLogRequest request;
  int asked = 0;
  std::string path;  // the nodes asked so far, for errors
  SharedFulfiller<rpc::LogReply> fulfiller;
};

Following::Following(Tasks& tasks, Peers& peers, FollowingOptions options)
    : tasks_(tasks), peers_(peers), options_(options) {
  if (!options_.answer_peers) return;  // without handlers the transport refuses every question
  peers_.set_query_handlers({[this](const rpc::PeerLogRequest& r) { return answer_read_log(r); },
                             [this](const rpc::PeerListRequest& r) { return answer_list(r); }});
}

Following::~Following() {
  *alive_ = false;
  peers_.set_query_handlers({});
}

kj::Promise<kj::Own<rpc::LogReply>> Following::read_log(const std::string& id, bool stderr_stream,
                                                        std::uint64_t offset,
                                                        std::uint32_t max_bytes) {
  if (sched::Status valid = sched::validate_task_id(id); !valid) {
    return log_error(valid.error().message);
  }
  std::string holder;
  auto keys = tasks_.keys_of({id});
  if (keys) {
    holder = tasks_.view(keys.value()[0]).moved_to;
  } else if (const std::string origin = origin_of(id); origin != peers_.name()) {
    for (const gossip::Member& m : peers_.members()) {
      // Not ours: its origin knows where it is (else: unknown here, said below).
      if (m.name == origin && gossip::is_live(m.state)) holder = origin;
    }
  }
  if (holder.empty() || holder == peers_.name()) {
    auto reply = kj::heap<rpc::LogReply>();
    auto chunk = tasks_.read_log(id, stderr_stream, offset, max_bytes);
    if (chunk) {
      reply->chunk = std::move(chunk).value();
    } else {
      reply->error = chunk.error().message;
    }
    return kj::mv(reply);
  }
  rpc::PeerLogRequest request{id, stderr_stream, offset,
                              std::min(max_bytes, rpc::kPeerLogChunkBytesMax)};
  if (auto it = quiet_.find(quiet_key(request));
      it != quiet_.end() && tasks_.now_us() - it->second < quiet_us()) {
    return kj::heap<rpc::LogReply>();  // nothing new a moment ago: nothing new now
  }
  auto paf = kj::newPromiseAndFulfiller<kj::Own<rpc::LogReply>>();
  auto chase = std::make_shared<Chase>();
  chase->request = std::move(request);
  chase->fulfiller = std::make_shared<kj::Own<kj::PromiseFulfiller<kj::Own<rpc::LogReply>>>>(
      kj::mv(paf.fulfiller));
  ask(std::move(chase), holder);
  return kj::mv(paf.promise);
}

void Following::ask(std::shared_ptr<Chase> chase, const std::string& node) {
  ++chase->asked;
  chase->path += (chase->path.empty() ? "" : " -> ") + node;
  peers_.read_log(
      node, chase->request, options_.deadline,
      [this, alive = std::weak_ptr<bool>(alive_), chase,
       node](sched::Result<rpc::PeerLogAnswer> answer) {
        auto& fulfiller = **chase->fulfiller;
        if (alive.expired() || !fulfiller.isWaiting()) return;
        const std::string& id = chase->request.task_id;
        if (!answer) {
          fulfiller.fulfill(log_error("task " + id + " is on node " + node +
                                      ", which did not answer: " + answer.error().message));
          return;
        }
        rpc::PeerLogAnswer a = std::move(answer).value();
        if (!a.error.empty()) {
          fulfiller.fulfill(log_error("node " + node + ": " + a.error));
          return;
        }
        if (!a.moved_to.empty()) {
          if (a.moved_to == peers_.name() || chase->asked >= rpc::kFollowHopsMax) {
            fulfiller.fulfill(log_error("task " + id + " was not found following its moves (" +
                                        chase->path + " -> " + a.moved_to +
                                        "): it is moving; try again"));
            return;
          }
          ask(chase, a.moved_to);
          return;
        }
        auto reply = kj::heap<rpc::LogReply>();
        reply->chunk.finished = sched::is_terminal(a.state) && a.data.empty();
        if (a.data.empty() && !reply->chunk.finished) note_quiet(chase->request);
        reply->chunk.data = std::move(a.data);
        fulfiller.fulfill(kj::mv(reply));
      });
}

sched::Micros Following::quiet_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(kQuietInterval).count();
}

std::string Following::quiet_key(const rpc::PeerLogRequest& request) {
  return request.task_id + (request.stderr_stream ? "/e@" : "/o@") + std::to_string(request.offset);
}

void Following::note_quiet(const rpc::PeerLogRequest& request) {
  constexpr std::size_t kQuietEntriesMax = 4096;
  const sched::Micros now = tasks_.now_us();
  if (quiet_.size() >= kQuietEntriesMax) {
    std::erase_if(quiet_, [&](const auto& entry) { return now - entry.second >= quiet_us(); });
    if (quiet_.size() >= kQuietEntriesMax) quiet_.clear();
  }
  quiet_[quiet_key(request)] = now;
}

kj::Promise<kj::Own<rpc::ListReply>> Following::list_cluster(const rpc::ListQuery& query) {
  auto local = tasks_.list(query);
  if (!local) {
    auto reply = kj::heap<rpc::ListReply>();
    reply->error = local.error().message;
    return kj::mv(reply);
  }
  if (query.after != 0) {
    auto reply = kj::heap<rpc::ListReply>();
    reply->page = std::move(local).value();
    return kj::mv(reply);
  }
  std::vector<std::string> peers;
  std::vector<std::string> dead;  // known, declared dead: not asked, but said
  for (const gossip::Member& m : peers_.members()) {
    if (m.name == peers_.name()) continue;
    if (gossip::is_live(m.state)) {
      peers.push_back(m.name);
    } else if (m.state == gossip::MemberState::kDead) {
      dead.push_back(m.name + ": not asked: declared dead");
    }
  }
  if (peers.empty()) {
    auto reply = kj::heap<rpc::ListReply>();
    reply->page = std::move(local).value();
    reply->page.peer_errors = std::move(dead);
    return kj::mv(reply);
  }
  struct Gather {
    rpc::ListPage page;
    std::string self;
    std::vector<std::string> names;                // the peers asked, in member order
    std::vector<std::vector<rpc::TaskView>> rows;  // by peer
    std::vector<std::string> errors;               // by peer, "" = none
    std::vector<bool> answered;                    // by peer
    std::size_t waiting = 0;
    bool keep_moved = false;
    SharedFulfiller<rpc::ListReply> fulfiller;

    void done() {
      auto reply = kj::heap<rpc::ListReply>();
      reply->page = std::move(page);
      std::set<std::string> heard = {self};
      for (std::size_t p = 0; p < names.size(); ++p) {
        if (answered[p]) heard.insert(names[p]);
        for (rpc::TaskView& t : rows[p]) reply->page.tasks.push_back(std::move(t));
        if (!errors[p].empty()) reply->page.peer_errors.push_back(errors[p]);
      }
      drop_pointer_rows(reply->page.tasks, heard, keep_moved);
      (*fulfiller)->fulfill(kj::mv(reply));
    }
  };
  auto paf = kj::newPromiseAndFulfiller<kj::Own<rpc::ListReply>>();
  auto gather = std::make_shared<Gather>();
  gather->page = std::move(local).value();
  gather->page.peer_errors = std::move(dead);
  gather->self = peers_.name();
  gather->names = peers;
  gather->rows.resize(peers.size());
  gather->errors.resize(peers.size());
  gather->answered.assign(peers.size(), false);
  gather->waiting = peers.size();
  gather->keep_moved = query.state == sched::TaskState::kMoved;
  gather->fulfiller = std::make_shared<kj::Own<kj::PromiseFulfiller<kj::Own<rpc::ListReply>>>>(
      kj::mv(paf.fulfiller));
  rpc::PeerListRequest request;
  request.all = query.all;
  if (query.state) request.state = std::string(sched::to_string(*query.state));
  request.name_glob = query.name_glob;
  request.limit =
      std::min(query.limit == 0 ? rpc::kPeerListRowsMax : query.limit, rpc::kPeerListRowsMax);
  for (std::size_t i = 0; i < peers.size(); ++i) {
    peers_.list_tasks(peers[i], request, options_.deadline,
                      [gather, i](sched::Result<rpc::PeerListAnswer> answer) {
                        const std::string& name = gather->names[i];
                        if (!answer) {
                          gather->errors[i] = name + ": unreachable: " + answer.error().message;
                        } else if (!answer.value().error.empty()) {
                          gather->errors[i] = name + ": " + answer.value().error;
                        } else {
                          gather->answered[i] = true;
                          gather->rows[i] = answer.value().tasks;
                          if (answer.value().more) {
                            gather->errors[i] = name + ": only its first " +
                                                std::to_string(gather->rows[i].size()) +
                                                " tasks are listed";
                          }
                        }
                        if (--gather->waiting == 0) gather->done();
                      });
  }
  return kj::mv(paf.promise);
}

rpc::PeerLogAnswer Following::answer_read_log(const rpc::PeerLogRequest& request) const {
  rpc::PeerLogAnswer answer;
  auto keys = tasks_.keys_of({request.task_id});
  if (!keys) {
    answer.error = "node " + peers_.name() + " does not know task " + request.task_id;
    return answer;
  }
  const rpc::TaskView view = tasks_.view(keys.value()[0]);
  answer.state = view.state;
  if (!view.moved_to.empty()) {
    answer.moved_to = view.moved_to;
    return answer;
  }
  auto chunk =
      tasks_.read_log(request.task_id, request.stderr_stream, request.offset, request.max_bytes);
  if (!chunk) {
    answer.error = chunk.error().message;
    return answer;
  }
  answer.data = std::move(chunk.value().data);
  return answer;
}

rpc::PeerListAnswer Following::answer_list(const rpc::PeerListRequest& request) const {
  rpc::PeerListAnswer answer;
  rpc::ListQuery query;
  query.all = request.all;
  if (!request.state.empty()) {
    auto state = sched::parse_task_state(request.state);
    if (!state) {
      answer.error = state.error().message;
      return answer;
    }
    query.state = state.value();
  }
  query.name_glob = request.name_glob;
  query.limit = request.limit;
  auto page = tasks_.list(query);
  if (!page) {
    answer.error = page.error().message;
    return answer;
  }
  answer.tasks = std::move(page.value().tasks);
  answer.more = page.value().next != 0;
  return answer;
}

void drop_pointer_rows(std::vector<rpc::TaskView>& rows, const std::set<std::string>& answered,
                       bool keep_moved) {
  std::unordered_set<std::string> held;  // ids some node lists as holding
  for (const rpc::TaskView& t : rows) {
    if (t.moved_to.empty()) held.insert(t.id);
  }
  std::erase_if(rows, [&](const rpc::TaskView& t) {
    if (t.moved_to.empty()) return false;
    if (t.state == sched::TaskState::kMoved) {
      return !keep_moved && (held.contains(t.id) || answered.contains(t.moved_to));
    }
    return held.contains(t.id);
  });
}

}  // namespace braid::node
