------------------------- MODULE FastLeaderElection -------------------------
(***************************************************************************)
(* ZooKeeper 3.8's FastLeaderElection at the grain of its handlers:       *)
(* notifications on per-link queues, logical clocks (rounds), the vote     *)
(* order (peerEpoch, zxid, sid), recvset and outofelection, checkLeader,   *)
(* the finalize wait and the notification timeout.                         *)
(*                                                                         *)
(* One handler merges what 3.8 splits between WorkerReceiver (answer a    *)
(* LOOKING peer) and lookForLeader (update the proposal, count votes).     *)
(* A server's own notification is not sent over a link: its vote enters   *)
(* its recvset directly, as ZooKeeper's self-addressed message does.       *)
(*                                                                         *)
(* Standalone, FLESpec runs elections with crashes and restarts (to reach  *)
(* the out-of-election path); a decided server starts its role (a          *)
(* follower sends FOLLOWERINFO) but no Zab handler runs.                   *)
(***************************************************************************)
EXTENDS ZkCommon

\* ZooKeeper's totalOrderPredicate: (peerEpoch, zxid, sid) lexicographically
\* (ZOOKEEPER-1419)
VoteGT(a, b) ==
    \/ a.peerEpoch > b.peerEpoch
    \/ /\ a.peerEpoch = b.peerEpoch
       /\ \/ ZxidLT(b.zxid, a.zxid)
          \/ a.zxid = b.zxid /\ a.leader > b.leader
VoteGE(a, b) == VoteGT(a, b) \/ a = b

\* Vote.equals: votes of servers out of election compare by (leader, peerEpoch)
VoteEq(a, b) ==
    IF a.state = "LOOKING" \/ b.state = "LOOKING"
    THEN /\ a.leader = b.leader /\ a.zxid = b.zxid
         /\ a.electionEpoch = b.electionEpoch /\ a.peerEpoch = b.peerEpoch
    ELSE a.leader = b.leader /\ a.peerEpoch = b.peerEpoch

\* getVoteTracker(votes, v).hasAllQuorums()
HasQuorumFor(votes, v) == IsQuorum({w.sid : w \in {x \in votes : VoteEq(x, v)}})

\* checkLeader: a leader other than me must have told me it is LEADING;
\* if it is me, the round must be mine
CheckLeader(i, votes, l, ee) ==
    IF l # i THEN \E w \in votes : w.sid = l /\ w.state = "LEADING"
    ELSE logicalclock[i] = ee

PutVote(votes, w) == {x \in votes : x.sid # w.sid} \cup {w}

\* my proposal as an entry of my own recvset
MyRec(i) == VoteRec(i, vote[i], logicalclock[i], "LOOKING")

\* a quorum agrees with my proposal: lookForLeader is in its finalize wait
InFinalize(i) == state[i] = "LOOKING" /\ HasQuorumFor(recvVotes[i], MyRec(i))

\* the election ends with vote v in round lc: the role starts, the election
\* state of the round is dropped.  eq: the election queues after the step.
Decide(i, v, lc, eq) ==
    /\ v.leader = i => LeaderEntering(i)
    /\ logicalclock' = [logicalclock EXCEPT ![i] = lc]
    /\ vote' = [vote EXCEPT ![i] = v]
    /\ recvVotes' = [recvVotes EXCEPT ![i] = {}]
    /\ outOfElection' = [outOfElection EXCEPT ![i] = {}]
    /\ emsgs' = eq
    /\ StartRole(i, v.leader)
    /\ UNCHANGED <<durableVars, lastCommitted, learners, learnerZxid,
                   connectingFollowers, electingFollowers, newLeaderAckers,
                   proposalAcks, followerVars, brokenLinks, boundVars, ghostVars>>

ElectionOnly(eq) ==
    /\ emsgs' = eq
    /\ UNCHANGED <<durableVars, roleVars, leaderVars, followerVars, qmsgs,
                   brokenLinks, boundVars, ghostVars>>

(***************************************************************************)
(* i handles the NOTIFICATION at the head of the j -> i election queue.    *)
(***************************************************************************)
HandleNotification(i, j) ==
    /\ state[i] # "DOWN"
    /\ emsgs[j][i] # <<>>
    /\ LET n    == Head(emsgs[j][i])
           nv   == [leader |-> n.mleader, zxid |-> n.mzxid, peerEpoch |-> n.mpeerEpoch]
           nrec == VoteRec(j, nv, n.melectionEpoch, n.mstate)
           lc   == logicalclock[i]
           q0   == Deq(emsgs, j, i)
       IN
       IF state[i] # "LOOKING"
       THEN \* WorkerReceiver, out of election: tell a LOOKING peer my vote
            /\ ElectionOnly(IF n.mstate = "LOOKING"
                            THEN Enq(q0, i, j, NotificationMsg(vote[i], lc, state[i]))
                            ELSE q0)
            /\ UNCHANGED electionVars
       ELSE
       \* WorkerReceiver, LOOKING: answer a peer of an older round
       LET q1 == IF n.mstate = "LOOKING" /\ n.melectionEpoch < lc
                 THEN Enq(q0, i, j, NotificationMsg(vote[i], lc, "LOOKING"))
                 ELSE q0
       IN
       IF InFinalize(i) /\ ~VoteGT(nv, vote[i])
       THEN \* finalize wait: a notification that is not better is dropped
            /\ ElectionOnly(q1)
            /\ UNCHANGED electionVars
       ELSE IF n.mstate = "LOOKING" /\ n.melectionEpoch > lc
       THEN
            \* a newer round: join it, with the better of n's vote and mine
            LET v == IF VoteGT(nv, InitVote(i)) THEN nv ELSE InitVote(i)
                ee == n.melectionEpoch
            IN /\ logicalclock' = [logicalclock EXCEPT ![i] = ee]
               /\ vote' = [vote EXCEPT ![i] = v]
               /\ recvVotes' = [recvVotes EXCEPT ![i] =
                                  {VoteRec(i, v, ee, "LOOKING"), nrec}]
               /\ UNCHANGED outOfElection
               /\ ElectionOnly(Broadcast(q1, i, NotificationMsg(v, ee, "LOOKING")))
       ELSE IF n.mstate = "LOOKING" /\ n.melectionEpoch < lc
       THEN
            /\ ElectionOnly(q1)
            /\ UNCHANGED electionVars
       ELSE IF n.mstate = "LOOKING" /\ VoteGT(nv, vote[i])
       THEN
            \* same round, better vote: adopt it and tell everyone
            /\ vote' = [vote EXCEPT ![i] = nv]
            /\ recvVotes' = [recvVotes EXCEPT ![i] =
                               PutVote(PutVote(@, VoteRec(i, nv, lc, "LOOKING")), nrec)]
            /\ UNCHANGED <<logicalclock, outOfElection>>
            /\ ElectionOnly(Broadcast(q1, i, NotificationMsg(nv, lc, "LOOKING")))
       ELSE IF n.mstate = "LOOKING"
       THEN
            /\ recvVotes' = [recvVotes EXCEPT ![i] = PutVote(@, nrec)]
            /\ UNCHANGED <<logicalclock, vote, outOfElection>>
            /\ ElectionOnly(q1)
       ELSE \* n comes from a FOLLOWING or LEADING server
            LET r1 == IF n.melectionEpoch = lc THEN PutVote(recvVotes[i], nrec)
                      ELSE recvVotes[i]
                d1 == /\ n.melectionEpoch = lc
                      /\ HasQuorumFor(r1, nrec)
                      /\ CheckLeader(i, r1, n.mleader, n.melectionEpoch)
                o1 == PutVote(outOfElection[i], nrec)
                d2 == /\ HasQuorumFor(o1, nrec)
                      /\ CheckLeader(i, o1, n.mleader, n.melectionEpoch)
            IN IF d1 \/ d2
               THEN Decide(i, nv, IF d1 THEN lc ELSE n.melectionEpoch, q1)
               ELSE /\ recvVotes' = [recvVotes EXCEPT ![i] = r1]
                    /\ outOfElection' = [outOfElection EXCEPT ![i] = o1]
                    /\ UNCHANGED <<logicalclock, vote>>
                    /\ ElectionOnly(q1)

(***************************************************************************)
(* i's finalize wait ends with no better notification: it decides.         *)
(***************************************************************************)
FinalizeElection(i) ==
    /\ InFinalize(i)
    /\ Decide(i, vote[i], logicalclock[i], emsgs)

(***************************************************************************)
(* i's notification timeout fires (nothing received): it sends its vote    *)
(* again.  Only to peers whose queue from i is empty, so queues stay       *)
(* bounded; only when all of i's incoming election queues are empty.       *)
(***************************************************************************)
ElectionTimeout(i) ==
    /\ state[i] = "LOOKING"
    /\ ~InFinalize(i)
    /\ \A j \in Server : emsgs[j][i] = <<>>
    /\ LET targets == {j \in Server : Reachable(i, j) /\ emsgs[i][j] = <<>>}
       IN /\ targets # {}
          /\ ElectionOnly(EnqTo(emsgs, i, targets,
                                NotificationMsg(vote[i], logicalclock[i], "LOOKING")))
          /\ UNCHANGED electionVars

-----------------------------------------------------------------------------
(* Standalone election model *)

\* i leaves its role for no modelled reason (in the system: a Zab timeout)
RoleTimeout(i) ==
    /\ state[i] \in {"FOLLOWING", "LEADING"}
    /\ BecomeLooking(i)
    /\ UNCHANGED <<durableVars, lastCommitted, brokenLinks, boundVars, ghostVars>>

FLENext ==
    \/ \E i, j \in Server : HandleNotification(i, j)
    \/ \E i \in Server : FinalizeElection(i)
    \/ \E i \in Server : ElectionTimeout(i)
    \/ \E i \in Server : RoleTimeout(i)
    \/ \E i \in Server : Crash(i)
    \/ \E i \in Server : Restart(i)
    \/ \E i, j \in Server : LinkBreak(i, j)
    \/ \E i, j \in Server : LinkHeal(i, j)

\* logs and epochs of the initial state: chosen among a few, so that votes
\* differ by peerEpoch, zxid and sid
FLETxn1 == [zxid |-> <<1, 1>>, value |-> 1]
FLEInit ==
    \E ce \in [Server -> {0, 1}] :
    \E h \in [Server -> {<<>>, <<FLETxn1>>}] :
        /\ \A i \in Server : h[i] # <<>> => ce[i] = 1
        /\ InitWith(h, ce, <<>>, {})

FLESpec == FLEInit /\ [][FLENext]_vars

\* one initial state where the vote order is the reverse of the sid order:
\* the lowest id has (1, <<1,1>>), the next (1, <<0,0>>), the others (0, <<0,0>>)
FLEFixedInit ==
    LET s1 == CHOOSE s \in Server : \A t \in Server : s <= t
        s2 == CHOOSE s \in Server \ {s1} : \A t \in Server \ {s1} : s <= t
    IN InitWith([i \in Server |-> IF i = s1 THEN <<FLETxn1>> ELSE <<>>],
                [i \in Server |-> IF i \in {s1, s2} THEN 1 ELSE 0], <<>>, {})
FLEFixedSpec == FLEFixedInit /\ [][FLENext]_vars

-----------------------------------------------------------------------------
(* Election invariants *)

\* a LOOKING server never proposes a vote worse than its own initial vote:
\* it only moves to better votes (or to its own, in a newer round)
VoteNeverBelowOwn ==
    \A i \in Server : state[i] = "LOOKING" => VoteGE(vote[i], InitVote(i))

\* the recvset of a LOOKING server holds its own current proposal
OwnVoteRecorded ==
    \A i \in Server : state[i] = "LOOKING" /\ UseFLE => MyRec(i) \in recvVotes[i]

LogicalClockBounded == \A i \in Server : logicalclock[i] <= MaxRound

FLEInvariants == VoteNeverBelowOwn /\ OwnVoteRecorded
=============================================================================
