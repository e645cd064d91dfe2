#include "tests/sim/event_queue.h"

#include <gtest/gtest.h>

namespace braid::sim {
namespace {

TEST(EventQueue, PopsInTimeOrderAndTiesInPushOrder) {
  EventQueue queue;
  queue.push(30, QueuedEvent::Kind::kTick, 1);
  queue.push(10, QueuedEvent::Kind::kDeliver, 2, 7);
  queue.push(30, QueuedEvent::Kind::kAction, 3);
  queue.push(20, QueuedEvent::Kind::kTick, 4);
  ASSERT_EQ(queue.size(), 4u);
  EXPECT_EQ(queue.next_us(), 10);
  QueuedEvent first = queue.pop();
  EXPECT_EQ(first.node, 2u);
  EXPECT_EQ(first.payload, 7u);
  EXPECT_EQ(queue.pop().node, 4u);
  EXPECT_EQ(queue.pop().node, 1u);  // pushed before node 3 at the same time
  EXPECT_EQ(queue.pop().node, 3u);
  EXPECT_TRUE(queue.empty());
}

}  // namespace
}  // namespace braid::sim
