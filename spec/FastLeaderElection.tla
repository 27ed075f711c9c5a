------------------------- MODULE FastLeaderElection -------------------------
(***************************************************************************)
(* ZooKeeper 3.8's FastLeaderElection at the grain of its handlers:       *)
(* notifications on per-link queues, logical clocks (rounds), the vote     *)
(* order (peerEpoch, zxid, sid), recvset and outofelection, checkLeader,   *)
(* the finalize wait (entered right after recording a LOOKING              *)
(* notification) and the notification timeout.                             *)
(*                                                                         *)
(* One handler merges what 3.8 splits between WorkerReceiver (answer a    *)
(* LOOKING peer) and lookForLeader (update the proposal, count votes).     *)
(* A server's own notifications travel on its loopback queue emsgs[i][i]  *)
(* (3.8's QuorumCnxManager queues a message to oneself for its own        *)
(* receiver) and are counted when handled, like anyone else's; recvset is  *)
(* empty at the start of a round and cleared when i joins a newer one.     *)
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

\* Vote.equals of votes of one version (outofelection's, both built with the
\* notification's version): out of election they compare by (leader, peerEpoch)
VoteEq(a, b) ==
    IF a.state = "LOOKING" \/ b.state = "LOOKING"
    THEN /\ a.leader = b.leader /\ a.zxid = b.zxid
         /\ a.electionEpoch = b.electionEpoch /\ a.peerEpoch = b.peerEpoch
    ELSE a.leader = b.leader /\ a.peerEpoch = b.peerEpoch

\* getVoteTracker(votes, v).hasAllQuorums()
HasQuorumFor(votes, v) == IsQuorum({w.sid : w \in {x \in votes : VoteEq(x, v)}})

\* Vote.equals of a vote in recvset with a FOLLOWING / LEADING notification:
\* 3.8 stores recvset's votes with version 0 (new Vote(leader, zxid,
\* electionEpoch, peerEpoch[, state])) and builds the notification's with its
\* version (2 from 3.8), so (version > 0) ^ (other.version > 0) holds and two
\* out-of-election votes compare by leader id only
VoteEqV0(a, b) ==
    IF a.state = "LOOKING" \/ b.state = "LOOKING" THEN VoteEq(a, b) ELSE a.leader = b.leader
HasQuorumInRecvset(votes, v) == IsQuorum({w.sid : w \in {x \in votes : VoteEqV0(x, v)}})

\* checkLeader: a leader other than me must have told me it is LEADING;
\* if it is me, the round must be mine
CheckLeader(i, votes, l, ee) ==
    IF l # i THEN \E w \in votes : w.sid = l /\ w.state = "LEADING"
    ELSE logicalclock[i] = ee

PutVote(votes, w) == {x \in votes : x.sid # w.sid} \cup {w}

\* lookForLeader, right after it recorded a LOOKING notification in votes:
\* a quorum agrees with my proposal v of round lc, the finalize wait starts
\* (3.8 enters it there only, not after a FOLLOWING / LEADING notification)
StartsFinalize(i, votes, v, lc) == HasQuorumFor(votes, VoteRec(i, v, lc, "LOOKING"))

\* the outcome of an election, as the ghost decisions keeps it: how is
\* "finalize" (a quorum for my own proposal, the finalize wait over) or
\* "join" (a quorum of servers out of election, checkLeader)
DecisionRec(i, v, lc, how) ==
    [sid |-> i, leader |-> v.leader, zxid |-> v.zxid, peerEpoch |-> v.peerEpoch,
     round |-> lc, how |-> how]

\* the election ends with vote v in round lc: the role starts, the election
\* state of the round is dropped.  eq: the election queues after the step,
\* cast: the votes sent in it (ghost)
Decide(i, v, lc, eq, how, cast) ==
    /\ v.leader = i => LeaderEntering(i)
    /\ decisions' = decisions \cup {DecisionRec(i, v, lc, how)}
    /\ castVotes' = castVotes \cup cast
    /\ logicalclock' = [logicalclock EXCEPT ![i] = lc]
    /\ vote' = [vote EXCEPT ![i] = v]
    /\ recvVotes' = [recvVotes EXCEPT ![i] = {}]
    /\ outOfElection' = [outOfElection EXCEPT ![i] = {}]
    /\ finalizing' = [finalizing EXCEPT ![i] = FALSE]
    /\ ENoSend(eq)
    /\ StartRole(i, v.leader)
    /\ UNCHANGED <<durableVars, lastCommitted, learners, learnerZxid,
                   connectingFollowers, electingFollowers, newLeaderAckers,
                   proposalAcks, followerVars, brokenLinks, boundVars, ghostVars>>

\* a step of the election alone: from the election queues q, i sends m to
\* every server of S (none: S = {}); cast the votes sent in it (ghost)
ElectionOnly(q, i, S, m, cast) ==
    /\ ESend(q, i, S, m)
    /\ castVotes' = castVotes \cup cast
    /\ UNCHANGED decisions
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
            \* (not myself: a notification of mine from my last round)
            LET answer == n.mstate = "LOOKING" /\ j # i
            IN /\ ElectionOnly(q0, i, IF answer THEN {j} ELSE {},
                               NotificationMsg(vote[i], lc, state[i]),
                               IF answer THEN {CastRec(i, vote[i], lc, state[i])} ELSE {})
               /\ UNCHANGED <<logicalclock, vote, recvVotes, outOfElection, finalizing>>
       ELSE
       \* WorkerReceiver, LOOKING: answer a peer of an older round
       LET older == n.mstate = "LOOKING" /\ n.melectionEpoch < lc /\ j # i
           s1 == IF older THEN {j} ELSE {}
           m1 == NotificationMsg(vote[i], lc, "LOOKING")
           c1 == IF older THEN {CastRec(i, vote[i], lc, "LOOKING")} ELSE {}
       IN
       IF finalizing[i] /\ ~VoteGT(nv, vote[i])
       THEN \* finalize wait: a notification that is not better is dropped
            /\ ElectionOnly(q0, i, s1, m1, c1)
            /\ UNCHANGED <<logicalclock, vote, recvVotes, outOfElection, finalizing>>
       \* otherwise the finalize wait (if any) ends: n is handled afresh
       ELSE IF n.mstate = "LOOKING" /\ n.melectionEpoch > lc
       THEN
            \* a newer round: join it (recvset cleared), with the better of
            \* n's vote and mine, and tell everyone (me included)
            LET v == IF VoteGT(nv, InitVote(i)) THEN nv ELSE InitVote(i)
                ee == n.melectionEpoch
            IN /\ logicalclock' = [logicalclock EXCEPT ![i] = ee]
               /\ vote' = [vote EXCEPT ![i] = v]
               /\ recvVotes' = [recvVotes EXCEPT ![i] = {nrec}]
               /\ finalizing' = [finalizing EXCEPT ![i] = StartsFinalize(i, {nrec}, v, ee)]
               /\ UNCHANGED outOfElection
               /\ ElectionOnly(q0, i, Server, NotificationMsg(v, ee, "LOOKING"),
                               {CastRec(i, v, ee, "LOOKING")})
       ELSE IF n.mstate = "LOOKING" /\ n.melectionEpoch < lc
       THEN \* an older round: not recorded
            /\ ElectionOnly(q0, i, s1, m1, c1)
            /\ finalizing' = [finalizing EXCEPT ![i] = FALSE]
            /\ UNCHANGED <<logicalclock, vote, recvVotes, outOfElection>>
       ELSE IF n.mstate = "LOOKING" /\ VoteGT(nv, vote[i])
       THEN
            \* same round, better vote: adopt it and tell everyone (me
            \* included: my recvset gets my new vote when I handle that)
            /\ vote' = [vote EXCEPT ![i] = nv]
            /\ recvVotes' = [recvVotes EXCEPT ![i] = PutVote(@, nrec)]
            /\ finalizing' = [finalizing EXCEPT ![i] =
                                 StartsFinalize(i, PutVote(recvVotes[i], nrec), nv, lc)]
            /\ UNCHANGED <<logicalclock, outOfElection>>
            /\ ElectionOnly(q0, i, Server, NotificationMsg(nv, lc, "LOOKING"),
                            {CastRec(i, nv, lc, "LOOKING")})
       ELSE IF n.mstate = "LOOKING"
       THEN
            /\ recvVotes' = [recvVotes EXCEPT ![i] = PutVote(@, nrec)]
            /\ finalizing' = [finalizing EXCEPT ![i] =
                                 StartsFinalize(i, PutVote(recvVotes[i], nrec), vote[i], lc)]
            /\ UNCHANGED <<logicalclock, vote, outOfElection>>
            /\ ElectionOnly(q0, i, s1, m1, c1)
       ELSE \* n comes from a FOLLOWING or LEADING server
            LET r1 == IF n.melectionEpoch = lc THEN PutVote(recvVotes[i], nrec)
                      ELSE recvVotes[i]
                d1 == /\ n.melectionEpoch = lc
                      /\ HasQuorumInRecvset(r1, nrec)
                      /\ CheckLeader(i, r1, n.mleader, n.melectionEpoch)
                o1 == PutVote(outOfElection[i], nrec)
                d2 == /\ HasQuorumFor(o1, nrec)
                      /\ CheckLeader(i, o1, n.mleader, n.melectionEpoch)
            IN IF d1 \/ d2
               THEN Decide(i, nv, IF d1 THEN lc ELSE n.melectionEpoch, q0, "join", {})
               ELSE /\ recvVotes' = [recvVotes EXCEPT ![i] = r1]
                    /\ outOfElection' = [outOfElection EXCEPT ![i] = o1]
                    /\ finalizing' = [finalizing EXCEPT ![i] = FALSE]
                    /\ UNCHANGED <<logicalclock, vote>>
                    /\ ElectionOnly(q0, i, s1, m1, c1)

(***************************************************************************)
(* i's finalize wait ends with no better notification: it decides.         *)
(***************************************************************************)
FinalizeElection(i) ==
    /\ state[i] = "LOOKING" /\ finalizing[i]
    /\ Decide(i, vote[i], logicalclock[i], emsgs, "finalize", {})

(***************************************************************************)
(* i's notification timeout fires (nothing received): as 3.8, if some     *)
(* message of i went out (haveDelivered) it sends its vote again to every  *)
(* server, itself included, else it only redials (connectAll).  Taken only *)
(* when every election queue into and out of i is empty, so queues stay    *)
(* bounded (3.8 may also time out with its messages still in flight).      *)
(***************************************************************************)
ElectionTimeout(i) ==
    /\ state[i] = "LOOKING"
    /\ ~finalizing[i]
    /\ \A j \in Server : emsgs[j][i] = <<>> /\ emsgs[i][j] = <<>>
    /\ IF HaveDelivered(i)
       THEN ElectionOnly(emsgs, i, Server, NotificationMsg(vote[i], logicalclock[i], "LOOKING"),
                         {CastRec(i, vote[i], logicalclock[i], "LOOKING")})
       ELSE /\ EConnectAll(i)
            /\ UNCHANGED castVotes
            /\ UNCHANGED decisions
            /\ UNCHANGED <<durableVars, roleVars, leaderVars, followerVars, qmsgs,
                           brokenLinks, boundVars, ghostVars>>
    /\ UNCHANGED <<logicalclock, vote, recvVotes, outOfElection, finalizing>>

-----------------------------------------------------------------------------
(* Standalone election model *)

\* i leaves its role for no modelled reason (in the system: a Zab timeout)
RoleTimeout(i) ==
    /\ state[i] \in {"FOLLOWING", "LEADING"}
    /\ BecomeLooking(i)
    /\ UNCHANGED <<currentEpoch, acceptedEpoch, lastCommitted, brokenLinks, boundVars, ghostVars>>

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
(* Election invariants.  Votes are compared here by their own key, not by  *)
(* the handler's VoteGT, so a wrong order in the handler is caught.        *)

\* (peerEpoch, zxid, sid) as one tuple, compared lexicographically
VoteKey(v) == <<v.peerEpoch, v.zxid[1], v.zxid[2], v.leader>>
KeyGE(a, b) ==
    \E k \in 1..5 : /\ \A m \in 1..(k - 1) : a[m] = b[m]
                    /\ k = 5 \/ a[k] > b[k]

\* a LOOKING server never proposes a vote worse than its own initial vote
VoteNeverBelowOwn ==
    \A i \in Server : state[i] = "LOOKING" => KeyGE(VoteKey(vote[i]), VoteKey(InitVote(i)))

\* a LOOKING server's recvset holds votes of its current round only (3.8
\* clears it when it joins a newer round), each one a vote its sender cast
RecvsetOfRound ==
    \A i \in Server : state[i] = "LOOKING" =>
        \A w \in recvVotes[i] :
            /\ w.electionEpoch = logicalclock[i]
            /\ \E c \in castVotes :
                  /\ c.sid = w.sid /\ c.leader = w.leader /\ c.zxid = w.zxid
                  /\ c.electionEpoch = w.electionEpoch /\ c.peerEpoch = w.peerEpoch
                  /\ c.state = w.state

\* the cast vote c counts for the decision d: the same leader; for a
\* proposal of a LOOKING server (or any vote, for a finalize decision) the
\* same epoch, zxid and round as well (Vote.equals).  A FOLLOWING / LEADING
\* vote counts for a join by its leader alone: 3.8 compares it with
\* recvset's version-0 votes by leader id (VoteEqV0)
Supports(c, d) ==
    /\ c.leader = d.leader
    /\ (d.how = "finalize" \/ c.state = "LOOKING")
          => (c.peerEpoch = d.peerEpoch /\ c.zxid = d.zxid /\ c.electionEpoch = d.round)

\* every election outcome is backed by a quorum of servers that sent a vote
\* for that leader in that round
DecisionBacked ==
    \A d \in decisions : IsQuorum({c.sid : c \in {x \in castVotes : Supports(x, d)}})

\* a server that ends its election with a quorum for its own proposal
\* elects the greatest (peerEpoch, zxid, sid) of that quorum: no member of
\* the quorum started the round with a better vote
ElectedIsMax ==
    \A d \in decisions : d.how = "finalize" =>
        IsQuorum({c.sid : c \in {x \in castVotes :
                     /\ Supports(x, d)
                     /\ x.state = "LOOKING" => KeyGE(VoteKey(d), VoteKey(x.base))}})

\* a server that joins a running ensemble follows a leader that said it was
\* LEADING (checkLeader)
JoinedLeaderLeads ==
    \A d \in decisions : (d.how = "join" /\ d.leader # d.sid) =>
        \E c \in castVotes : c.sid = d.leader /\ c.state = "LEADING"

\* not an invariant of 3.8's FLE (see README): two servers may decide for
\* different leaders in the same round
RoundAgreement ==
    \A d, e \in decisions : d.round = e.round => d.leader = e.leader

LogicalClockBounded == \A i \in Server : logicalclock[i] <= MaxRound

FLEInvariants ==
    /\ VoteNeverBelowOwn /\ RecvsetOfRound /\ DecisionBacked /\ ElectedIsMax
    /\ JoinedLeaderLeads

-----------------------------------------------------------------------------
(* Liveness of the election alone.  Fairness: every handler of the         *)
(* protocol and every timer is weakly fair (a step that stays enabled is   *)
(* taken); Restart and LinkHeal too ("faults stop": a crashed server comes  *)
(* back, a cut link heals).  Crash, LinkBreak and RoleTimeout are faults:   *)
(* no fairness, bounded by MaxCrashes, MaxLinkBreaks and MaxRound, so in    *)
(* every behaviour they stop.  See README, "Liveness".                      *)
FLEFairness ==
    /\ \A i, j \in Server : WF_vars(HandleNotification(i, j))
    /\ \A i \in Server : WF_vars(FinalizeElection(i))
    /\ \A i \in Server : SF_vars(ElectionTimeout(i))
    /\ \A i \in Server : WF_vars(Restart(i))
    /\ \A i, j \in Server : WF_vars(LinkHeal(i, j))

FLEFairSpec == FLESpec /\ FLEFairness
FLEFixedFairSpec == FLEFixedSpec /\ FLEFairness

\* the election ends: from some point on, every server that is up has decided
ElectionEnds == <>[](\A i \in Server : state[i] # "LOOKING")

\* ... and on one leader (not a property of 3.8's FLE alone: two servers can
\* decide different leaders in one round, see RoundAgreement; Zab's
\* FollowerTimeout / LeaderTimeout send the loser back, see ZkSystem's
\* LeaderEstablished)
ElectionAgrees ==
    <>[](\E l \in Server : \A i \in Server : state[i] # "DOWN" => state[i] # "LOOKING" /\ vote[i].leader = l)
=============================================================================
