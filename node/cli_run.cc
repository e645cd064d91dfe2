#include "node/cli_run.h"

#include <signal.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "node/cli_exit.h"
#include "node/cli_output.h"
#include "node/cli_reply.h"

namespace braid::node {
namespace {

constexpr std::uint32_t kLogChunkBytes = 256 * 1024;
// How often a follower asks for new output when there was none (like tail -f).
constexpr auto kFollowPollInterval = std::chrono::milliseconds(100);
// `braid run` polls faster: a short task's output should not lag behind it.
constexpr auto kRunPollInterval = std::chrono::milliseconds(20);

volatile std::sig_atomic_t interrupts = 0;

void on_interrupt(int) {
  interrupts = interrupts + 1;
  if (interrupts >= 2) std::_Exit(130);  // a second Ctrl-C: leave at once
}

// One log stream of a task, read on from where it was.
struct Stream {
  bool stderr_stream = false;
  std::FILE* to = stdout;
  std::uint64_t offset = 0;
};

// Copies what is new in `stream`; returns false (and sets code) on an error.
// `finished` says whether the task had ended when the last empty read came.
bool pump(ControlClient& client, const std::string& id, Stream& stream, bool& finished, int& code) {
  while (true) {
    auto reply = client.read_log(id, stream.stderr_stream, stream.offset, kLogChunkBytes);
    const auto* chunk = ok(reply, code);
    if (!chunk) return false;
    std::fwrite(chunk->data.data(), 1, chunk->data.size(), stream.to);
    stream.offset += chunk->data.size();
    if (chunk->data.empty()) {
      finished = chunk->finished;
      std::fflush(stream.to);
      return true;
    }
  }
}

}  // namespace

int wait_command(ControlClient& client, const std::vector<std::string>& ids,
                 sched::Micros timeout_us, bool json) {
  int code = 0;
  auto reply = client.wait(ids, timeout_us);
  const auto* outcome = ok(reply, code);
  if (!outcome) return code;
  if (json) {
    std::cout << nlohmann::json{{"timed_out", outcome->timed_out},
                                {"tasks", tasks_json(outcome->tasks)}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << task_table(outcome->tasks);
  }
  if (outcome->timed_out) return kExitTimedOut;
  return wait_exit_code(outcome->tasks);
}

int logs_command(ControlClient& client, const std::string& id, bool stderr_stream, bool follow) {
  Stream stream{stderr_stream, stdout, 0};
  while (true) {
    int code = 0;
    bool finished = false;
    if (!pump(client, id, stream, finished, code)) return code;
    if (!follow || finished) return 0;
    std::this_thread::sleep_for(kFollowPollInterval);
  }
}

int run_command(ControlClient& client, const sched::TaskSpec& spec) {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  std::string id;
  {
    int code = 0;
    auto reply = client.submit({spec});
    const auto* ids = ok(reply, code);
    if (!ids) return code;
    id = ids->front();
  }
  Stream out{false, stdout, 0};
  Stream err{true, stderr, 0};
  bool cancel_sent = false;
  while (true) {
    if (interrupts > 0 && !cancel_sent) {
      cancel_sent = true;
      std::fprintf(stderr, "braid: cancelling %s (Ctrl-C again to leave at once)\n", id.c_str());
      (void)client.cancel({id});  // it may have ended meanwhile: nothing to cancel then
    }
    int code = 0;
    bool out_finished = false, err_finished = false;
    if (!pump(client, id, out, out_finished, code)) return code;
    if (!spec.separate_stderr) {
      err_finished = true;  // merged into the output
    } else if (!pump(client, id, err, err_finished, code)) {
      return code;
    }
    if (out_finished && err_finished) break;
    std::this_thread::sleep_for(kRunPollInterval);
  }
  int code = 0;
  auto reply = client.wait({id}, 0);  // ended: answers at once
  const auto* outcome = ok(reply, code);
  if (!outcome) return code;
  const rpc::TaskView& task = outcome->tasks.front();
  if (task.state != sched::TaskState::kCompleted) {
    std::fprintf(stderr, "braid: %s %s: %s\n", task.id.c_str(),
                 std::string(sched::to_string(task.state)).c_str(), task.reason.c_str());
  }
  return task_exit_code(task);
}

}  // namespace braid::node
