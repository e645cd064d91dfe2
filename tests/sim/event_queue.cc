// The simulator's event queue (tests/sim/event_queue.h).
#include "tests/sim/event_queue.h"

namespace braid::sim {

void EventQueue::push(Micros at_us, QueuedEvent::Kind kind, NodeIndex node, std::uint32_t payload) {
  heap_.push(QueuedEvent{at_us, next_seq_++, kind, node, payload});
}

QueuedEvent EventQueue::pop() {
  QueuedEvent top = heap_.top();
  heap_.pop();
  return top;
}

}  // namespace braid::sim
