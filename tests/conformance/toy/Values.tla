------------------------------- MODULE Values -------------------------------
(* One variable per kind of value, to test conformance.values. *)
EXTENDS Integers, Sequences

CONSTANTS a, b

VARIABLES int, bool, str, mv, rec, tup, seqfcn, setint, interval, setmixed,
          fcnmv, fcnint, fcnpair, powerset, fcnset, lambda, nested, empty

Init ==
    /\ int = -3
    /\ bool = TRUE
    /\ str = "hello"
    /\ mv = a
    /\ rec = [x |-> 1, y |-> "two"]
    /\ tup = <<1, "x", b>>
    /\ seqfcn = [i \in 1..3 |-> i * i]
    /\ setint = {10, 9, 100}
    /\ interval = 2..4
    /\ setmixed = {"b", "a", 3}
    /\ fcnmv = [s \in {a, b} |-> s = a]
    /\ fcnint = [i \in {0, 2, 5} |-> i + 1]
    /\ fcnpair = [p \in {a, b} \X {1} |-> p[2]]
    /\ powerset = SUBSET {1, 2}
    /\ fcnset = [{a} -> {0, 1}]
    /\ lambda = [i \in 0..1 |-> i]
    /\ nested = [s \in {a, b} |-> [log |-> <<[z |-> {s}]>>]]
    /\ empty = <<<<>>, {}, [i \in {} |-> 0]>>

Next == UNCHANGED <<int, bool, str, mv, rec, tup, seqfcn, setint, interval, setmixed,
                    fcnmv, fcnint, fcnpair, powerset, fcnset, lambda, nested, empty>>
=============================================================================
