--------------------------------- MODULE Zab ---------------------------------
(***************************************************************************)
(* ZooKeeper 3.8's Zab: discovery (FOLLOWERINFO, LEADERINFO, ACKEPOCH),    *)
(* synchronization (DIFF / TRUNC / SNAP from the leader's committedLog     *)
(* window, then NEWLEADER, ACK, UPTODATE) and broadcast (PROPOSAL, ACK,    *)
(* COMMIT), one action per packet handler (Leader / LearnerHandler on the  *)
(* leader's side, Learner / Follower on the follower's side), plus the     *)
(* leader's and the follower's timeouts and the client write.              *)
(*                                                                         *)
(* Where this spec is intentionally not 3.8 (see README):                  *)
(*  - NEWLEADER: the follower makes every txn it was sent durable, then    *)
(*    writes currentEpoch, then ACKs (3.8.0-3.8.4 write currentEpoch and   *)
(*    ACK before the txns are fsynced: ZOOKEEPER-4394 / 4643 / 4646 /      *)
(*    4685 / 4712; 3.8.6 fsyncs them first);                               *)
(*  - a follower ACKs the proposals it got during synchronization only     *)
(*    after its NEWLEADER ACK, and logs proposals that arrive between      *)
(*    NEWLEADER and UPTODATE at once;                                      *)
(*  - a follower records a COMMIT's zxid only once the txn is applied      *)
(*    (ZOOKEEPER-2355): here both happen in the same step.                 *)
(*                                                                         *)
(* Standalone, ZabSpec replaces FastLeaderElection by an oracle that makes *)
(* any LOOKING server a leader, or a follower of a current leader: Zab's   *)
(* safety must not depend on which leader the election picks.              *)
(***************************************************************************)
EXTENDS ZkCommon

\* i is a learner (follower or observer) of j
FollowerOf(i, j) == state[i] \in LearnerStates /\ vote[i].leader = j
HeadIs(j, i, t) == qmsgs[j][i] # <<>> /\ Head(qmsgs[j][i]).mtype = t

\* the leader has fixed its new epoch (a quorum sent FOLLOWERINFO)
EpochDecided(i) == acceptedEpoch[i] = newEpoch[i]
ConnectedLearners(i) == {j \in Server : learners[i][j] # "NONE"}
\* learners whose handler forwards (startForwarding done)
Forwarded(i) ==
    {j \in Server : learners[i][j] \in {"SYNC_QUEUED", "WAIT_NEWLEADER_ACK", "WAIT_QUORUM", "SYNCED"}}
\* followers that get every PROPOSAL and COMMIT (forwardingFollowers)
Forwarding(i) == Forwarded(i) \cap Voters
\* observers that get an INFORM per commit (observingLearners)
Observing(i) == Forwarded(i) \cap Observers

\* the txns the leader treats as committed: before broadcast its whole log
\* (NEWLEADER will commit it), then the prefix it committed
LeaderCommitted(i) ==
    IF zabState[i] = "BROADCAST" THEN PrefixTo(Log(i), lastCommitted[i])
    ELSE Log(i)
\* proposals waiting for a quorum of ACKs (outstandingProposals)
Outstanding(i) ==
    IF zabState[i] = "BROADCAST" THEN AfterZxid(Log(i), lastCommitted[i])
    ELSE <<>>
\* the committedLog window: the last CommittedLogSize committed txns
CommittedLog(i) ==
    LET ch == LeaderCommitted(i)
    IN SubSeq(ch, Max(1, Len(ch) - CommittedLogSize + 1), Len(ch))

ProposalMsgs(s) == [k \in 1..Len(s) |-> ProposalMsg(s[k])]
ProposalCommitMsgs(s) ==
    [k \in 1..(2 * Len(s)) |->
        IF k % 2 = 1 THEN ProposalMsg(s[(k + 1) \div 2])
        ELSE CommitMsg(s[k \div 2].zxid)]

(***************************************************************************)
(* LearnerHandler.syncFollower + startForwarding + NEWLEADER: the packets  *)
(* leader i queues for a follower whose last logged zxid is pz.  A         *)
(* follower behind the committedLog window is synced from the leader's     *)
(* on-disk txn log when TxnLogSync holds and the log reaches back to pz,   *)
(* else it gets a SNAP.  Abstractions of the txn-log branch: no size limit *)
(* (snapshotSizeFactor) and no purge; the leader's log is its whole        *)
(* history, so a log that starts at a snapshot it received is not told     *)
(* apart; the gap check between log and window cannot fire (the log holds  *)
(* every committed txn).                                                   *)
(***************************************************************************)
\* the leader's ZKDatabase lastProcessedZxid as its sync decision reads it:
\* its last committed txn, except that establishment (3.8's startZkServer:
\* setlastProcessedZxid(<<epoch, 0>>)) sets <<newEpoch, 0>>, which stays until
\* the epoch's first commit
LeaderLastProcessed(i) ==
    IF zabState[i] = "BROADCAST" /\ lastCommitted[i][1] < newEpoch[i]
    THEN <<newEpoch[i], 0>>
    ELSE LastZxid(LeaderCommitted(i))

SyncPackets(i, pz) ==
    LET ch   == LeaderCommitted(i)
        lp   == LeaderLastProcessed(i)
        win  == CommittedLog(i)
        minC == IF win = <<>> THEN lp ELSE win[1].zxid
        maxC == IF win = <<>> THEN lp ELSE win[Len(win)].zxid
        newEpochZxid == pz[2] = 0
        snap == <<SnapMsg(lp, ch)>>
        \* queueCommittedProposals over src (the committedLog window or the txn log)
        Queued(src) ==
            LET later  == AfterZxid(src, pz)
                before == SelectSeq(src, LAMBDA t : ZxidLT(t.zxid, pz))
            IN IF pz \in Zxids(src) \/ newEpochZxid
               THEN <<DiffMsg(maxC)>> \o ProposalCommitMsgs(later)
               ELSE IF later[1].zxid[1] # pz[1]
                    THEN snap                                      \* no TRUNC across epochs
                    ELSE <<TruncMsg(LastZxid(before))>> \o ProposalCommitMsgs(later)
        sync ==
            IF pz = lp THEN <<DiffMsg(pz)>>                       \* in sync: empty DIFF
            ELSE IF ZxidLT(maxC, pz) /\ ~newEpochZxid
                 THEN <<TruncMsg(maxC)>>                           \* follower ahead
            ELSE IF ZxidLE(minC, pz) /\ ZxidLE(pz, maxC)
                 THEN Queued(win)
            ELSE IF TxnLogSync /\ ZxidLT(pz, minC) /\ ch # <<>> /\ ZxidLE(ch[1].zxid, pz)
                 THEN Queued(ch)                                   \* from the txn log
            ELSE snap                                              \* behind the window
    IN sync \o ProposalMsgs(Outstanding(i))
\* what learner j gets: an observer not the outstanding proposals
\* (startForwarding queues them for participants only)
LearnerSyncPackets(i, j, pz) ==
    LET p == SyncPackets(i, pz)
    IN IF j \in Observers THEN SubSeq(p, 1, Len(p) - Len(Outstanding(i))) ELSE p
\* the packets of a learner's synchronization, NEWLEADER included unless
\* SendNEWLEADER queues it (a late joiner, with SplitNewLeader)
SyncWithNewLeader(i, j, pz) == LearnerSyncPackets(i, j, pz) \o <<NewLeaderMsg(newEpoch[i])>>

-----------------------------------------------------------------------------
(* Discovery *)

(***************************************************************************)
(* Leader i handles a FOLLOWERINFO (or an observer's OBSERVERINFO) from j  *)
(* (LearnerHandler.run + Leader.getEpochToPropose).  Until a quorum of     *)
(* voters (with i) has connected, the new epoch is max(acceptedEpoch of i  *)
(* and of every learner) + 1; then i writes acceptedEpoch and every        *)
(* waiting handler sends LEADERINFO.  An observer is not counted.         *)
(***************************************************************************)
HandleFOLLOWERINFO(i, j) ==
    /\ state[i] = "LEADING"
    /\ HeadIs(j, i, "FOLLOWERINFO") \/ HeadIs(j, i, "OBSERVERINFO")
    /\ LET fe == Head(qmsgs[j][i]).mzxid[1]
           q0 == Deq(qmsgs, j, i)
       IN IF EpochDecided(i)
          THEN /\ learners' = [learners EXCEPT ![i][j] = "WAIT_ACKEPOCH"]
               /\ qmsgs' = Enq(q0, i, j, LeaderInfoMsg(newEpoch[i]))
               /\ UNCHANGED <<acceptedEpoch, newEpoch, connectingFollowers>>
          ELSE LET ne == Max(newEpoch[i], fe + 1)
                   cf == connectingFollowers[i] \cup ({j} \cap Voters)
                   waiting == {k \in Server : learners[i][k] = "WAIT_EPOCH"} \cup {j}
               IN /\ ne <= MaxEpoch
                  /\ newEpoch' = [newEpoch EXCEPT ![i] = ne]
                  /\ IF IsQuorum(cf \cup {i})
                     THEN /\ acceptedEpoch' = [acceptedEpoch EXCEPT ![i] = ne]
                          /\ connectingFollowers' = [connectingFollowers EXCEPT ![i] = {}]
                          /\ learners' = [learners EXCEPT ![i] =
                                [k \in Server |-> IF k \in waiting THEN "WAIT_ACKEPOCH"
                                                  ELSE learners[i][k]]]
                          /\ qmsgs' = EnqTo(q0, i, waiting, LeaderInfoMsg(ne))
                     ELSE /\ connectingFollowers' = [connectingFollowers EXCEPT ![i] = cf]
                          /\ learners' = [learners EXCEPT ![i][j] = "WAIT_EPOCH"]
                          /\ qmsgs' = q0
                          /\ UNCHANGED acceptedEpoch
    /\ UNCHANGED <<currentEpoch, history, pendingFsync, roleVars, electionVars, learnerZxid,
                   electingFollowers, newLeaderAckers, proposalAcks, followerVars,
                   emsgs, brokenLinks, boundVars, ghostVars>>

(***************************************************************************)
(* Follower i handles LEADERINFO from its leader j (registerWithLeader).   *)
(* A new epoch is accepted (acceptedEpoch written) and ACKed with i's      *)
(* currentEpoch and last zxid; the epoch it already accepted is ACKed with *)
(* -1; an older one is an error: i goes back to LOOKING.                   *)
(***************************************************************************)
HandleLEADERINFO(i, j) ==
    /\ FollowerOf(i, j)
    /\ zabState[i] = "DISCOVERY"
    /\ HeadIs(j, i, "LEADERINFO")
    /\ LET e  == Head(qmsgs[j][i]).mzxid[1]
           q0 == Deq(qmsgs, j, i)
       IN IF e < acceptedEpoch[i]
          THEN /\ BecomeLooking(i)
               /\ UNCHANGED <<currentEpoch, acceptedEpoch, lastCommitted, brokenLinks, boundVars,
                              ghostVars>>
          ELSE /\ acceptedEpoch' = [acceptedEpoch EXCEPT ![i] = e]
               /\ qmsgs' = Enq(q0, i, j,
                     AckEpochMsg(LastZxid(history[i]),
                                 IF e > acceptedEpoch[i] THEN currentEpoch[i] ELSE -1))
               /\ zabState' = [zabState EXCEPT ![i] = "SYNCHRONIZATION"]
               /\ syncStage' = [syncStage EXCEPT ![i] = "WAIT_SYNC"]
               /\ UNCHANGED <<currentEpoch, history, pendingFsync, state, lastCommitted, electionVars,
                              leaderVars, syncHistory, syncCommit, emsgs, brokenLinks,
                              boundVars, ghostVars>>

\* StateSummary.isMoreRecentThan
MoreRecent(ce1, z1, ce2, z2) == ce1 > ce2 \/ (ce1 = ce2 /\ ZxidLT(z2, z1))

(***************************************************************************)
(* Leader i handles ACKEPOCH from j (Leader.waitForEpochAck).  Before the  *)
(* epoch-ack quorum, a follower more recent than i is refused (its         *)
(* connection closes); others are counted (unless they sent -1) and wait.  *)
(* With the quorum, i writes currentEpoch, enters SYNCHRONIZATION and      *)
(* synchronizes every waiting follower; later followers are synchronized   *)
(* at once.                                                                *)
(***************************************************************************)
HandleACKEPOCH(i, j) ==
    /\ state[i] = "LEADING"
    /\ learners[i][j] = "WAIT_ACKEPOCH"
    /\ HeadIs(j, i, "ACKEPOCH")
    /\ LET m  == Head(qmsgs[j][i])
           q0 == Deq(qmsgs, j, i)
       IN
       IF zabState[i] # "DISCOVERY"
       THEN /\ learners' = [learners EXCEPT ![i][j] =
                               IF SplitNewLeader THEN "SYNC_QUEUED" ELSE "WAIT_NEWLEADER_ACK"]
            /\ qmsgs' = EnqSeqTo(q0, i, {j}, IF SplitNewLeader THEN LearnerSyncPackets(i, j, m.mzxid)
                                             ELSE SyncWithNewLeader(i, j, m.mzxid))
            /\ UNCHANGED <<currentEpoch, zabState, learnerZxid, electingFollowers>>
       ELSE IF m.mepoch # -1
               /\ MoreRecent(m.mepoch, m.mzxid, currentEpoch[i], LastZxid(history[i]))
       THEN /\ learners' = [learners EXCEPT ![i][j] = "NONE"]
            /\ qmsgs' = ClearLink(q0, i, j)
            /\ UNCHANGED <<currentEpoch, zabState, learnerZxid, electingFollowers>>
       ELSE LET ef == IF m.mepoch # -1 /\ j \in Voters THEN electingFollowers[i] \cup {j}
                      ELSE electingFollowers[i]
                lz == [learnerZxid[i] EXCEPT ![j] = m.mzxid]
                waiting == {k \in Server : learners[i][k] = "WAIT_SYNC"} \cup {j}
            IN IF IsQuorum(ef \cup {i})
               THEN /\ zabState' = [zabState EXCEPT ![i] = "SYNCHRONIZATION"]
                    /\ currentEpoch' = [currentEpoch EXCEPT ![i] = newEpoch[i]]
                    /\ electingFollowers' = [electingFollowers EXCEPT ![i] = {}]
                    /\ learnerZxid' = [learnerZxid EXCEPT ![i] = [k \in Server |-> NoZxid]]
                    /\ learners' = [learners EXCEPT ![i] =
                          [k \in Server |-> IF k \in waiting THEN "WAIT_NEWLEADER_ACK"
                                            ELSE learners[i][k]]]
                    /\ qmsgs' = [a \in Server |-> [b \in Server |->
                          IF a = i /\ b \in waiting /\ Reachable(i, b)
                          THEN q0[a][b] \o SyncWithNewLeader(i, b, lz[b]) ELSE q0[a][b]]]
               ELSE /\ electingFollowers' = [electingFollowers EXCEPT ![i] = ef]
                    /\ learnerZxid' = [learnerZxid EXCEPT ![i] = lz]
                    /\ learners' = [learners EXCEPT ![i][j] = "WAIT_SYNC"]
                    /\ qmsgs' = q0
                    /\ UNCHANGED <<currentEpoch, zabState>>
    /\ UNCHANGED <<acceptedEpoch, history, pendingFsync, state, lastCommitted, electionVars, newEpoch,
                   connectingFollowers, newLeaderAckers, proposalAcks, followerVars,
                   emsgs, brokenLinks, boundVars, ghostVars>>

-----------------------------------------------------------------------------
(* Synchronization, follower side (Learner.syncWithLeader) *)

FollowerGets(i, j, t) == FollowerOf(i, j) /\ HeadIs(j, i, t)

FollowerSyncStep ==
    UNCHANGED <<acceptedEpoch, roleVars, electionVars, leaderVars, emsgs,
                brokenLinks, boundVars, ghostVars>>

\* DIFF: i's log is a prefix of the leader's committed txns; what it lacks
\* follows as PROPOSAL + COMMIT pairs
HandleDIFF(i, j) ==
    /\ FollowerGets(i, j, "DIFF")
    /\ syncStage[i] = "WAIT_SYNC"
    /\ syncStage' = [syncStage EXCEPT ![i] = "SYNCING"]
    /\ syncHistory' = [syncHistory EXCEPT ![i] = history[i]]
    /\ syncCommit' = [syncCommit EXCEPT ![i] = LastZxid(history[i])]
    /\ qmsgs' = Deq(qmsgs, j, i)
    /\ UNCHANGED <<currentEpoch, history, pendingFsync>>
    /\ FollowerSyncStep

\* TRUNC: i drops the txns after the given zxid from its log (at once, as
\* ZKDatabase.truncateLog does)
HandleTRUNC(i, j) ==
    /\ FollowerGets(i, j, "TRUNC")
    /\ syncStage[i] = "WAIT_SYNC"
    /\ LET h == PrefixTo(history[i], Head(qmsgs[j][i]).mzxid)
       IN /\ history' = [history EXCEPT ![i] = h]
          /\ syncHistory' = [syncHistory EXCEPT ![i] = h]
          /\ syncCommit' = [syncCommit EXCEPT ![i] = LastZxid(h)]
    /\ syncStage' = [syncStage EXCEPT ![i] = "SYNCING"]
    /\ qmsgs' = Deq(qmsgs, j, i)
    /\ UNCHANGED <<currentEpoch, pendingFsync>>
    /\ FollowerSyncStep

\* SNAP: i takes the leader's snapshot (durable at NEWLEADER)
HandleSNAP(i, j) ==
    /\ FollowerGets(i, j, "SNAP")
    /\ syncStage[i] = "WAIT_SYNC"
    /\ LET m == Head(qmsgs[j][i])
       IN /\ syncHistory' = [syncHistory EXCEPT ![i] = m.msnapshot]
          /\ syncCommit' = [syncCommit EXCEPT ![i] = m.mzxid]
    /\ syncStage' = [syncStage EXCEPT ![i] = "SYNCING"]
    /\ qmsgs' = Deq(qmsgs, j, i)
    /\ UNCHANGED <<currentEpoch, history, pendingFsync>>
    /\ FollowerSyncStep

(***************************************************************************)
(* Follower i handles NEWLEADER.  Corrected order (not 3.8's): the synced  *)
(* txns become durable in i's log, then currentEpoch is written, then i    *)
(* ACKs NEWLEADER, then it ACKs the uncommitted proposals it was sent.     *)
(***************************************************************************)
HandleNEWLEADER(i, j) ==
    /\ FollowerGets(i, j, "NEWLEADER")
    /\ syncStage[i] = "SYNCING"
    /\ LET e  == Head(qmsgs[j][i]).mzxid[1]
           sh == syncHistory[i]
           uncommitted == AfterZxid(sh, syncCommit[i])
           acks == IF i \in Observers THEN <<>>
                   ELSE [k \in 1..Len(uncommitted) |-> AckMsg(uncommitted[k].zxid)]
       IN /\ history' = [history EXCEPT ![i] = sh]
          /\ UNCHANGED pendingFsync
          /\ currentEpoch' = [currentEpoch EXCEPT ![i] = e]
          /\ qmsgs' = EnqSeqTo(Deq(qmsgs, j, i), i, {j}, <<AckMsg(<<e, 0>>)>> \o acks)
    /\ syncStage' = [syncStage EXCEPT ![i] = "NEWLEADER_ACKED"]
    /\ syncHistory' = [syncHistory EXCEPT ![i] = <<>>]
    /\ UNCHANGED syncCommit
    /\ FollowerSyncStep

\* UPTODATE: i starts serving; the txns the leader committed are applied
HandleUPTODATE(i, j) ==
    /\ FollowerGets(i, j, "UPTODATE")
    /\ syncStage[i] = "NEWLEADER_ACKED"
    /\ zabState' = [zabState EXCEPT ![i] = "BROADCAST"]
    /\ lastCommitted' = [lastCommitted EXCEPT ![i] = syncCommit[i]]
    /\ committed' = committed \cup Range(PrefixTo(Log(i), syncCommit[i]))
    /\ commitLog' = ExtendLog(commitLog, PrefixTo(Log(i), syncCommit[i]))
    /\ vote' = [vote EXCEPT ![i].peerEpoch = currentEpoch[i]]   \* updateElectionVote
    /\ syncStage' = [syncStage EXCEPT ![i] = "NONE"]
    /\ syncCommit' = [syncCommit EXCEPT ![i] = NoZxid]
    /\ qmsgs' = Enq(Deq(qmsgs, j, i), i, j, AckMsg(<<currentEpoch[i], 0>>))
    /\ UNCHANGED <<durableVars, state, logicalclock, recvVotes, outOfElection, castVotes,
                   decisions, leaderVars, syncHistory, emsgs, electionLocalVars, brokenLinks, boundVars,
                   proposals, establishedLeaders>>

-----------------------------------------------------------------------------
(* Broadcast, follower side (and the sync packets that share its types) *)

\* PROPOSAL: during sync, added to the log being built; after NEWLEADER,
\* logged and ACKed (with ModelFsync: appended to the log, ACKed by
\* FsyncLog once durable)
HandlePROPOSAL(i, j) ==
    /\ FollowerGets(i, j, "PROPOSAL")
    /\ syncStage[i] \in {"SYNCING", "NEWLEADER_ACKED"} \/ zabState[i] = "BROADCAST"
    /\ LET m  == Head(qmsgs[j][i])
           t  == [zxid |-> m.mzxid, value |-> m.mdata]
           q0 == Deq(qmsgs, j, i)
       IN IF syncStage[i] = "SYNCING"
          THEN /\ syncHistory' = [syncHistory EXCEPT ![i] = Append(@, t)]
               /\ qmsgs' = q0
               /\ UNCHANGED <<history, pendingFsync>>
          ELSE IF ModelFsync
          THEN /\ pendingFsync' = [pendingFsync EXCEPT ![i] = Append(@, t)]
               /\ qmsgs' = q0
               /\ UNCHANGED <<history, syncHistory>>
          ELSE /\ history' = [history EXCEPT ![i] = Append(@, t)]
               /\ qmsgs' = Enq(q0, i, j, AckMsg(t.zxid))
               /\ UNCHANGED <<pendingFsync, syncHistory>>
    /\ UNCHANGED <<currentEpoch, syncStage, syncCommit>>
    /\ UNCHANGED <<acceptedEpoch, roleVars, electionVars, leaderVars, emsgs,
                   brokenLinks, boundVars, ghostVars>>

\* COMMIT: during sync, remembered; in broadcast, the txn is applied and
\* then recorded as the last committed one (ZOOKEEPER-2355)
HandleCOMMIT(i, j) ==
    /\ FollowerGets(i, j, "COMMIT")
    /\ syncStage[i] \in {"SYNCING", "NEWLEADER_ACKED"} \/ zabState[i] = "BROADCAST"
    /\ LET z == Head(qmsgs[j][i]).mzxid
           h == IF syncStage[i] = "SYNCING" THEN syncHistory[i] ELSE Log(i)
       IN IF syncStage[i] # "NONE"
          THEN /\ syncCommit' = [syncCommit EXCEPT ![i] = IF z \in Zxids(h) THEN z ELSE @]
               /\ UNCHANGED <<lastCommitted, committed, commitLog>>
          ELSE /\ lastCommitted' = [lastCommitted EXCEPT ![i] =
                                      IF z \in Zxids(h) THEN z ELSE @]
               /\ committed' = committed \cup
                     (IF z \in Zxids(h)
                      THEN Range(AfterZxid(PrefixTo(h, z), lastCommitted[i])) ELSE {})
               /\ commitLog' = IF z \in Zxids(h) THEN ExtendLog(commitLog, PrefixTo(h, z))
                               ELSE commitLog
               /\ UNCHANGED syncCommit
    /\ qmsgs' = Deq(qmsgs, j, i)
    /\ UNCHANGED <<durableVars, state, zabState, electionVars, leaderVars, syncStage,
                   syncHistory, emsgs, brokenLinks, boundVars, proposals,
                   establishedLeaders>>

(***************************************************************************)
(* Observer i handles INFORM from its leader j (Observer.processPacket,    *)
(* Learner.syncWithLeader): a committed txn.  Before NEWLEADER it joins    *)
(* the state being synced; after NEWLEADER it is logged and committed at   *)
(* UPTODATE; in broadcast it is logged (with ModelFsync appended: an       *)
(* observer's fsync ACKs nothing) and applied at once.                     *)
(***************************************************************************)
HandleINFORM(i, j) ==
    /\ FollowerGets(i, j, "INFORM")
    /\ syncStage[i] \in {"SYNCING", "NEWLEADER_ACKED"} \/ zabState[i] = "BROADCAST"
    /\ LET m == Head(qmsgs[j][i])
           t == [zxid |-> m.mzxid, value |-> m.mdata]
       IN IF syncStage[i] = "SYNCING"
          THEN /\ syncHistory' = [syncHistory EXCEPT ![i] = Append(@, t)]
               /\ syncCommit' = [syncCommit EXCEPT ![i] = t.zxid]
               /\ UNCHANGED <<history, pendingFsync, lastCommitted, committed, commitLog>>
          ELSE /\ IF ModelFsync
                  THEN /\ pendingFsync' = [pendingFsync EXCEPT ![i] = Append(@, t)]
                       /\ UNCHANGED history
                  ELSE /\ history' = [history EXCEPT ![i] = Append(@, t)]
                       /\ UNCHANGED pendingFsync
               /\ UNCHANGED syncHistory
               /\ IF syncStage[i] = "NEWLEADER_ACKED"
                  THEN /\ syncCommit' = [syncCommit EXCEPT ![i] = t.zxid]
                       /\ UNCHANGED <<lastCommitted, committed, commitLog>>
                  ELSE /\ lastCommitted' = [lastCommitted EXCEPT ![i] = t.zxid]
                       /\ committed' = committed \cup {t}
                       /\ commitLog' = ExtendLog(commitLog, PrefixTo(Append(Log(i), t), t.zxid))
                       /\ UNCHANGED syncCommit
    /\ qmsgs' = Deq(qmsgs, j, i)
    /\ UNCHANGED <<currentEpoch, acceptedEpoch, state, zabState, electionVars, leaderVars,
                   syncStage, emsgs, brokenLinks, boundVars, proposals, establishedLeaders>>

-----------------------------------------------------------------------------
(* Synchronization end and broadcast, leader side *)

(***************************************************************************)
(* Leader i handles an ACK from j (LearnerHandler.run / Leader.processAck).*)
(* First ACK of a handler: NEWLEADER's (waitForNewLeaderAck); with a       *)
(* quorum, i is established: it commits its log, enters BROADCAST and      *)
(* sends UPTODATE to every waiting handler.  Later ACKs are for proposals: *)
(* the first outstanding one is committed with a quorum (COMMIT to every   *)
(* forwarding follower); ACKs with counter 0 (UPTODATE's) are ignored.     *)
(***************************************************************************)
HandleACK(i, j) ==
    /\ state[i] = "LEADING"
    /\ learners[i][j] \in {"WAIT_NEWLEADER_ACK", "WAIT_QUORUM", "SYNCED"}
    /\ HeadIs(j, i, "ACK")
    /\ LET z  == Head(qmsgs[j][i]).mzxid
           q0 == Deq(qmsgs, j, i)
       IN
       IF learners[i][j] = "WAIT_NEWLEADER_ACK"
       THEN
          /\ z = <<newEpoch[i], 0>>
          /\ UNCHANGED <<proposalAcks, proposals>>
          /\ IF zabState[i] = "BROADCAST"
             THEN /\ learners' = [learners EXCEPT ![i][j] = "SYNCED"]
                  /\ qmsgs' = Enq(q0, i, j, UpToDateMsg)
                  /\ UNCHANGED <<zabState, lastCommitted, vote, newLeaderAckers,
                                 committed, commitLog, establishedLeaders>>
             ELSE LET nla == newLeaderAckers[i] \cup ({j} \cap Voters)
                  IN IF IsQuorum(nla \cup {i})
                     THEN LET ready == {k \in Server : learners[i][k] = "WAIT_QUORUM"} \cup {j}
                          IN /\ zabState' = [zabState EXCEPT ![i] = "BROADCAST"]
                             /\ lastCommitted' = [lastCommitted EXCEPT ![i] = LastZxid(Log(i))]
                             /\ vote' = [vote EXCEPT ![i].peerEpoch = newEpoch[i]]
                             /\ newLeaderAckers' = [newLeaderAckers EXCEPT ![i] = {}]
                             /\ learners' = [learners EXCEPT ![i] =
                                   [k \in Server |-> IF k \in ready THEN "SYNCED"
                                                     ELSE learners[i][k]]]
                             /\ qmsgs' = EnqTo(q0, i, ready, UpToDateMsg)
                             /\ committed' = committed \cup Range(Log(i))
                             /\ commitLog' = ExtendLog(commitLog, Log(i))
                             /\ establishedLeaders' = establishedLeaders \cup {<<i, newEpoch[i]>>}
                     ELSE /\ newLeaderAckers' = [newLeaderAckers EXCEPT ![i] = nla]
                          /\ learners' = [learners EXCEPT ![i][j] = "WAIT_QUORUM"]
                          /\ qmsgs' = q0
                          /\ UNCHANGED <<zabState, lastCommitted, vote, committed,
                                         commitLog, establishedLeaders>>
       ELSE
          LET out  == Outstanding(i)
              acks == proposalAcks[i] \cup {<<j, z>>}
          IN
          /\ UNCHANGED <<zabState, vote, learners, newLeaderAckers, proposals,
                         establishedLeaders>>
          /\ IF z[2] = 0 \/ z \notin Zxids(out)
             THEN /\ qmsgs' = q0
                  /\ UNCHANGED <<lastCommitted, proposalAcks, committed, commitLog>>
             ELSE IF z = out[1].zxid /\ IsQuorum({k \in Server : <<k, z>> \in acks})
             THEN /\ lastCommitted' = [lastCommitted EXCEPT ![i] = z]
                  /\ proposalAcks' = [proposalAcks EXCEPT ![i] = {a \in acks : a[2] # z}]
                  /\ qmsgs' = EnqTo(EnqTo(q0, i, Forwarding(i), CommitMsg(z)),
                                    i, Observing(i), InformMsg(out[1]))
                  /\ committed' = committed \cup {out[1]}
                  /\ commitLog' = ExtendLog(commitLog, PrefixTo(Log(i), z))
             ELSE /\ proposalAcks' = [proposalAcks EXCEPT ![i] = acks]
                  /\ qmsgs' = q0
                  /\ UNCHANGED <<lastCommitted, committed, commitLog>>
    /\ UNCHANGED <<durableVars, state, logicalclock, recvVotes, outOfElection, castVotes,
                   decisions, newEpoch, learnerZxid, connectingFollowers, electingFollowers, followerVars,
                   electionLocalVars, emsgs, brokenLinks, boundVars>>

(***************************************************************************)
(* A client write reaches leader i: it sends PROPOSAL to every forwarding  *)
(* follower and logs the txn (its own ACK).  With ModelFsync the txn is    *)
(* only appended: 3.8's leader logs through its SyncRequestProcessor and   *)
(* ACKs itself after the fsync (FsyncLog).                                 *)
(***************************************************************************)
ClientWrite(i) ==
    /\ state[i] = "LEADING"
    /\ zabState[i] = "BROADCAST"
    /\ clientWrites < MaxTxns
    /\ LET last == LastZxid(Log(i))
           z == <<newEpoch[i], IF last[1] = newEpoch[i] THEN last[2] + 1 ELSE 1>>
           t == [zxid |-> z, value |-> clientWrites + 1]
       IN /\ IF ModelFsync
             THEN /\ pendingFsync' = [pendingFsync EXCEPT ![i] = Append(@, t)]
                  /\ UNCHANGED <<history, proposalAcks>>
             ELSE /\ history' = [history EXCEPT ![i] = Append(@, t)]
                  /\ proposalAcks' = [proposalAcks EXCEPT ![i] = @ \cup {<<i, z>>}]
                  /\ UNCHANGED pendingFsync
          /\ qmsgs' = EnqTo(qmsgs, i, Forwarding(i), ProposalMsg(t))
          /\ proposals' = proposals \cup {t}
    /\ clientWrites' = clientWrites + 1
    /\ UNCHANGED <<currentEpoch, acceptedEpoch, roleVars, electionVars, newEpoch,
                   learners, learnerZxid, connectingFollowers, electingFollowers,
                   newLeaderAckers, followerVars, emsgs, brokenLinks, crashes,
                   linkBreaks, committed, commitLog, establishedLeaders>>

(***************************************************************************)
(* i's log fsync completes (ModelFsync): the pending txns become durable.  *)
(* A follower then ACKs them (SendAckRequestProcessor: an ACK only after   *)
(* its own fsync); a leader ACKs itself (AckRequestProcessor ->            *)
(* processAck), which commits each of them in turn that now has a quorum  *)
(* and follows a committed one (COMMIT to every forwarding follower).      *)
(* Pending txns exist only in the role that logged them: leaving it        *)
(* flushes them (BecomeLooking), a crash drops them.                       *)
(***************************************************************************)
FsyncLog(i) ==
    /\ ModelFsync
    /\ state[i] \in LearnerStates \cup {"LEADING"}
    /\ pendingFsync[i] # <<>>
    /\ LET p == pendingFsync[i]
       IN /\ history' = [history EXCEPT ![i] = @ \o p]
          /\ pendingFsync' = [pendingFsync EXCEPT ![i] = <<>>]
          /\ IF state[i] = "FOLLOWING"
             \* the ACKs go out on the connection the PROPOSALs came on, if the leader's
             \* handler for i still has it (a crash or restart of the leader, or a cut
             \* link, closed it: the follower hears of that only at its timeout)
             THEN /\ qmsgs' = IF learners[vote[i].leader][i] # "NONE"
                              THEN EnqSeqTo(qmsgs, i, {vote[i].leader},
                                            [k \in 1..Len(p) |-> AckMsg(p[k].zxid)])
                              ELSE qmsgs
                  /\ UNCHANGED <<lastCommitted, proposalAcks, committed, commitLog>>
             \* an observer ACKs nothing it logs (its txns came committed, by INFORM)
             ELSE IF state[i] = "OBSERVING"
             THEN UNCHANGED <<qmsgs, lastCommitted, proposalAcks, committed, commitLog>>
             ELSE LET out  == Outstanding(i)
                      acks == proposalAcks[i] \cup {<<i, z>> : z \in Zxids(p) \cap Zxids(out)}
                      ok(k) == /\ out[k].zxid \in Zxids(p)
                               /\ IsQuorum({s \in Server : <<s, out[k].zxid>> \in acks})
                      n == CHOOSE n \in 0..Len(out) :
                              (\A k \in 1..n : ok(k)) /\ (n < Len(out) => ~ok(n + 1))
                      run == SubSeq(out, 1, n)
                  IN /\ lastCommitted' = IF n = 0 THEN lastCommitted
                                         ELSE [lastCommitted EXCEPT ![i] = LastZxid(run)]
                     /\ proposalAcks' = [proposalAcks EXCEPT ![i] = {a \in acks : a[2] \notin Zxids(run)}]
                     /\ qmsgs' = EnqSeqTo(EnqSeqTo(qmsgs, i, Forwarding(i), [k \in 1..n |-> CommitMsg(run[k].zxid)]),
                                          i, Observing(i), [k \in 1..n |-> InformMsg(run[k])])
                     /\ committed' = committed \cup Range(run)
                     /\ commitLog' = IF n = 0 THEN commitLog
                                     ELSE ExtendLog(commitLog, PrefixTo(Log(i), LastZxid(run)))
    /\ UNCHANGED <<currentEpoch, acceptedEpoch, state, zabState, electionVars, newEpoch, learners,
                   learnerZxid, connectingFollowers, electingFollowers, newLeaderAckers,
                   followerVars, emsgs, brokenLinks, boundVars, proposals, establishedLeaders>>

(***************************************************************************)
(* Leader i's LearnerHandler for a late joiner j queues NEWLEADER          *)
(* (SplitNewLeader): after the sync packets and startForwarding, so        *)
(* PROPOSALs and COMMITs of the running epoch can come in between, as in   *)
(* 3.8's LearnerHandler.run.                                               *)
(***************************************************************************)
SendNEWLEADER(i, j) ==
    /\ SplitNewLeader
    /\ state[i] = "LEADING"
    /\ learners[i][j] = "SYNC_QUEUED"
    /\ learners' = [learners EXCEPT ![i][j] = "WAIT_NEWLEADER_ACK"]
    /\ qmsgs' = Enq(qmsgs, i, j, NewLeaderMsg(newEpoch[i]))
    /\ UNCHANGED <<durableVars, roleVars, electionVars, newEpoch, learnerZxid, connectingFollowers,
                   electingFollowers, newLeaderAckers, proposalAcks, followerVars, emsgs,
                   brokenLinks, boundVars, ghostVars>>

-----------------------------------------------------------------------------
(* Timeouts *)

\* leader i has no quorum of connected learners (initLimit / syncLimit
\* expire): it stops leading and looks for a leader
LeaderTimeout(i) ==
    /\ state[i] = "LEADING"
    \* in BROADCAST (syncLimit): its connected learners and itself are no quorum;
    \* before it (initLimit: the epoch, epoch-ack and NEWLEADER-ack waits) whoever
    \* is connected, since a quorum of connections need not complete the wait (a
    \* learner that reconnects with ACKEPOCH -1 is never counted)
    /\ \/ ~IsQuorum(ConnectedLearners(i) \cup {i})
       \/ zabState[i] # "BROADCAST"
    /\ BecomeLooking(i)
    /\ UNCHANGED <<currentEpoch, acceptedEpoch, lastCommitted, brokenLinks, boundVars, ghostVars>>

\* follower i has no connection to its leader (it was closed, or i's
\* connection attempts fail): it looks for a leader
FollowerTimeout(i) ==
    /\ state[i] \in LearnerStates
    /\ LET l == vote[i].leader
       IN /\ learners[l][i] = "NONE"
          /\ ~(qmsgs[i][l] # <<>> /\ state[l] = "LEADING")
    /\ BecomeLooking(i)
    /\ UNCHANGED <<currentEpoch, acceptedEpoch, lastCommitted, brokenLinks, boundVars, ghostVars>>

-----------------------------------------------------------------------------
(* Standalone Zab: an oracle in place of leader election *)

OracleLead(i) ==
    /\ state[i] = "LOOKING"
    /\ i \in Voters
    /\ LeaderEntering(i)
    /\ vote' = [vote EXCEPT ![i] = InitVote(i)]
    /\ StartRole(i, i)
    /\ UNCHANGED <<durableVars, lastCommitted, logicalclock, recvVotes, outOfElection, castVotes,
                   decisions, learners, learnerZxid, connectingFollowers, electingFollowers,
                   newLeaderAckers, proposalAcks, followerVars, emsgs, electionLocalVars,
                   brokenLinks, boundVars, ghostVars>>

OracleFollow(i, j) ==
    /\ state[i] = "LOOKING"
    /\ state[j] = "LEADING"
    /\ vote' = [vote EXCEPT ![i] = [InitVote(i) EXCEPT !.leader = j]]
    /\ StartRole(i, j)
    /\ UNCHANGED <<durableVars, lastCommitted, logicalclock, recvVotes, outOfElection, castVotes,
                   decisions, learners, learnerZxid, connectingFollowers, electingFollowers,
                   newLeaderAckers, proposalAcks, followerVars, emsgs, electionLocalVars,
                   brokenLinks, boundVars, ghostVars>>

ZabHandlers ==
    \/ \E i, j \in Server : HandleFOLLOWERINFO(i, j)
    \/ \E i, j \in Server : HandleLEADERINFO(i, j)
    \/ \E i, j \in Server : HandleACKEPOCH(i, j)
    \/ \E i, j \in Server : HandleDIFF(i, j)
    \/ \E i, j \in Server : HandleTRUNC(i, j)
    \/ \E i, j \in Server : HandleSNAP(i, j)
    \/ \E i, j \in Server : HandlePROPOSAL(i, j)
    \/ \E i, j \in Server : HandleCOMMIT(i, j)
    \/ \E i, j \in Server : HandleINFORM(i, j)
    \/ \E i, j \in Server : HandleNEWLEADER(i, j)
    \/ \E i, j \in Server : HandleUPTODATE(i, j)
    \/ \E i, j \in Server : HandleACK(i, j)
    \/ \E i \in Server : ClientWrite(i)
    \/ \E i \in Server : FsyncLog(i)
    \/ \E i, j \in Server : SendNEWLEADER(i, j)
    \/ \E i \in Server : LeaderTimeout(i)
    \/ \E i \in Server : FollowerTimeout(i)

ZabNext ==
    \/ \E i \in Server : OracleLead(i)
    \/ \E i, j \in Server : OracleFollow(i, j)
    \/ ZabHandlers
    \/ \E i \in Server : Crash(i)
    \/ \E i \in Server : Restart(i)
    \/ \E i, j \in Server : LinkBreak(i, j)
    \/ \E i, j \in Server : LinkHeal(i, j)

ZabSpec == Init /\ [][ZabNext]_vars

(***************************************************************************)
(* Recovery: epoch 1 (led by some server r) committed x on every server;   *)
(* r also logged a, which no one else got; then every server restarted.    *)
(* The next epoch must keep x, drop a (TRUNC or SNAP) and go on: a short   *)
(* way into the synchronization cases.  Needs MaxTxns >= 3 for one write.  *)
(***************************************************************************)
RecTxnX == [zxid |-> <<1, 1>>, value |-> 1]
RecTxnA == [zxid |-> <<1, 2>>, value |-> 2]
RecoveryInit ==
    \E r \in Voters :
        InitWith([i \in Server |-> IF i = r THEN <<RecTxnX, RecTxnA>> ELSE <<RecTxnX>>],
                 [i \in Server |-> 1], <<RecTxnX>>, {<<r, 1>>})
ZabRecoverySpec == RecoveryInit /\ [][ZabNext]_vars

\* model values are interchangeable in Zab (it never compares ids), voters
\* among voters and observers among observers
Symmetry == Permutations(Voters) \cup Permutations(Observers)

-----------------------------------------------------------------------------
(* Invariants *)

\* the txns i has delivered: its log up to its last committed zxid
Delivered(i) == PrefixTo(Log(i), lastCommitted[i])

\* at most one established leader per epoch
OneLeaderPerEpoch ==
    \A a, b \in establishedLeaders : a[2] = b[2] => a[1] = b[1]

\* agreement: of any two servers' delivered sequences, one is a prefix of
\* the other
Agreement ==
    \A i, j \in Server :
        IsPrefix(Delivered(i), Delivered(j)) \/ IsPrefix(Delivered(j), Delivered(i))

\* total order: every server delivers a prefix of one sequence, the longest
\* one delivered so far by anyone, even by a server that has crashed since
\* (if a delivers a before b, whoever delivers b delivers a before it); and
\* a server's commit point is the last txn it delivered: it skipped none
\* (ZOOKEEPER-2355)
TotalOrder ==
    \A i \in Server :
        /\ IsPrefix(Delivered(i), commitLog)
        /\ \/ lastCommitted[i] = LastZxid(Delivered(i))
           \* a SNAP taken at a new epoch's start: the snapshot's point <<e, 0>>
           \/ lastCommitted[i][2] = 0 /\ ZxidLT(LastZxid(Delivered(i)), lastCommitted[i])

\* primary order: a zxid names one proposal (no two primaries share an
\* epoch, none reuses a counter); every log is in zxid order and holds a
\* primary's proposals of an epoch without gaps, in the order proposed
PrimaryOrder ==
    /\ \A a, b \in proposals : a.zxid = b.zxid => a = b
    /\ \A i \in Server :
        LET h == Log(i)
        IN /\ \A k \in 1..(Len(h) - 1) : ZxidLT(h[k].zxid, h[k + 1].zxid)
           /\ \A k \in DOMAIN h :
                 h[k].zxid[2] > 1 => <<h[k].zxid[1], h[k].zxid[2] - 1>> \in Zxids(h)

\* integrity: servers log and deliver only txns some primary proposed
Integrity ==
    /\ committed \subseteq proposals
    /\ \A i \in Server : Range(Log(i)) \subseteq proposals

\* no committed txn is lost: it stays durable in the logs of a quorum (an
\* unsynced copy does not count), and every established leader of its
\* epoch or later has it
NoCommittedTxnLost ==
    \A t \in committed :
        /\ IsQuorum({i \in Server : t \in Range(history[i])})
        /\ \A i \in Server :
              (state[i] = "LEADING" /\ zabState[i] = "BROADCAST" /\ newEpoch[i] >= t.zxid[1])
                  => t \in Range(Log(i))

\* a server's currentEpoch (its election peerEpoch) covers its log: no txn
\* of a later epoch is in it, so the vote order (peerEpoch first) never
\* ranks a server below one whose history it extends
CurrentEpochCoversLog ==
    \A i \in Server : \A k \in DOMAIN Log(i) : Log(i)[k].zxid[1] <= currentEpoch[i]

ZabInvariants ==
    /\ OneLeaderPerEpoch /\ Agreement /\ TotalOrder /\ PrimaryOrder /\ Integrity
    /\ NoCommittedTxnLost /\ CurrentEpochCoversLog
=============================================================================
