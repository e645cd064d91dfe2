# The control interface: everything the `braid` CLI asks of its local braidd.
# Served only on a Unix socket (<data_dir>/braidd.sock, mode 0600).
#
# Conventions: every call that can refuse input returns `error`: empty on
# success, else one line naming what is wrong and what is allowed. Times are
# microseconds; timestamps are microseconds since the Unix epoch, 0 = never.
@0x948bc70205880c55;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("braid::rpc::schema");

struct TaskSpec {
  argv @0 :List(Text);
  env @1 :List(Text);                  # "KEY=VALUE"
  cwd @2 :Text;
  priority @3 :Int32 = 5;              # 0..10, higher runs first
  cpus @4 :Int32 = 1;
  memoryBytes @5 :UInt64;              # 0 = no limit
  after @6 :List(Text);                # ids that must complete first
  retries @7 :Int32;
  retryBackoffMicros @8 :Int64 = 1000000;
  timeLimitMicros @9 :Int64;           # running time per attempt; 0 = none
  name @10 :Text;
  pinned @11 :Bool;
  requeueOnRestart @12 :RequeueOnRestart;  # after a crash: requeue (bounded) or fail
  afterAny @13 :List(Text);            # ids that must end first, whatever the outcome
  afterFail @14 :List(Text);           # ids that must fail or be cancelled first
  hold @15 :Bool;                      # submit held: never started until released
  arrayIndex @16 :Int32 = -1;          # index in its --array; -1 = none
  arrayThrottle @17 :UInt32;           # at most this many of the submission's array started; 0 = no limit
  output @18 :Text;                    # stdout file pattern (%j %a %x %%); empty = <logs>/<id>.out
  separateStderr @19 :Bool;            # stderr to <logs>/<id>.err, not merged into the output
  account @20 :Text;                   # whose share it uses (Fair); empty = the default account
  constraints @21 :List(Label);        # node labels it needs (--node-label); all must match
}

# A node label KEY=VALUE (issue 11 §2; sched/labels.h for the shape).
struct Label {
  key @0 :Text;
  value @1 :Text;
}

enum RequeueOnRestart { nodeDefault @0; yes @1; no @2; }

struct TaskInfo {
  id @0 :Text;
  name @1 :Text;
  state @2 :Text;                      # pending queued running stopped ... completed failed cancelled
  node @3 :Text;                       # where it runs (or ran)
  priority @4 :Int32;
  argv @5 :List(Text);
  hasExit @6 :Bool;                    # an attempt ended; then exitCode or exitSignal
  exitCode @7 :Int32;                  # -1 when it ended by a signal or did not spawn
  exitSignal @8 :Int32;                # 0 unless ended by a signal
  reason @9 :Text;
  cpuTimeMicros @10 :Int64;            # CPU the task's processes used (measured), all attempts
  runTimeMicros @11 :Int64;            # time it held a slot, all attempts
  vruntime @12 :UInt64;                # Fair's weighted virtual runtime, nanoseconds
  preemptions @13 :UInt32;
  attempts @14 :UInt32;
  submittedAt @15 :Int64;
  startedAt @16 :Int64;
  finishedAt @17 :Int64;
  pid @18 :Int32;                      # process group leader while started, else 0
  cpus @19 :Int32;
  retries @20 :Int32;
  arrayIndex @21 :Int32 = -1;
  nodeRequeues @22 :UInt32;            # attempts requeued because braidd crashed
  account @23 :Text;                   # empty = the default account
  # Migration (docs/migration.md):
  hops @24 :UInt32;                    # migrations so far
  movedTo @25 :Text;                   # moved: the node it was handed to (or ran on)
  adoptedFrom @26 :Text;               # the donor, when this node adopted it
  refusals @27 :List(Refusal);         # peers that refused it, oldest first
  constraints @28 :List(Label);        # node labels it needs (--node-label)
}

struct Refusal {
  node @0 :Text;
  reason @1 :Text;
}

struct Stats {
  node @0 :Text;
  totalScheduled @1 :UInt64;
  contextSwitches @2 :UInt64;
  preemptions @3 :UInt64;
  activeProcesses @4 :UInt32;
  policy @5 :Text;
  quantumMicros @6 :Int64;
  paused @7 :Bool;
  slots @8 :Int32;
  slotsBusy @9 :Int32;
  executor @10 :Text;                  # "cgroup" or "signals"
  pending @11 :UInt64;
  queued @12 :UInt64;
  running @13 :UInt64;
  stopped @14 :UInt64;
  completed @15 :UInt64;
  failed @16 :UInt64;
  cancelled @17 :UInt64;
  uptimeMicros @18 :Int64;
  sliceCount @19 :UInt64;              # slices measured (start/resume -> stop)
  sliceErrorP50Micros @20 :Int64;      # |slice - quantum| over the last slices
  sliceErrorP99Micros @21 :Int64;
  held @22 :UInt64;
  memoryTotal @23 :UInt64;             # bytes that started tasks' memory is admitted against
  memoryLimits @24 :Text;              # "enforced" (cgroup memory.max) or "admitted" (only counted)
  memoryStarted @25 :UInt64;           # bytes started tasks count for: max(declared, measured)
  memoryAvailable @26 :UInt64;         # the machine's MemAvailable as last measured; 0 = unknown
  blocked @27 :UInt32;                 # running tasks seen mostly blocked: their slots are lent
  ioAware @28 :Bool;                   # blocked tasks lend their slots (--io-aware on, cgroup executor)
  labels @29 :List(Label);             # this node's labels (braidd --label)
}

enum PriorityOp { set @0; boost @1; lower @2; }
enum SchedulerOp { pause @0; resume @1; trigger @2; next @3; }

interface Control {
  # env: the submitter's environment ("KEY=VALUE"), sent once for all the
  # specs, which start from it (`braid submit --export`); hasEnv false = they
  # start from braidd's own environment.
  submit @0 (specs :List(TaskSpec), env :List(Text), hasEnv :Bool) -> (ids :List(Text), error :Text);
  # A page of tasks in admission order: those admitted after the cursor
  # `after` (0 = from the first) that match; at most `limit` (0 = the
  # server's page size). `next` is the cursor for the next page, 0 = no more.
  # name: a glob (fnmatch) on the task's name; empty = any.
  # cluster: also every live peer's tasks (on the first page, after = 0;
  # each peer's first `limit`); peerErrors: one line per peer whose tasks
  # are missing or cut ("NODE: why").
  list @1 (all :Bool, state :Text, name :Text, after :UInt64, limit :UInt32, cluster :Bool)
      -> (tasks :List(TaskInfo), error :Text, next :UInt64, peerErrors :List(Text));
  show @2 (ids :List(Text)) -> (tasks :List(TaskInfo), error :Text);
  # Resolves when every task is terminal, or after timeoutMicros (0 = no timeout).
  wait @3 (ids :List(Text), timeoutMicros :Int64) -> (tasks :List(TaskInfo), timedOut :Bool, error :Text);
  cancel @4 (ids :List(Text)) -> (error :Text);
  # Up to maxBytes of a task's stdout/stderr from offset; finished = the task is terminal.
  readLog @5 (id :Text, stderr :Bool, offset :UInt64, maxBytes :UInt32) -> (data :Data, finished :Bool, error :Text);
  stats @6 () -> (stats :Stats);
  setPolicy @7 (name :Text) -> (error :Text);
  setQuantum @8 (micros :Int64) -> (error :Text);
  priority @9 (id :Text, op :PriorityOp, value :Int32) -> (priority :Int32, error :Text);
  scheduler @10 (op :SchedulerOp) -> (error :Text);
  # Cancels every task that is not finished and matches: state (a live state,
  # or "all"), name glob (empty = any). Returns how many it cancelled.
  cancelWhere @11 (state :Text, name :Text) -> (cancelled :UInt64, error :Text);
  # Purges every finished task now (records and logs), like `tsp -C`.
  clear @12 () -> (purged :UInt64, error :Text);
  # Hold pending/queued tasks (never started until released), or release held ones.
  hold @13 (ids :List(Text), release :Bool) -> (error :Text);
  # Every member this node knows (itself included), in name order; `listen`
  # is empty when the node has no peer listener.
  peers @14 () -> (members :List(PeerInfo), listen :Text, gossip :GossipCounters,
                   migration :MigrationCounters);
  # Tests only (`braid debug peer-faults`): replaces the faults the peer
  # transport injects in what it sends: dropPermille (0..1000) of messages,
  # and every message to a blocked peer address. Refused without peers.
  setPeerFaults @15 (dropPermille :UInt32, blocked :List(Text)) -> (error :Text);
  # Drain (docs/migration.md): the node takes no new tasks (submissions and
  # peers' offers) and offers its queued tasks to peers; cancel: it takes
  # tasks again. Answers the drain's state either way.
  # query: only answers the state (no change).
  drain @16 (cancel :Bool, query :Bool) -> (state :DrainState, error :Text);
}

struct DrainState {
  draining @0 :Bool;
  migrate @1 :Bool;     # queued tasks can leave (braidd --migrate)
  queued @2 :UInt64;    # queued tasks that may still leave (those being offered too)
  staying @3 :UInt64;   # pending, held or pinned tasks: they do not leave
  running @4 :UInt64;   # started attempts (running or stopped)
}

# Since start. Bytes are gossip messages as encoded on the wire (without
# Cap'n Proto's RPC framing).
struct GossipCounters {
  messagesSent @0 :UInt64;
  messagesReceived @1 :UInt64;
  bytesSent @2 :UInt64;
  bytesReceived @3 :UInt64;
  dropped @4 :UInt64;           # could not be sent (queue full, link down, injected faults)
  probes @5 :UInt64;
  suspicionsRaised @6 :UInt64;
  deathsDeclared @7 :UInt64;
  refutations @8 :UInt64;
  refusedAuth @9 :UInt64;       # connections without the cluster secret
  invalid @10 :UInt64;          # messages that failed validation
  healthScore @11 :Int32;       # Lifeguard local health, 0 = healthy
  # How late braidd's loop ran the gossip timer: its responsiveness.
  timerFires @12 :UInt64;
  timerLate10ms @13 :UInt64;    # fires more than 10 ms after they were due
  timerLateMaxUs @14 :UInt64;
}

# Migration since start (docs/migration.md); all zero without --migrate.
struct MigrationCounters {
  enabled @0 :Bool;
  offersMade @1 :UInt64;        # handoffs this node began as donor
  movedAway @2 :UInt64;         # of them, accepted by the peer
  refusedByPeers @3 :UInt64;
  reclaimed @4 :UInt64;         # taken back from a peer declared dead
  adopted @5 :UInt64;           # tasks adopted from peers
  refusedByUs @6 :UInt64;
  unresolved @7 :UInt64;        # donor journal entries migrating or reclaimed, now
  outcomesOwed @8 :UInt64;      # in the outbox, not yet acknowledged by their origin
  outcomesApplied @9 :UInt64;   # as the origin
  outcomesUnexpected @10 :UInt64;  # a task that ran elsewhere was not moved here: ran twice?
  forcedReleases @11 :UInt64;   # adoptions released without the donor's word: may run twice
  held @12 :UInt64;             # adoptions awaiting the donor's confirmation, now
  released @13 :UInt64;         # adoptions confirmed (runnable)
  discarded @14 :UInt64;        # adoptions discarded (the donor kept the task)
}

struct PeerInfo {
  name @0 :Text;
  address @1 :Text;
  state @2 :Text;                 # alive, suspect, dead or left
  incarnation @3 :UInt64;
  queued @4 :UInt32;
  running @5 :UInt32;
  blocked @6 :UInt32;
  slots @7 :UInt32;
  freeSlots @8 :UInt32;
  topQueuedPriority @9 :Int32;    # -1: nothing queued
  accepting @10 :Bool;
  ageMicros @11 :Int64;           # age of the load figure; -1: none known yet
  isSelf @12 :Bool;
}
