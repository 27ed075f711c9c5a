------------------------------ MODULE ZkCommon ------------------------------
(***************************************************************************)
(* State shared by FastLeaderElection, Zab and ZkSystem: every variable of *)
(* the composed system, the packet records, helpers on zxids, logs and     *)
(* link queues, the transitions that start and leave a role, and the       *)
(* faults (crash, restart, link break, link heal).                         *)
(*                                                                         *)
(* Conventions (the conformance runner relies on them):                    *)
(*  - every action is an operator Op(i) or Op(i, j); i is the server that  *)
(*    acts, j the peer whose message it handles (always the head of the    *)
(*    j -> i queue) or the other end of a link;                            *)
(*  - messages travel on FIFO queues per directed link, one family for the *)
(*    quorum port (qmsgs) and one for the election port (emsgs);           *)
(*  - message records mirror ZooKeeper's packets: mtype is the packet      *)
(*    name, mzxid the packet's zxid as <<epoch, counter>>.                 *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets, TLC

CONSTANTS
    Server,            \* server ids (naturals when FLE compares them)
    MaxEpoch,          \* no leader proposes an epoch above this
    MaxTxns,           \* txns in a behaviour (initial logs included)
    MaxCrashes,        \* crashes in a behaviour
    MaxLinkBreaks,     \* link breaks in a behaviour
    MaxRound,          \* bound on FLE logical clocks (rounds)
    CommittedLogSize,  \* size of the leader's committedLog window (3.8: 500)
    UseFLE,            \* TRUE: going LOOKING starts an FLE round
    ModelFsync,        \* TRUE: a logged txn is durable only at FsyncLog (pendingFsync);
                       \* FALSE: logged is durable (the conformance models, until the runner follows)
    SplitNewLeader,    \* TRUE: a late joiner's NEWLEADER is queued by SendNEWLEADER, a step of its
                       \* own after the sync packets; FALSE: queued with them
    Observers,         \* the servers of Server that are observers (peerType=observer); {}
                       \* but in the observer models, and {} whenever UseFLE (not modelled)
    TxnLogSync         \* TRUE: a follower behind the committedLog window is synced from the
                       \* leader's txn log when it holds the follower's zxid (3.8's default,
                       \* zookeeper.snapshotSizeFactor); FALSE: it gets a SNAP

ASSUME /\ MaxEpoch \in Nat /\ MaxTxns \in Nat /\ MaxCrashes \in Nat
       /\ MaxLinkBreaks \in Nat /\ MaxRound \in Nat
       /\ CommittedLogSize \in Nat \ {0} /\ UseFLE \in BOOLEAN
       /\ ModelFsync \in BOOLEAN /\ SplitNewLeader \in BOOLEAN /\ TxnLogSync \in BOOLEAN
       /\ Observers \subseteq Server /\ (UseFLE => Observers = {})

VARIABLES
    \* ---- durable (survive a crash) ----
    currentEpoch,      \* [Server -> Nat]  file currentEpoch
    acceptedEpoch,     \* [Server -> Nat]  file acceptedEpoch
    history,           \* [Server -> Seq(Txn)] the txn log (snapshot + log), its durable part
    \* ---- on disk, not durable (lost in a crash) ----
    pendingFsync,      \* [Server -> Seq(Txn)] txns appended to the log after history, not yet
                       \* fsynced (FsyncLog makes them durable); <<>> unless ModelFsync
    \* ---- role (volatile) ----
    state,             \* [Server -> {LOOKING, FOLLOWING, OBSERVING, LEADING, DOWN}]
    zabState,          \* [Server -> {ELECTION, DISCOVERY, SYNCHRONIZATION, BROADCAST}]
    lastCommitted,     \* [Server -> Zxid] last txn applied as committed
    \* ---- FastLeaderElection (volatile) ----
    logicalclock,      \* [Server -> Nat]  election round
    vote,              \* [Server -> [leader, zxid, peerEpoch]] proposal / current vote
    recvVotes,         \* [Server -> SUBSET VoteRec]  recvset of this round
    outOfElection,     \* [Server -> SUBSET VoteRec]  outofelection
    finalizing,        \* [Server -> BOOLEAN] lookForLeader is in its finalize wait
    \* ---- leader (volatile) ----
    newEpoch,          \* [Server -> Nat] epoch the leader proposes / leads
    learners,          \* [Server -> [Server -> LHPhase]] LearnerHandler of i for j
    learnerZxid,       \* [Server -> [Server -> Zxid]] ACKEPOCH zxid, kept while WAIT_SYNC (cleared when the connection closes)
    connectingFollowers, \* [Server -> SUBSET Server] FOLLOWERINFO senders (epoch quorum)
    electingFollowers, \* [Server -> SUBSET Server] ACKEPOCH senders (epoch-ack quorum)
    newLeaderAckers,   \* [Server -> SUBSET Server] NEWLEADER ACK senders
    proposalAcks,      \* [Server -> SUBSET (Server \X Zxid)] acks of outstanding proposals
    \* ---- follower (volatile) ----
    syncStage,         \* [Server -> {NONE, WAIT_SYNC, SYNCING, NEWLEADER_ACKED}]
    syncHistory,       \* [Server -> Seq(Txn)] log being built by DIFF/TRUNC/SNAP + PROPOSALs
    syncCommit,        \* [Server -> Zxid] highest zxid the leader said committed during sync
    \* ---- network ----
    qmsgs,             \* [Server -> [Server -> Seq(QMsg)]] quorum port, i -> j
    emsgs,             \* [Server -> [Server -> Seq(Notification)]] election port, i -> j
    \* ---- QuorumCnxManager (volatile) ----
    ekept,             \* [Server -> [Server -> Seq(Notification)]] (at most one): the last
                       \* notification i sent or queued to j (queueSendMap / lastMessageSent)
    eclosed,           \* SUBSET {{i, j}}: pairs whose election connection was lost, not redialled
    equeued,           \* [Server -> SUBSET Server]: peers whose kept message from i is still
                       \* queued (sent while no connection; haveDelivered is false for them)
    brokenLinks,       \* SUBSET {{i, j}}: partitioned links
    \* ---- bounds ----
    crashes, linkBreaks, clientWrites,
    \* ---- ghosts (history variables for the invariants) ----
    castVotes,         \* every notification any server sent (CastRec: its vote, state, round, base)
    decisions,         \* every election outcome (DecisionRec: who, for which vote, round, path)
    proposals,         \* every txn a leader ever proposed
    committed,         \* every txn any server ever delivered
    commitLog,         \* the longest sequence of txns delivered so far
    establishedLeaders \* every <<leader, epoch>> that completed synchronization

\* the data dir: the durable files and the log's written-not-synced tail
durableVars  == <<currentEpoch, acceptedEpoch, history, pendingFsync>>
roleVars     == <<state, zabState, lastCommitted>>
\* castVotes and decisions are ghosts of the election (never read by an action)
fleVars      == <<logicalclock, vote, recvVotes, outOfElection, finalizing, castVotes, decisions>>
\* the election port's connections: what each end keeps for the other
qcmVars      == <<ekept, eclosed, equeued>>
electionVars == <<fleVars, qcmVars>>
\* the election variables no Zab handler changes, besides those it names
electionLocalVars == <<finalizing, qcmVars>>
leaderVars   == <<newEpoch, learners, learnerZxid, connectingFollowers,
                  electingFollowers, newLeaderAckers, proposalAcks>>
followerVars == <<syncStage, syncHistory, syncCommit>>
netVars      == <<qmsgs, emsgs, brokenLinks>>
boundVars    == <<crashes, linkBreaks, clientWrites>>
ghostVars    == <<proposals, committed, commitLog, establishedLeaders>>
vars == <<durableVars, roleVars, electionVars, leaderVars, followerVars,
          netVars, boundVars, ghostVars>>

-----------------------------------------------------------------------------
(* Values *)

States    == {"LOOKING", "FOLLOWING", "OBSERVING", "LEADING", "DOWN"}
\* a learner's state: FOLLOWING, or OBSERVING for an observer
LearnerStates == {"FOLLOWING", "OBSERVING"}
ZabStates == {"ELECTION", "DISCOVERY", "SYNCHRONIZATION", "BROADCAST"}
LHPhases  == {"NONE",               \* no LearnerHandler (no connection)
              "WAIT_EPOCH",         \* got FOLLOWERINFO, epoch not decided yet
              "WAIT_ACKEPOCH",      \* sent LEADERINFO
              "WAIT_SYNC",          \* got ACKEPOCH, waiting for the epoch-ack quorum
              "SYNC_QUEUED",        \* sent DIFF/TRUNC/SNAP, forwarding, NEWLEADER not yet queued
              "WAIT_NEWLEADER_ACK", \* sent DIFF/TRUNC/SNAP ... NEWLEADER (forwarding)
              "WAIT_QUORUM",        \* got the NEWLEADER ACK, waiting for the quorum
              "SYNCED"}             \* sent UPTODATE
SyncStages == {"NONE", "WAIT_SYNC", "SYNCING", "NEWLEADER_ACKED"}

Epoch == 0..MaxEpoch
Zxid  == Epoch \X (0..MaxTxns)
NoZxid == <<0, 0>>
Txn   == [zxid : Zxid, value : 1..MaxTxns]

Max(a, b) == IF a >= b THEN a ELSE b

\* zxids are <<epoch, counter>>; ZooKeeper compares them as 64-bit longs
ZxidLT(a, b) == a[1] < b[1] \/ (a[1] = b[1] /\ a[2] < b[2])
ZxidLE(a, b) == a = b \/ ZxidLT(a, b)

-----------------------------------------------------------------------------
(* Logs: sequences of txns, sorted by zxid *)

Range(s) == {s[k] : k \in DOMAIN s}
Zxids(h) == {h[k].zxid : k \in DOMAIN h}
LastZxid(h) == IF h = <<>> THEN NoZxid ELSE h[Len(h)].zxid
\* the txns of h up to and including zxid z
PrefixTo(h, z) == SelectSeq(h, LAMBDA t : ZxidLE(t.zxid, z))
\* the txns of h after zxid z
AfterZxid(h, z) == SelectSeq(h, LAMBDA t : ZxidLT(z, t.zxid))
IsPrefix(s, t) == Len(s) <= Len(t) /\ SubSeq(t, 1, Len(s)) = s
\* i's txn log as the process sees it: the durable part, then what is
\* written but not yet fsynced (the in-memory database and the leader's
\* proposals follow this one; a crash keeps history only)
Log(i) == history[i] \o pendingFsync[i]
\* the ghost commitLog after some server delivered the sequence d: extended
\* when d extends it (a d that diverges from it is caught by TotalOrder)
ExtendLog(c, d) == IF IsPrefix(c, d) THEN d ELSE c

\* the voting members; majority quorums of them (observers never count)
Voters == Server \ Observers
IsQuorum(S) == 2 * Cardinality(S \cap Voters) > Cardinality(Voters)

-----------------------------------------------------------------------------
(* Packets.  Quorum port (QuorumPacket type names as in Leader.java): *)

FollowerInfoMsg(ae) == [mtype |-> "FOLLOWERINFO", mzxid |-> <<ae, 0>>]
ObserverInfoMsg(ae) == [mtype |-> "OBSERVERINFO", mzxid |-> <<ae, 0>>]
LeaderInfoMsg(e)    == [mtype |-> "LEADERINFO", mzxid |-> <<e, 0>>]
\* mzxid: the follower's last logged zxid; mepoch: its currentEpoch, or -1
\* when it had already accepted this epoch (not counted for the quorum)
AckEpochMsg(z, ce)  == [mtype |-> "ACKEPOCH", mzxid |-> z, mepoch |-> ce]
DiffMsg(z)          == [mtype |-> "DIFF", mzxid |-> z]
TruncMsg(z)         == [mtype |-> "TRUNC", mzxid |-> z]
\* the snapshot streamed after a SNAP packet: the leader's committed txns
SnapMsg(z, snap)    == [mtype |-> "SNAP", mzxid |-> z, msnapshot |-> snap]
ProposalMsg(t)      == [mtype |-> "PROPOSAL", mzxid |-> t.zxid, mdata |-> t.value]
CommitMsg(z)        == [mtype |-> "COMMIT", mzxid |-> z]
NewLeaderMsg(e)     == [mtype |-> "NEWLEADER", mzxid |-> <<e, 0>>]
AckMsg(z)           == [mtype |-> "ACK", mzxid |-> z]
UpToDateMsg         == [mtype |-> "UPTODATE"]
\* a committed txn, to an observer (Leader.inform: observers get no PROPOSAL or COMMIT)
InformMsg(t)        == [mtype |-> "INFORM", mzxid |-> t.zxid, mdata |-> t.value]

(* Election port: a Notification (FastLeaderElection.ToSend) *)
NotificationMsg(v, ee, st) ==
    [mtype |-> "NOTIFICATION", mleader |-> v.leader, mzxid |-> v.zxid,
     melectionEpoch |-> ee, mpeerEpoch |-> v.peerEpoch, mstate |-> st]

-----------------------------------------------------------------------------
(* Links.  A message to a DOWN server or over a broken link is lost (on  *)
(* the election port the sender keeps it: ESend below).                 *)

Reachable(i, j) == i # j /\ state[j] # "DOWN" /\ {i, j} \notin brokenLinks

\* q with m appended to the i -> j queue (if the link works)
Enq(q, i, j, m) ==
    IF Reachable(i, j) THEN [q EXCEPT ![i][j] = Append(@, m)] ELSE q
\* q with the sequence ms appended to the i -> j queue for every j in S
EnqSeqTo(q, i, S, ms) ==
    [a \in Server |-> [b \in Server |->
        IF a = i /\ b \in S /\ Reachable(i, b) THEN q[a][b] \o ms ELSE q[a][b]]]
EnqTo(q, i, S, m) == EnqSeqTo(q, i, S, <<m>>)
\* q without the head of the j -> i queue
Deq(q, j, i) == [q EXCEPT ![j][i] = Tail(@)]
\* q with every queue to or from i emptied (i's connections closed)
ClearAll(q, i) ==
    [a \in Server |-> [b \in Server |-> IF a = i \/ b = i THEN <<>> ELSE q[a][b]]]
\* q with both queues between i and j emptied
ClearLink(q, i, j) == [q EXCEPT ![i][j] = <<>>, ![j][i] = <<>>]

-----------------------------------------------------------------------------
(* Votes *)

\* the vote a server starts a round with: (myid, last logged zxid, currentEpoch)
InitVote(i) == [leader |-> i, zxid |-> LastZxid(Log(i)), peerEpoch |-> currentEpoch[i]]
NullVote(i) == [leader |-> i, zxid |-> NoZxid, peerEpoch |-> 0]
\* an entry of recvset / outofelection (Vote with its sender and state)
VoteRec(sid, v, ee, st) ==
    [sid |-> sid, leader |-> v.leader, zxid |-> v.zxid, electionEpoch |-> ee,
     peerEpoch |-> v.peerEpoch, state |-> st]

\* a vote i sent, as the ghost castVotes keeps it: base is i's own initial
\* vote at the time (what the election order must never go below)
CastRec(i, v, ee, st) == VoteRec(i, v, ee, st) @@ [base |-> InitVote(i)]

\* the election port has a loopback: 3.8's QuorumCnxManager puts a
\* notification to oneself straight into its own receive queue (the
\* emsgs[i][i] queue), and lookForLeader counts it like any other
EReachable(i, j) == i = j \/ Reachable(i, j)
\* send n to every server, i itself included (sendNotifications)
Broadcast(q, i, n) ==
    [a \in Server |-> [b \in Server |->
        IF a = i /\ EReachable(i, b) THEN Append(q[a][b], n) ELSE q[a][b]]]

\* 3.8's QuorumCnxManager: i sends m to every j in S (i itself: the
\* loopback), from the election queues q.  It keeps m for j (queueSendMap
\* holds one message, lastMessageSent the one sent last), whether j is up
\* or not.  To a reachable j, m is in flight at once; if their connection
\* had been lost, the dial opens a new one, and j's SendWorker first sends
\* what j keeps for i (the last message it sent i: i may have lost it).  To
\* a down or cut-off j, m is only kept: it goes out on the next connection.
\* the peers of S whose lost connection with i a dial of i's reopens
Reopened(i, S) == {b \in S \ {i} : Reachable(i, b) /\ {i, b} \in eclosed}
\* the peers' side of a reopened connection: their kept message first; i's
\* queued message to each of R sent; the connections open again
EReopen(i, R) ==
    /\ eclosed' = eclosed \ {{i, b} : b \in R}
    /\ equeued' = [a \in Server |-> IF a \in R THEN equeued[a] \ {i} ELSE equeued[a]]
ESend(q, i, S, m) ==
    /\ emsgs' = [a \in Server |-> [b \in Server |->
                   IF a = i /\ b \in S /\ EReachable(i, b) THEN Append(q[a][b], m)
                   ELSE IF b = i /\ a \in Reopened(i, S) THEN q[a][b] \o ekept[a][b]
                   ELSE q[a][b]]]
    /\ ekept' = [ekept EXCEPT ![i] = [b \in Server |-> IF b \in S \ {i} THEN <<m>> ELSE ekept[i][b]]]
    /\ eclosed' = eclosed \ {{i, b} : b \in {x \in S : Reachable(i, x)}}
    /\ equeued' = [a \in Server |->
                     IF a = i THEN (equeued[i] \ S) \cup {b \in S \ {i} : ~Reachable(i, b)}
                     ELSE IF a \in Reopened(i, S) THEN equeued[a] \ {i}
                     ELSE equeued[a]]
\* haveDelivered: some peer's queue from i is empty (its last message went out)
HaveDelivered(i) == \E b \in Server \ {i} : b \notin equeued[i]
\* connectAll: i redials every peer it lost the connection to; each new
\* connection carries i's queued message and the peer's kept one
EConnectAll(i) ==
    LET R == Reopened(i, Server)
    IN /\ emsgs' = [a \in Server |-> [b \in Server |->
                      IF a = i /\ b \in R THEN emsgs[a][b] \o ekept[a][b]
                      ELSE IF b = i /\ a \in R THEN emsgs[a][b] \o ekept[a][b]
                      ELSE emsgs[a][b]]]
       /\ UNCHANGED ekept
       /\ eclosed' = eclosed \ {{i, b} : b \in R}
       /\ equeued' = [a \in Server |-> IF a = i THEN equeued[i] \ R
                                        ELSE IF a \in R THEN equeued[a] \ {i} ELSE equeued[a]]
\* the election queues become q, nothing sent
ENoSend(q) == emsgs' = q /\ UNCHANGED qcmVars

-----------------------------------------------------------------------------
(* Entering and leaving a role *)

LeaderEntering(i) == acceptedEpoch[i] + 1 <= MaxEpoch

\* i starts the role its election chose: leader l (= i: LEADING).  Primes
\* state, zabState, newEpoch and qmsgs.  A follower connects to its leader
\* and sends FOLLOWERINFO (lost if the leader is down or the link broken:
\* the follower then times out); a leader waits for FOLLOWERINFOs.
StartRole(i, l) ==
    IF l = i
    THEN /\ state' = [state EXCEPT ![i] = "LEADING"]
         /\ zabState' = [zabState EXCEPT ![i] = "DISCOVERY"]
         /\ newEpoch' = [newEpoch EXCEPT ![i] = acceptedEpoch[i] + 1]
         /\ UNCHANGED qmsgs
    ELSE /\ state' = [state EXCEPT ![i] = IF i \in Observers THEN "OBSERVING" ELSE "FOLLOWING"]
         /\ zabState' = [zabState EXCEPT ![i] = "DISCOVERY"]
         /\ qmsgs' = Enq(qmsgs, i, l, IF i \in Observers THEN ObserverInfoMsg(acceptedEpoch[i])
                                      ELSE FollowerInfoMsg(acceptedEpoch[i]))
         /\ UNCHANGED newEpoch

\* the LearnerHandlers of i and the handlers for i at any leader, closed
CloseHandlers(i) ==
    [a \in Server |-> [b \in Server |-> IF a = i \/ b = i THEN "NONE" ELSE learners[a][b]]]

\* the ACKEPOCH zxids once i's handlers and the handlers for i close (the
\* zxid lives in its LearnerHandler, which ends with the connection)
ClearLearnerZxid(i) ==
    [a \in Server |-> [b \in Server |-> IF a = i \/ b = i THEN NoZxid ELSE learnerZxid[a][b]]]

\* the leaders' ack sets once i's connections close: a leader forgets the
\* ACKs of a learner whose connection closed (3.8 keeps them, so a follower
\* that reconnects and truncates a proposal it had ACKed still counts for
\* it: see README); i's own ack sets are dropped
ForgetAcks(i) ==
    [a \in Server |-> IF a = i THEN {} ELSE {p \in proposalAcks[a] : p[1] # i}]

\* i leaves its Zab role: every quorum connection of i closes (both ends
\* see it), the role's volatile state is dropped.  Primes zabState, the
\* leader and follower variables and qmsgs.
LeaveRole(i) ==
    /\ zabState' = [zabState EXCEPT ![i] = "ELECTION"]
    /\ newEpoch' = [newEpoch EXCEPT ![i] = 0]
    /\ learners' = CloseHandlers(i)
    /\ learnerZxid' = ClearLearnerZxid(i)
    /\ connectingFollowers' = [connectingFollowers EXCEPT ![i] = {}]
    /\ electingFollowers' = [electingFollowers EXCEPT ![i] = {}]
    /\ newLeaderAckers' = [newLeaderAckers EXCEPT ![i] = {}]
    /\ proposalAcks' = ForgetAcks(i)
    /\ syncStage' = [syncStage EXCEPT ![i] = "NONE"]
    /\ syncHistory' = [syncHistory EXCEPT ![i] = <<>>]
    /\ syncCommit' = [syncCommit EXCEPT ![i] = NoZxid]
    /\ qmsgs' = ClearAll(qmsgs, i)

\* i (up) starts a new FLE round (lookForLeader): logicalclock + 1, votes
\* for itself, notifies everyone, itself included (its recvset starts empty:
\* its own vote arrives through the loopback queue).  Primes the election
\* variables and emsgs.
\* Without FLE (Zab's oracle election) the election variables stay put.
StartElection(i, eq) ==
    IF UseFLE
    THEN LET lc == logicalclock[i] + 1
             v  == InitVote(i)
         IN /\ logicalclock' = [logicalclock EXCEPT ![i] = lc]
            /\ vote' = [vote EXCEPT ![i] = v]
            /\ recvVotes' = [recvVotes EXCEPT ![i] = {}]
            /\ outOfElection' = [outOfElection EXCEPT ![i] = {}]
            /\ finalizing' = [finalizing EXCEPT ![i] = FALSE]
            /\ ESend(eq, i, Server, NotificationMsg(v, lc, "LOOKING"))
            /\ castVotes' = castVotes \cup {CastRec(i, v, lc, "LOOKING")}
            /\ UNCHANGED decisions
    ELSE /\ emsgs' = eq
         /\ UNCHANGED electionVars

\* i gives up its role (timeout, error) and goes back to LOOKING.  Its
\* log's pending tail is fsynced (3.8's SyncRequestProcessor.shutdown
\* flushes; the ACKs it would send go nowhere: the connection is closed),
\* so the vote is the whole log.  Primes history and pendingFsync too.
BecomeLooking(i) ==
    /\ UseFLE => logicalclock[i] < MaxRound
    /\ state' = [state EXCEPT ![i] = "LOOKING"]
    /\ history' = [history EXCEPT ![i] = Log(i)]
    /\ pendingFsync' = [pendingFsync EXCEPT ![i] = <<>>]
    /\ LeaveRole(i)
    /\ StartElection(i, emsgs)

-----------------------------------------------------------------------------
(* Faults *)

\* i crashes: it keeps its durable state only (the log's pending tail is
\* lost); its connections close
Crash(i) ==
    /\ state[i] # "DOWN"
    /\ crashes < MaxCrashes
    /\ crashes' = crashes + 1
    /\ state' = [state EXCEPT ![i] = "DOWN"]
    /\ lastCommitted' = [lastCommitted EXCEPT ![i] = NoZxid]
    /\ LeaveRole(i)
    /\ logicalclock' = [logicalclock EXCEPT ![i] = 0]
    /\ vote' = [vote EXCEPT ![i] = NullVote(i)]
    /\ recvVotes' = [recvVotes EXCEPT ![i] = {}]
    /\ outOfElection' = [outOfElection EXCEPT ![i] = {}]
    /\ finalizing' = [finalizing EXCEPT ![i] = FALSE]
    \* a new QuorumCnxManager at restart: nothing kept; the peers keep theirs
    /\ ekept' = [ekept EXCEPT ![i] = [j \in Server |-> <<>>]]
    /\ equeued' = [equeued EXCEPT ![i] = {}]
    /\ eclosed' = IF UseFLE THEN eclosed \cup {{i, k} : k \in Server \ {i}} ELSE eclosed
    /\ UNCHANGED <<castVotes, decisions>>
    /\ emsgs' = ClearAll(emsgs, i)
    /\ pendingFsync' = [pendingFsync EXCEPT ![i] = <<>>]
    /\ UNCHANGED <<currentEpoch, acceptedEpoch, history, brokenLinks, linkBreaks, clientWrites,
                   ghostVars>>

\* i restarts from its durable state and starts looking for a leader
Restart(i) ==
    /\ state[i] = "DOWN"
    /\ state' = [state EXCEPT ![i] = "LOOKING"]
    /\ StartElection(i, emsgs)
    /\ UNCHANGED <<durableVars, zabState, lastCommitted, leaderVars, followerVars,
                   qmsgs, brokenLinks, boundVars, ghostVars>>

\* the link between i and j breaks: what is in flight is lost, the quorum
\* connection between them (if any) closes at both ends.  LinkBreak(i, j)
\* and LinkBreak(j, i) are the same event (ids may be model values: no order)
LinkBreak(i, j) ==
    /\ i # j
    /\ {i, j} \notin brokenLinks
    /\ linkBreaks < MaxLinkBreaks
    /\ linkBreaks' = linkBreaks + 1
    /\ brokenLinks' = brokenLinks \cup {{i, j}}
    /\ qmsgs' = ClearLink(qmsgs, i, j)
    /\ emsgs' = ClearLink(emsgs, i, j)
    /\ eclosed' = IF UseFLE THEN eclosed \cup {{i, j}} ELSE eclosed
    /\ learners' = [learners EXCEPT ![i][j] = "NONE", ![j][i] = "NONE"]
    /\ learnerZxid' = [learnerZxid EXCEPT ![i][j] = NoZxid, ![j][i] = NoZxid]
    /\ proposalAcks' = [proposalAcks EXCEPT ![i] = {p \in @ : p[1] # j},
                                            ![j] = {p \in @ : p[1] # i}]
    /\ UNCHANGED <<durableVars, roleVars, fleVars, ekept, equeued, newEpoch,
                   connectingFollowers, electingFollowers, newLeaderAckers,
                   followerVars, crashes, clientWrites, ghostVars>>

\* the link between i and j heals (nothing is resent by itself: the election
\* connection is redialled by the next notification either sends the other)
LinkHeal(i, j) ==
    /\ i # j
    /\ {i, j} \in brokenLinks
    /\ brokenLinks' = brokenLinks \ {{i, j}}
    /\ UNCHANGED <<durableVars, roleVars, electionVars, leaderVars, followerVars,
                   qmsgs, emsgs, boundVars, ghostVars>>

-----------------------------------------------------------------------------
(* Initial state: every server up, LOOKING in round 1, its first           *)
(* notifications in flight (with FLE).  InitWith starts from given logs   *)
(* and epochs (a state after earlier epochs, every server just restarted): *)
(* clog is what was delivered then, leaders the established leaders.      *)

InitWith(hist, ce, clog, leaders) ==
    /\ currentEpoch = ce
    /\ acceptedEpoch = ce
    /\ history = hist
    /\ pendingFsync = [i \in Server |-> <<>>]
    /\ state = [i \in Server |-> "LOOKING"]
    /\ zabState = [i \in Server |-> "ELECTION"]
    /\ lastCommitted = [i \in Server |-> NoZxid]
    /\ logicalclock = [i \in Server |-> IF UseFLE THEN 1 ELSE 0]
    /\ vote = [i \in Server |->
                 [leader |-> i, zxid |-> LastZxid(hist[i]), peerEpoch |-> ce[i]]]
    /\ recvVotes = [i \in Server |-> {}]
    /\ outOfElection = [i \in Server |-> {}]
    /\ finalizing = [i \in Server |-> FALSE]
    /\ newEpoch = [i \in Server |-> 0]
    /\ learners = [i \in Server |-> [j \in Server |-> "NONE"]]
    /\ learnerZxid = [i \in Server |-> [j \in Server |-> NoZxid]]
    /\ connectingFollowers = [i \in Server |-> {}]
    /\ electingFollowers = [i \in Server |-> {}]
    /\ newLeaderAckers = [i \in Server |-> {}]
    /\ proposalAcks = [i \in Server |-> {}]
    /\ syncStage = [i \in Server |-> "NONE"]
    /\ syncHistory = [i \in Server |-> <<>>]
    /\ syncCommit = [i \in Server |-> NoZxid]
    /\ qmsgs = [i \in Server |-> [j \in Server |-> <<>>]]
    /\ emsgs = [i \in Server |-> [j \in Server |->
                 IF UseFLE
                 THEN <<NotificationMsg([leader |-> i, zxid |-> LastZxid(hist[i]),
                                         peerEpoch |-> ce[i]], 1, "LOOKING")>>
                 ELSE <<>>]]
    /\ ekept = [i \in Server |-> [j \in Server |->
                 IF UseFLE /\ i # j
                 THEN <<NotificationMsg([leader |-> i, zxid |-> LastZxid(hist[i]),
                                         peerEpoch |-> ce[i]], 1, "LOOKING")>>
                 ELSE <<>>]]
    /\ eclosed = {}
    /\ equeued = [i \in Server |-> {}]
    /\ castVotes = IF UseFLE
                   THEN {LET v == [leader |-> i, zxid |-> LastZxid(hist[i]), peerEpoch |-> ce[i]]
                         IN VoteRec(i, v, 1, "LOOKING") @@ [base |-> v] : i \in Server}
                   ELSE {}
    /\ decisions = {}
    /\ brokenLinks = {}
    /\ crashes = 0
    /\ linkBreaks = 0
    /\ proposals = UNION {Range(hist[i]) : i \in Server}
    /\ clientWrites = Cardinality(UNION {Range(hist[i]) : i \in Server})
    /\ committed = Range(clog)
    /\ commitLog = clog
    /\ establishedLeaders = leaders

Init == InitWith([i \in Server |-> <<>>], [i \in Server |-> 0], <<>>, {})

-----------------------------------------------------------------------------
(* Type invariant *)

VoteT    == [leader : Server, zxid : Zxid, peerEpoch : Epoch]
VoteRecT == [sid : Server, leader : Server, zxid : Zxid, electionEpoch : 0..MaxRound,
             peerEpoch : Epoch, state : States \ {"DOWN"}]
QMsgT ==
         [mtype : {"FOLLOWERINFO", "OBSERVERINFO", "LEADERINFO", "DIFF", "TRUNC", "COMMIT",
                   "NEWLEADER", "ACK"}, mzxid : Zxid]
    \cup [mtype : {"ACKEPOCH"}, mzxid : Zxid, mepoch : -1..MaxEpoch]
    \cup [mtype : {"SNAP"}, mzxid : Zxid, msnapshot : Seq(Txn)]
    \cup [mtype : {"PROPOSAL", "INFORM"}, mzxid : Zxid, mdata : 1..MaxTxns]
    \cup [mtype : {"UPTODATE"}]
CastRecT == [sid : Server, leader : Server, zxid : Zxid, electionEpoch : 0..MaxRound,
             peerEpoch : Epoch, state : States \ {"DOWN"}, base : VoteT]
DecisionRecT == [sid : Server, leader : Server, zxid : Zxid, peerEpoch : Epoch,
                 round : 0..MaxRound, how : {"finalize", "join"}]
NotificationT ==
    [mtype : {"NOTIFICATION"}, mleader : Server, mzxid : Zxid,
     melectionEpoch : 0..MaxRound, mpeerEpoch : Epoch, mstate : States \ {"DOWN"}]

TypeOK ==
    /\ currentEpoch \in [Server -> Epoch]
    /\ acceptedEpoch \in [Server -> Epoch]
    /\ \A i \in Server : history[i] \in Seq(Txn) /\ pendingFsync[i] \in Seq(Txn)
    /\ ModelFsync \/ \A i \in Server : pendingFsync[i] = <<>>
    /\ state \in [Server -> States]
    /\ zabState \in [Server -> ZabStates]
    /\ lastCommitted \in [Server -> Zxid]
    /\ logicalclock \in [Server -> 0..MaxRound]
    /\ vote \in [Server -> VoteT]
    /\ \A i \in Server : recvVotes[i] \subseteq VoteRecT /\ outOfElection[i] \subseteq VoteRecT
    /\ finalizing \in [Server -> BOOLEAN]
    /\ castVotes \subseteq CastRecT
    /\ decisions \subseteq DecisionRecT
    /\ newEpoch \in [Server -> Epoch]
    /\ learners \in [Server -> [Server -> LHPhases]]
    /\ learnerZxid \in [Server -> [Server -> Zxid]]
    /\ \A i \in Server : /\ connectingFollowers[i] \subseteq Server
                         /\ electingFollowers[i] \subseteq Server
                         /\ newLeaderAckers[i] \subseteq Server
                         /\ proposalAcks[i] \subseteq Server \X Zxid
    /\ syncStage \in [Server -> SyncStages]
    /\ \A i \in Server : syncHistory[i] \in Seq(Txn)
    /\ syncCommit \in [Server -> Zxid]
    /\ \A i, j \in Server : /\ qmsgs[i][j] \in Seq(QMsgT)
                            /\ emsgs[i][j] \in Seq(NotificationT)
                            /\ ekept[i][j] \in Seq(NotificationT) /\ Len(ekept[i][j]) <= 1
    /\ eclosed \subseteq {{i, j} : i, j \in Server}
    /\ equeued \in [Server -> SUBSET Server]
    /\ brokenLinks \subseteq {{i, j} : i, j \in Server}
    /\ crashes \in 0..MaxCrashes
    /\ linkBreaks \in 0..MaxLinkBreaks
    /\ clientWrites \in 0..MaxTxns
    /\ proposals \subseteq Txn
    /\ committed \subseteq Txn
    /\ commitLog \in Seq(Txn)
    /\ establishedLeaders \subseteq Server \X Epoch
=============================================================================
