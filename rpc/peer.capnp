# The peer interface: what braidd nodes say to each other over TCP
# (--listen HOST:PORT). A connection's bootstrap capability is a Gate: a peer
# must prove it holds the cluster secret before it gets a Peer. Nothing here
# can submit, cancel or change policy: the control interface stays on the
# local Unix socket.
#
# Every field is checked at the edge (rpc/peer_convert.h) against the named
# limits of gossip/message.h before the protocol sees it.
@0xcb03bce5619aaafa;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("braid::rpc::schema");
using Control = import "control.capnp";

struct Load {
  queued @0 :UInt32;
  running @1 :UInt32;
  blocked @2 :UInt32;
  slots @3 :UInt32;
  freeSlots @4 :UInt32;
  topQueuedPriority @5 :Int32 = -1;   # -1: nothing queued
  accepting @6 :Bool = true;
}

enum MemberState { alive @0; suspect @1; dead @2; left @3; }

struct Update {
  enum Kind { alive @0; suspect @1; dead @2; left @3; load @4; }
  kind @0 :Kind;
  name @1 :Text;
  address @2 :Text;         # alive only
  incarnation @3 :UInt64;
  accuser @4 :Text;         # suspect and dead only
  load @5 :Load;            # load only
  loadVersion @6 :UInt64;
  loadAgeMs @7 :UInt32;
}

struct SyncMember {
  name @0 :Text;
  address @1 :Text;
  incarnation @2 :UInt64;
  state @3 :MemberState;
  load @4 :Load;
  loadVersion @5 :UInt64;
  loadAgeMs @6 :UInt32;
  loadIncarnation @7 :UInt64;
}

struct GossipMessage {
  from @0 :Text;
  fromAddress @1 :Text;
  fromIncarnation @2 :UInt64;
  updates @3 :List(Update);
  body :union {
    ping :group { seq @4 :UInt32; target @5 :Text; }
    ack :group { seq @6 :UInt32; }
    pingReq :group { seq @7 :UInt32; target @8 :Text; targetAddress @9 :Text; }
    nack :group { seq @10 :UInt32; }
    sync :group { join @11 :Bool; reply @12 :Bool; members @13 :List(SyncMember); }
  }
}

# Authentication, HMAC-SHA256 challenge-response (rpc/peer_auth.h): the
# client asks for a nonce, answers with its own nonce and
# mac = HMAC(secret, "braid-peer-v1 client" | serverNonce | clientNonce | name);
# the server answers with its proof HMAC(secret, "braid-peer-v1 server" | ...)
# and the Peer capability. A wrong mac gets an error and nothing else; the
# server closes the connection.
interface Gate {
  challenge @0 () -> (serverNonce :Data);
  prove @1 (clientNonce :Data, name :Text, mac :Data) -> (peer :Peer, serverMac :Data);
}

# Migration (docs/migration.md, sched/migration_message.h): one-way
# messages like gossip's; the handoff state machines retry and resolve what
# is lost. Checked at the edge by rpc/migration_convert.h.
struct MigratingTask {
  id @0 :Text;
  spec @1 :Control.TaskSpec;       # dependencies already met: none travel
  hasEnv @2 :Bool;                 # the submitter's environment travels with it
  env @3 :List(Text);
  submittedAtMicros @4 :Int64;
  attempts @5 :Int32;
  nodeRequeues @6 :Int32;
  hops @7 :Int32;
}

enum HandoffAnswerKind { accepted @0; refused @1; have @2; notHave @3; }

struct Outcome {
  taskId @0 :Text;
  executor @1 :Text;
  state @2 :Text;                  # completed, failed or cancelled
  hasExit @3 :Bool;
  exitKind @4 :UInt8;              # 0 exited, 1 signaled, 2 spawn failed
  exitCode @5 :Int32;
  exitError @6 :Text;
  reason @7 :Text;
  startedAtMicros @8 :Int64;
  finishedAtMicros @9 :Int64;
  attempts @10 :Int32;
  cpuTimeMicros @11 :Int64;
}

struct MigrationMessage {
  from @0 :Text;
  fromAddress @1 :Text;
  body :union {
    offer :group { epoch @2 :UInt64; task @3 :MigratingTask; }
    answer :group { taskId @4 :Text; epoch @5 :UInt64; kind @6 :HandoffAnswerKind; reason @7 :Text; }
    query :group { taskId @8 :Text; epoch @9 :UInt64; }
    outcome @10 :Outcome;
    outcomeAck :group { taskId @11 :Text; }
    workRequest :group { slots @12 :UInt32; }
    confirmQuery :group { taskId @13 :Text; epoch @14 :UInt64; }
    confirm :group { taskId @15 :Text; epoch @16 :UInt64; go @17 :Bool; }
  }
}

interface Peer {
  # One gossip message. The answer only says it was taken (or why not: a
  # one-line error); replies of the protocol travel as their own messages.
  deliver @0 (message :GossipMessage) -> (error :Text);
  # One migration message; the same contract.
  migrate @1 (message :MigrationMessage) -> (error :Text);

  # Following a task (docs/migration.md "Following a task"; bounds and
  # checks in rpc/peer_query.h). Questions, answered at once from the
  # answering node's own records; `error` non-empty: refused (unknown task).
  # Up to maxBytes of a task's stdout (stderr: its separate stderr) from
  # offset. A task this node handed on is answered with movedTo (no data):
  # the asker follows the pointer itself. state: the task's state here.
  readLog @2 (taskId :Text, stderr :Bool, offset :UInt64, maxBytes :UInt32)
      -> (data :Data, state :Text, movedTo :Text, error :Text);
  # The tasks this node holds that match (as `braid ps`: all, state, name
  # glob), in admission order, at most `limit` and as many as fit the
  # answer's byte bound; more = some were left out.
  listTasks @3 (all :Bool, state :Text, name :Text, limit :UInt32)
      -> (tasks :List(Control.TaskInfo), more :Bool, error :Text);
}
