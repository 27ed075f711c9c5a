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
=============================================================================
