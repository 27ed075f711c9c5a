-------------------------------- MODULE Toy --------------------------------
(***************************************************************************)
(* A toy for the conformance library's tests: processes keep a counter,    *)
(* gossip it over per-link FIFO queues and adopt the larger value.  The    *)
(* actions follow the project's convention: every disjunct of Next is      *)
(* \E i \in Proc : Op(i) or \E i, j \in Proc : Op(i, j), and the message   *)
(* an action consumes is the head of a queue, so (operator, params) names  *)
(* a step.  CountBound is an invariant a model can break on purpose;       *)
(* ResetAllowed = FALSE with MaxQueue = 0 makes a deadlock.                *)
(***************************************************************************)
EXTENDS Naturals, Sequences, TLC

CONSTANTS Proc, MaxCount, MaxQueue, Bound, ResetAllowed

VARIABLES count, chan, log

vars == <<count, chan, log>>

Perms == Permutations(Proc)

TypeOK ==
    /\ count \in [Proc -> 0..MaxCount]
    /\ \A i, j \in Proc : Len(chan[i][j]) <= MaxQueue
    /\ log \in Seq([op : {"incr", "adopt"}, at : Proc, val : Nat])

CountBound == \A i \in Proc : count[i] <= Bound

\* The counters only grow, so a process never holds less than what it sent.
Monotone == \A i, j \in Proc : \A k \in 1..Len(chan[i][j]) : chan[i][j][k] <= count[i]

Init ==
    /\ count = [i \in Proc |-> 0]
    /\ chan = [i \in Proc |-> [j \in Proc |-> <<>>]]
    /\ log = <<>>

Incr(i) ==
    /\ count[i] < MaxCount
    /\ count' = [count EXCEPT ![i] = @ + 1]
    /\ log' = Append(log, [val |-> count[i] + 1, at |-> i, op |-> "incr"])  \* fields out of order on purpose
    /\ UNCHANGED chan

Send(i, j) ==
    /\ i # j
    /\ Len(chan[i][j]) < MaxQueue
    /\ chan' = [chan EXCEPT ![i][j] = Append(@, count[i])]
    /\ UNCHANGED <<count, log>>

Receive(i, j) ==
    /\ chan[j][i] # <<>>
    /\ LET m == Head(chan[j][i]) IN
        /\ chan' = [chan EXCEPT ![j][i] = Tail(@)]
        /\ IF m > count[i]
              THEN /\ count' = [count EXCEPT ![i] = m]
                   /\ log' = Append(log, [op |-> "adopt", at |-> i, val |-> m])
              ELSE UNCHANGED <<count, log>>

Reset ==
    /\ ResetAllowed
    /\ \A i \in Proc : count[i] = MaxCount
    /\ \A i, j \in Proc : chan[i][j] = <<>>
    /\ count' = [i \in Proc |-> 0]
    /\ log' = <<>>
    /\ UNCHANGED chan

Next ==
    \/ \E i \in Proc : Incr(i)
    \/ \E i, j \in Proc : Send(i, j)
    \/ \E i, j \in Proc : Receive(i, j)
    \/ Reset

Spec == Init /\ [][Next]_vars

\* False without fairness: TLC finds a stuttering counterexample.
AllDone == <>(\A i \in Proc : count[i] = MaxCount)

\* Under weak fairness with resets, the counters never stay done: TLC finds a
\* cycle ("Back to state"), not a stuttering end.
FairSpec == Spec /\ WF_vars(Next)
StaysDone == <>[](\A i \in Proc : count[i] = MaxCount)
=============================================================================
