// Every gossip tunable, in one documented place (docs/gossip.md explains the
// trade-offs). lan() is memberlist's LAN profile with faster probes and
// shorter suspicion, memberlist() its exact timers, fast() for tests on one
// machine.
#pragma once

#include <optional>
#include <string>

#include "gossip/types.h"

namespace braid::gossip {

struct GossipConfig {
  // Failure detection (SWIM).
  Micros probe_interval_us = 300 * kMicrosPerMilli;  // one probe per interval
  Micros probe_timeout_us = 150 * kMicrosPerMilli;   // direct ack wait before indirect probes
  int indirect_checks = 3;                           // k members asked to probe indirectly
  // Lifeguard suspicion: the timeout starts at
  //   suspicion_mult x max(1, log10(n)) x probe_interval x max_timeout_mult
  // and shrinks towards suspicion_mult x ... x probe_interval (without the
  // max multiplier) as independent suspicions arrive (suspicion_confirmations).
  int suspicion_mult = 2;
  int suspicion_max_timeout_mult = 6;
  int suspicion_confirmations = 3;  // independent accusers that bring it to the minimum
  // Lifeguard local health: missed acks, nacks not received and late timers
  // raise a score 0..awareness_max-1; every probe timeout is scaled by
  // (score + 1).
  int awareness_max = 8;
  // Dissemination.
  Micros gossip_interval_us = 200 * kMicrosPerMilli;  // piggyback-only gossip round
  int gossip_fanout = 3;                              // members per gossip round
  int retransmit_mult =
      4;  // a load update is sent retransmit_mult x max(2, ceil(log10(n + 1))) times
  // A membership update (join, suspect, dead, left) is flooded at once to
  // this many x max(2, ceil(log10(n + 1))) members: a member is missed by the whole
  // wave with probability ~e^-(that count), so 6 (x max(2, ...): e^-12 below 100 members)
  // keeps stragglers that wait for a later probe or sync rare.
  int membership_retransmit_mult = 6;
  Micros gossip_to_dead_us = 30 * kMicrosPerSecond;  // dead members still get gossip this long
  // Anti-entropy.
  Micros sync_interval_us = 30 * kMicrosPerSecond;  // push-pull with one random member
  // Joining: seeds are retried with exponential backoff until one answers.
  Micros join_retry_min_us = 500 * kMicrosPerMilli;
  Micros join_retry_max_us = 30 * kMicrosPerSecond;
  // A dead or left member is forgotten after this long (its name may then
  // come back as new).
  Micros reclaim_after_us = 10 * 60 * kMicrosPerSecond;
  // Lifeguard: tick() called more than this after its work was due means our
  // own loop stalled: raise the local health score, and give messages that
  // queued meanwhile a chance before failing a probe or a suspicion.
  Micros stall_threshold_us = 500 * kMicrosPerMilli;
  // A join sync is answered with this many pages of the table at most (each
  // kMaxSyncMembers members), so that a joiner learns the cluster at once;
  // periodic syncs walk the rest.
  int join_reply_max_pages = 8;
  // Partitions: every reconnect_interval a sync goes to one random member we
  // hold dead (not left), until it is reclaimed, so that two halves that
  // declared each other dead find each other again (Serf's reconnect).
  Micros reconnect_interval_us = 10 * kMicrosPerSecond;

  // braid's LAN defaults: memberlist's, except probes every 300 ms (150 ms
  // timeout) and suspicion_mult 2, chosen from the simulator's curve of
  // detection time against bytes (docs/gossip.md) to detect a failure
  // everywhere within 3 s at 100 nodes.
  static GossipConfig lan();
  // memberlist's DefaultLANConfig timers (probe 1 s, timeout 500 ms,
  // suspicion_mult 4): half the probe traffic, ~13 s detection at 100 nodes.
  static GossipConfig memberlist();
  static GossipConfig fast();  // ~10x faster timers: tests on loopback and the simulator
  // What is wrong (naming the field and what is allowed), or nullopt.
  std::optional<std::string> validate() const;
};

}  // namespace braid::gossip
