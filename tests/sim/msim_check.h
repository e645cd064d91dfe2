// The crash runs' verdict (issue 11 §6): once a World has healed and
// settled, compares every node's store with the Ledger's record of what
// really ran. Per task:
//  - it completed exactly once (completions == 1), never had two processes
//    alive at once, and every start but one was lost to a crash (a requeue);
//  - its origin's record is completed and, if it ran elsewhere, names the
//    executor (the outcome went home);
//  - every forwarding pointer (a kMoved record on any node) leads, hop by
//    hop, to the executor; no other node holds a live copy;
// and no node saw a protocol violation (Ledger::violation).
#pragma once

#include <string>

#include "tests/sim/msim_world.h"

namespace braid::msim {

// "" when every check holds, else the first failure, one line.
std::string check_world(const World& world);

// Every node up and settled (no handoff, held adoption or outcome left),
// nobody declared dead, and every task's origin record finished.
bool settled(const World& world);

}  // namespace braid::msim
