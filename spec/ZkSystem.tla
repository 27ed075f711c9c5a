------------------------------- MODULE ZkSystem -------------------------------
(***************************************************************************)
(* The composed system: FastLeaderElection chooses the roles, Zab runs     *)
(* them, and the environment injects faults: crash, restart with durable   *)
(* state only, link break and heal, and client writes.  Every disjunct of  *)
(* Next is \E i \in Server : Op(i) or \E i, j \in Server : Op(i, j), so    *)
(* TLC splits the actions statically and (operator, i, j) names a step.    *)
(***************************************************************************)
EXTENDS FastLeaderElection, Zab

ASSUME UseFLE

Next ==
    \* election
    \/ \E i, j \in Server : HandleNotification(i, j)
    \/ \E i \in Server : FinalizeElection(i)
    \/ \E i \in Server : ElectionTimeout(i)
    \* discovery
    \/ \E i, j \in Server : HandleFOLLOWERINFO(i, j)
    \/ \E i, j \in Server : HandleLEADERINFO(i, j)
    \/ \E i, j \in Server : HandleACKEPOCH(i, j)
    \* synchronization
    \/ \E i, j \in Server : HandleDIFF(i, j)
    \/ \E i, j \in Server : HandleTRUNC(i, j)
    \/ \E i, j \in Server : HandleSNAP(i, j)
    \/ \E i, j \in Server : HandleNEWLEADER(i, j)
    \/ \E i, j \in Server : HandleUPTODATE(i, j)
    \* broadcast
    \/ \E i, j \in Server : HandlePROPOSAL(i, j)
    \/ \E i, j \in Server : HandleCOMMIT(i, j)
    \/ \E i, j \in Server : HandleINFORM(i, j)
    \/ \E i, j \in Server : HandleACK(i, j)
    \/ \E i \in Server : ClientWrite(i)
    \/ \E i \in Server : FsyncLog(i)
    \/ \E i, j \in Server : SendNEWLEADER(i, j)
    \* timeouts
    \/ \E i \in Server : LeaderTimeout(i)
    \/ \E i \in Server : FollowerTimeout(i)
    \* faults
    \/ \E i \in Server : Crash(i)
    \/ \E i \in Server : Restart(i)
    \/ \E i, j \in Server : LinkBreak(i, j)
    \/ \E i, j \in Server : LinkHeal(i, j)

Spec == Init /\ [][Next]_vars

\* from Zab's recovery state (epoch 1 done, one server with an extra txn,
\* everyone restarted and LOOKING): the composed system's way into TRUNC,
\* SNAP and DIFF with few steps
RecoverySpec == RecoveryInit /\ [][Next]_vars

\* the trace model's starting points: Zab's recovery state (r logged a
\* after x), or a later one where r logged txns no one else got and then
\* missed an epoch that every other server synced to (with s as leader): r's
\* vote loses on peerEpoch and its first synchronization is a TRUNC of one
\* or two txns, within an epoch or across one
RecTxnB == [zxid |-> <<1, 3>>, value |-> 3]
RecTxnC == [zxid |-> <<2, 1>>, value |-> 2]
TracesInit ==
    \/ RecoveryInit
    \/ \E r, s \in Server :
        LET others(e) == [i \in Server |-> IF i = r THEN e - 1 ELSE e]
            logs(t) == [i \in Server |-> IF i = r THEN <<RecTxnX>> \o t ELSE <<RecTxnX>>]
        IN /\ r # s
           /\ \/ InitWith(logs(<<RecTxnA>>), others(2), <<RecTxnX>>, {<<r, 1>>, <<s, 2>>})
              \/ InitWith(logs(<<RecTxnA, RecTxnB>>), others(2), <<RecTxnX>>, {<<r, 1>>, <<s, 2>>})
              \/ InitWith(logs(<<RecTxnC>>), others(3), <<RecTxnX>>,
                          {<<r, 1>>, <<r, 2>>, <<s, 3>>})
TracesSpec == TracesInit /\ [][Next]_vars

SystemInvariants == ZabInvariants /\ FLEInvariants

-----------------------------------------------------------------------------
(* Liveness.  Fairness: every handler of the election and of Zab, and      *)
(* every timer, is weakly fair: a step that stays enabled is taken.        *)
(* Restart and LinkHeal are weakly fair too ("faults stop": a crashed       *)
(* server comes back, a cut link heals).  Crash and LinkBreak are faults    *)
(* and ClientWrite the environment: no fairness; faults are bounded by      *)
(* MaxCrashes / MaxLinkBreaks, so in every behaviour they stop.  See        *)
(* README, "Liveness", for the bounds MaxRound / MaxEpoch.                  *)
\* the Zab packet handlers of i for the head of the j -> i queue: the head's
\* type names the one that can take it, and only taking it changes the head
\* (or a fault), so weak fairness on this disjunction is weak fairness on each
ZabReceive(i, j) ==
    \/ HandleFOLLOWERINFO(i, j) \/ HandleLEADERINFO(i, j) \/ HandleACKEPOCH(i, j)
    \/ HandleDIFF(i, j) \/ HandleTRUNC(i, j) \/ HandleSNAP(i, j)
    \/ HandleNEWLEADER(i, j) \/ HandleUPTODATE(i, j)
    \/ HandlePROPOSAL(i, j) \/ HandleCOMMIT(i, j) \/ HandleINFORM(i, j) \/ HandleACK(i, j)

\* (a new handler or timer of Next needs its conjunct here, or the liveness
\* models report a lasso that only its missing fairness allows)
Fairness ==
    /\ \A i, j \in Server :
          /\ WF_vars(HandleNotification(i, j))
          /\ WF_vars(ZabReceive(i, j))
          /\ WF_vars(LinkHeal(i, j))
          /\ WF_vars(SendNEWLEADER(i, j))
    /\ \A i \in Server :
          /\ WF_vars(FinalizeElection(i)) /\ SF_vars(ElectionTimeout(i))
          /\ WF_vars(FsyncLog(i))
          /\ WF_vars(LeaderTimeout(i)) /\ WF_vars(FollowerTimeout(i))
          /\ WF_vars(Restart(i))

FairSpec == Spec /\ Fairness

\* l leads an established epoch and every server that is up follows it in BROADCAST
EstablishedWithAll(l) ==
    /\ state[l] = "LEADING" /\ zabState[l] = "BROADCAST"
    /\ \A i \in Server \ {l} : state[i] # "DOWN" => FollowerOf(i, l) /\ zabState[i] = "BROADCAST"

\* from some point on, one leader is established and every live server follows it
LeaderEstablished == <>[](\E l \in Server : EstablishedWithAll(l))

\* a bound of the model, not the protocol, stops i: a timeout or error that
\* sends i back to LOOKING needs logicalclock < MaxRound (BecomeLooking); a
\* server that would lead needs an epoch <= MaxEpoch (LeaderEntering,
\* HandleFOLLOWERINFO)
RoundBoundBlocks(i) ==
    /\ logicalclock[i] >= MaxRound
    /\ \/ state[i] = "LEADING" /\ (~IsQuorum(ConnectedLearners(i) \cup {i}) \/ zabState[i] # "BROADCAST")
       \/ /\ state[i] = "FOLLOWING"
          /\ learners[vote[i].leader][i] = "NONE"
          /\ ~(qmsgs[i][vote[i].leader] # <<>> /\ state[vote[i].leader] = "LEADING")
       \/ \E j \in Server : FollowerOf(i, j) /\ HeadIs(j, i, "LEADERINFO")
                            /\ Head(qmsgs[j][i]).mzxid[1] < acceptedEpoch[i]
EpochBoundBlocks(i) ==
    \/ state[i] = "LOOKING" /\ vote[i].leader = i /\ ~LeaderEntering(i)
    \/ /\ state[i] = "LEADING" /\ ~EpochDecided(i)
       /\ \E j \in Server : HeadIs(j, i, "FOLLOWERINFO")
                            /\ Max(newEpoch[i], Head(qmsgs[j][i]).mzxid[1] + 1) > MaxEpoch
BoundBlocks == \E i \in Server : RoundBoundBlocks(i) \/ EpochBoundBlocks(i)

\* LeaderEstablished, unless from some point on a bound of the model stops
\* a server for good (a behaviour the bounds cut short, not one of 3.8's)
LeaderEstablishedUnlessBound ==
    <>[](\E l \in Server : EstablishedWithAll(l)) \/ <>[]BoundBlocks
=============================================================================
