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

SystemInvariants == ZabInvariants /\ FLEInvariants
=============================================================================
