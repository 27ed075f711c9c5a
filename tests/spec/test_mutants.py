"""Each invariant of spec/ bites: a mutated copy of the spec makes TLC report it.

Every mutant is the spec with a seeded protocol bug, made by textual
substitution in a temporary directory (each substitution must apply exactly
once), plus a model small enough for the bug to show quickly.  The model
lists the invariant the mutant must break first, then the module's other
invariants, so the test checks both that the invariant catches the bug and
that no other one does so earlier.  TLC runs in a subprocess per mutant (one
live spec per JVM), two at a time, each with one worker so that the search
is strictly breadth-first and the counterexample a shortest one:
``python -m conformance check M.cfg --json --validate --workers 1``.  The
test checks which invariant TLC reported and that its counterexample replays
through the mutated spec: each state a successor of the previous one under
the named action, the last one the first to break the invariant
(``validated``).  Each mutant's result.json stays in pytest's tmp directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(REPO, "spec")



def module_invariants(module: str, name: str) -> list[str]:
    """TypeOK plus the conjuncts of the invariant list `name` defined in spec/<module>.tla."""
    with open(os.path.join(SPEC, module + ".tla"), encoding="utf-8") as fh:
        text = fh.read()
    m = re.search(rf"^{name} ==\n((?:    .*\n)+)", text, re.M)
    assert m, f"{module}.tla defines no {name}"
    return ["TypeOK"] + re.findall(r"\w+", m.group(1))


ZAB_INVARIANTS = module_invariants("Zab", "ZabInvariants")
FLE_INVARIANTS = module_invariants("FastLeaderElection", "FLEInvariants")
#: a model's invariant list, by root module (ZkSystem checks both modules' lists)
MODULE_INVARIANTS = {"Zab": ZAB_INVARIANTS, "FastLeaderElection": FLE_INVARIANTS,
                     "ZkSystem": ZAB_INVARIANTS + FLE_INVARIANTS[1:]}
SYM3 = ["s1", "s2", "s3"]
SYM4 = ["s1", "s2", "s3", "s4"]


@dataclass
class Mutant:
    name: str
    story: str
    expect: str  # the invariant TLC must report
    module: str  # root module of the model
    spec: str  # SPECIFICATION
    subs: list[tuple[str, str, str]]  # (file, old text, new text)
    servers: list[str] = field(default_factory=lambda: list(SYM3))
    constants: dict[str, object] = field(default_factory=dict)
    #: "property": expect is a temporal property (checked under the spec's fairness) that the
    #: mutant breaks with a lasso, while every invariant still holds
    kind: str = "invariant"

    def cfg(self) -> str:
        consts = {"MaxEpoch": 2, "MaxTxns": 1, "MaxCrashes": 1, "MaxLinkBreaks": 0, "MaxRound": 1,
                  "CommittedLogSize": 1, "UseFLE": "FALSE", "ModelFsync": "FALSE", "SplitNewLeader": "FALSE",
                  "TxnLogSync": "FALSE", "Observers": "{}"}
        consts.update(self.constants)
        invs = MODULE_INVARIANTS[self.module]
        if self.kind == "invariant":
            invs = [self.expect] + [i for i in invs if i != self.expect]
        lines = [f"\\* module: {self.module}", f"\\* mutant {self.name}: {self.story}", "CONSTANTS",
                 f"    Server = {{{', '.join(self.servers)}}}"]
        lines += [f"    {k} = {v}" for k, v in consts.items()]
        if not all(s.isdigit() for s in self.servers):
            lines += [f"    {s} = {s}" for s in self.servers]
            lines.append("SYMMETRY Symmetry")
        lines += [f"SPECIFICATION {self.spec}", "INVARIANTS " + " ".join(invs)]
        if self.kind == "property":
            lines.append(f"PROPERTIES {self.expect}")
        return "\n".join(lines) + "\n"


MUTANTS = [
    Mutant(
        "commit_without_quorum",
        "an ACK commits every outstanding proposal, not only the first one with a quorum",
        "NoCommittedTxnLost", "Zab", "ZabSpec",
        [("Zab.tla", "/\\ lastCommitted' = [lastCommitted EXCEPT ![i] = z]",
          "/\\ lastCommitted' = [lastCommitted EXCEPT ![i] = LastZxid(Log(i))]"),
         ("Zab.tla", "/\\ committed' = committed \\cup {out[1]}",
          "/\\ committed' = committed \\cup Range(out)"),
         ("Zab.tla", "/\\ commitLog' = ExtendLog(commitLog, PrefixTo(Log(i), z))",
          "/\\ commitLog' = ExtendLog(commitLog, Log(i))")],
        constants={"MaxTxns": 2}),
    Mutant(
        "newleader_one_ack",
        "the leader is established by the first NEWLEADER ACK (with its own, a quorum of 3 servers, not of 4)",
        "NoCommittedTxnLost", "Zab", "ZabRecoverySpec",
        [("Zab.tla", "IN IF IsQuorum(nla \\cup {i})", "IN IF nla # {}")],
        servers=SYM4, constants={"MaxTxns": 3, "CommittedLogSize": 2, "MaxCrashes": 0}),
    Mutant(
        "commit_one_ack",
        "a proposal is committed by the first follower ACK (with the leader's, a quorum of 3 servers, not of 4)",
        "NoCommittedTxnLost", "Zab", "ZabRecoverySpec",
        [("Zab.tla", "IsQuorum({k \\in Server : <<k, z>> \\in acks})",
          "Cardinality({k \\in Server : <<k, z>> \\in acks}) >= 2")],
        servers=SYM4, constants={"MaxTxns": 3, "CommittedLogSize": 2, "MaxCrashes": 0}),
    Mutant(
        "zk38_stale_acks",
        "3.8's ack sets: a leader keeps the ACKs of a follower whose connection closed, so a follower that "
        "reconnects and truncates the proposal it ACKed still counts for its commit",
        "NoCommittedTxnLost", "Zab", "ZabRecoverySpec",
        [("ZkCommon.tla", "[a \\in Server |-> IF a = i THEN {} ELSE {p \\in proposalAcks[a] : p[1] # i}]",
          "[proposalAcks EXCEPT ![i] = {}]")],
        servers=SYM4, constants={"MaxTxns": 3, "CommittedLogSize": 2}),
    Mutant(
        "zk380_newleader_order",
        "3.8.0-3.8.4's follower order at NEWLEADER: currentEpoch written, the PROPOSALs received in sync "
        "handed to the asynchronous log (pending, no wait for the fsync), NEWLEADER ACKed; the leader's "
        "NEWLEADER quorum then commits txns that only its own log holds durably",
        "NoCommittedTxnLost", "Zab", "ZabRecoverySpec",
        [("Zab.tla",
          "       IN /\\ history' = [history EXCEPT ![i] = sh]\n"
          "          /\\ UNCHANGED pendingFsync\n",
          # what 3.8.0-3.8.4 has durable at NEWLEADER: the follower's own log after DIFF / TRUNC,
          # or the snapshot SNAP took (the txns committed in sync applied into it); the rest pending
          "           base == IF IsPrefix(history[i], sh) THEN history[i] ELSE PrefixTo(sh, syncCommit[i])\n"
          "       IN /\\ history' = [history EXCEPT ![i] = base]\n"
          "          /\\ pendingFsync' = [pendingFsync EXCEPT ![i] = AfterZxid(sh, LastZxid(base))]\n"),
         ("Zab.tla",
          "          /\\ qmsgs' = EnqSeqTo(Deq(qmsgs, j, i), i, {j}, <<AckMsg(<<e, 0>>)>> \\o acks)",
          # the synced proposals are ACKed by FsyncLog, after their fsync
          "          /\\ qmsgs' = EnqSeqTo(Deq(qmsgs, j, i), i, {j}, <<AckMsg(<<e, 0>>)>>)")],
        constants={"MaxTxns": 2, "CommittedLogSize": 2, "MaxCrashes": 0, "ModelFsync": "TRUE"}),
    Mutant(
        "ack_before_fsync",
        "a follower ACKs a PROPOSAL when it appends it to its log, before its fsync: two followers' "
        "ACKs commit a txn no log holds durably (the leader logs asynchronously too)",
        "NoCommittedTxnLost", "Zab", "ZabSpec",
        [("Zab.tla",
          "               /\\ qmsgs' = q0\n"
          "               /\\ UNCHANGED <<history, syncHistory>>",
          "               /\\ qmsgs' = Enq(q0, i, j, AckMsg(t.zxid))\n"
          "               /\\ UNCHANGED <<history, syncHistory>>")],
        constants={"MaxEpoch": 1, "MaxCrashes": 0, "ModelFsync": "TRUE"}),
    Mutant(
        "diff_across_epochs",
        "the leader sends a DIFF where the follower's log diverges in an older epoch (3.8 sends SNAP)",
        "Agreement", "Zab", "ZabRecoverySpec",
        [("Zab.tla", "               ELSE IF later[1].zxid[1] # pz[1]\n"
                     "                    THEN snap ",
          "               ELSE IF later[1].zxid[1] # pz[1]\n"
          "                    THEN <<DiffMsg(maxC)>> \\o ProposalCommitMsgs(later) ")],
        constants={"MaxTxns": 3, "CommittedLogSize": 2}),
    Mutant(
        "skip_trunc",
        "the follower ignores TRUNC and keeps its extra txns",
        "PrimaryOrder", "Zab", "ZabSpec",
        [("Zab.tla", "LET h == PrefixTo(history[i], Head(qmsgs[j][i]).mzxid)", "LET h == history[i]")],
        constants={"MaxTxns": 2}),
    Mutant(
        "propose_in_old_epoch",
        "the leader numbers a new proposal in the epoch of its last logged txn, not its own epoch",
        # TotalOrder since the SNAP of <<epoch, 0>> to a late joiner (LeaderLastProcessed):
        # the proposal's zxid is below that follower's commit point; PrimaryOrder before
        "TotalOrder", "Zab", "ZabSpec",
        [("Zab.tla", "z == <<newEpoch[i], IF last[1] = newEpoch[i] THEN last[2] + 1 ELSE 1>>",
          "z == <<last[1], last[2] + 1>>")],
        constants={"MaxTxns": 2}),
    Mutant(
        "commit_missing_txn",
        "a follower loses a PROPOSAL (no log, no ACK) and still records its COMMIT (no ZOOKEEPER-2355 check)",
        "TotalOrder", "Zab", "ZabSpec",
        [("Zab.tla", "          ELSE /\\ history' = [history EXCEPT ![i] = Append(@, t)]\n"
                     "               /\\ qmsgs' = Enq(q0, i, j, AckMsg(t.zxid))",
          "          ELSE /\\ UNCHANGED history\n"
          "               /\\ qmsgs' = q0"),
         ("Zab.tla", "          ELSE /\\ lastCommitted' = [lastCommitted EXCEPT ![i] =\n"
                     "                                      IF z \\in Zxids(h) THEN z ELSE @]",
          "          ELSE /\\ lastCommitted' = [lastCommitted EXCEPT ![i] = z]")]),
    Mutant(
        "corrupt_proposal",
        "a follower logs a PROPOSAL with corrupted data",
        "Integrity", "Zab", "ZabSpec",
        [("Zab.tla", "t  == [zxid |-> m.mzxid, value |-> m.mdata]",
          "t  == [zxid |-> m.mzxid, value |-> (m.mdata % MaxTxns) + 1]")],
        constants={"MaxTxns": 2}),
    Mutant(
        "accepted_epoch_not_saved",
        "a follower ACKs a new epoch without writing acceptedEpoch: two leaders pick the same epoch",
        "OneLeaderPerEpoch", "Zab", "ZabSpec",
        [("Zab.tla", "ELSE /\\ acceptedEpoch' = [acceptedEpoch EXCEPT ![i] = e]",
          "ELSE /\\ UNCHANGED acceptedEpoch")]),
    Mutant(
        "follower_skips_current_epoch",
        "a follower never writes currentEpoch at NEWLEADER: its log holds txns of an epoch above it",
        "CurrentEpochCoversLog", "Zab", "ZabSpec",
        [("Zab.tla", "/\\ currentEpoch' = [currentEpoch EXCEPT ![i] = e]", "/\\ UNCHANGED currentEpoch")]),
    Mutant(
        "leaderinfo_epoch_overflow",
        "the leader announces an epoch out of range",
        "TypeOK", "Zab", "ZabSpec",
        [("Zab.tla", "/\\ qmsgs' = EnqTo(q0, i, waiting, LeaderInfoMsg(ne))",
          "/\\ qmsgs' = EnqTo(q0, i, waiting, LeaderInfoMsg(ne + MaxEpoch))")]),
    Mutant(
        "adopt_worse_vote",
        "a LOOKING server adopts any different vote of its round, not only a better one",
        "VoteNeverBelowOwn", "FastLeaderElection", "FLEFixedSpec",
        [("FastLeaderElection.tla", 'ELSE IF n.mstate = "LOOKING" /\\ VoteGT(nv, vote[i])',
          'ELSE IF n.mstate = "LOOKING" /\\ nv # vote[i]')],
        servers=["1", "2", "3"], constants={"UseFLE": "TRUE", "MaxCrashes": 0}),
    Mutant(
        "lowest_zxid_wins",
        "the vote order prefers the lower zxid (the handler's order, which the invariant does not reuse)",
        "VoteNeverBelowOwn", "FastLeaderElection", "FLEFixedSpec",
        [("FastLeaderElection.tla", "\\/ ZxidLT(b.zxid, a.zxid)", "\\/ ZxidLT(a.zxid, b.zxid)")],
        servers=["1", "2", "3"], constants={"UseFLE": "TRUE", "MaxCrashes": 0}),
    Mutant(
        "join_round_relays_their_vote",
        "a server joining a newer round keeps the better vote but sends the one it received",
        "ElectedIsMax", "FastLeaderElection", "FLEFixedSpec",
        [("FastLeaderElection.tla",
          """ElectionOnly(q0, i, Server, NotificationMsg(v, ee, "LOOKING"),
                               {CastRec(i, v, ee, "LOOKING")})""",
          """ElectionOnly(q0, i, Server, NotificationMsg(nv, ee, "LOOKING"),
                               {CastRec(i, nv, ee, "LOOKING")})""")],
        servers=["1", "2", "3"], constants={"UseFLE": "TRUE", "MaxCrashes": 0, "MaxRound": 2}),
    Mutant(
        "decide_without_quorum",
        "the finalize wait starts as soon as a server's own vote is in its recvset, no quorum needed",
        "DecisionBacked", "FastLeaderElection", "FLEFixedSpec",
        [("FastLeaderElection.tla",
          'StartsFinalize(i, votes, v, lc) == HasQuorumFor(votes, VoteRec(i, v, lc, "LOOKING"))',
          'StartsFinalize(i, votes, v, lc) == VoteRec(i, v, lc, "LOOKING") \\in votes')],
        servers=["1", "2", "3"], constants={"UseFLE": "TRUE", "MaxCrashes": 0}),
    Mutant(
        "skip_check_leader",
        "no checkLeader: a quorum of votes for l, some from servers out of election, is enough to follow l",
        "JoinedLeaderLeads", "FastLeaderElection", "FLEFixedSpec",
        [("FastLeaderElection.tla",
          'IF l # i THEN \\E w \\in votes : w.sid = l /\\ w.state = "LEADING"',
          "IF l # i THEN TRUE")],
        servers=["1", "2", "3"], constants={"UseFLE": "TRUE", "MaxCrashes": 0}),
    Mutant(
        "recvset_not_cleared",
        "a server that joins a newer round keeps the votes of its old round in recvset",
        "RecvsetOfRound", "FastLeaderElection", "FLEFixedSpec",
        [("FastLeaderElection.tla", "/\\ recvVotes' = [recvVotes EXCEPT ![i] = {nrec}]",
          "/\\ recvVotes' = [recvVotes EXCEPT ![i] = PutVote(@, nrec)]")],
        servers=["1", "2", "3"], constants={"UseFLE": "TRUE", "MaxCrashes": 0, "MaxRound": 2}),
    # observers (2 voters and an observer, s3): an observer never counts for a quorum and is
    # never sent an uncommitted proposal
    Mutant(
        "observer_acks_newleader",
        "the leader counts an observer's NEWLEADER ACK towards the quorum (a count of ACKs against the "
        "voters' majority): the leader and the observer establish an epoch without the other voter",
        "NoCommittedTxnLost", "Zab", "ZabRecoverySpec",
        [("Zab.tla", "ELSE LET nla == newLeaderAckers[i] \\cup ({j} \\cap Voters)\n"
                     "                  IN IF IsQuorum(nla \\cup {i})",
          "ELSE LET nla == newLeaderAckers[i] \\cup {j}\n"
          "                  IN IF 2 * Cardinality(nla \\cup {i}) > Cardinality(Voters)")],
        constants={"MaxTxns": 3, "CommittedLogSize": 2, "MaxCrashes": 0, "ModelFsync": "TRUE",
                   "SplitNewLeader": "TRUE", "Observers": "{s3}"}),
    Mutant(
        "observer_gets_outstanding",
        "startForwarding queues the outstanding proposals to an observer too (3.8: participants only): "
        "a late observer logs a proposal from its sync and then the same txn again from its INFORM",
        "PrimaryOrder", "Zab", "ZabRecoverySpec",
        [("Zab.tla", "IN IF j \\in Observers THEN SubSeq(p, 1, Len(p) - Len(Outstanding(i))) ELSE p",
          "IN p")],
        constants={"MaxTxns": 3, "CommittedLogSize": 2, "MaxCrashes": 0, "ModelFsync": "TRUE",
                   "SplitNewLeader": "TRUE", "Observers": "{s3}"}),
    # liveness: each breaks a temporal property (TLC reports a lasso) and no invariant
    Mutant(
        "timeout_never_resends",
        "the notification timeout only redials, it never sends the vote again: a server whose newer-round "
        "notification a peer dropped in its finalize wait is never heard again",
        "LeaderEstablishedUnlessBound", "ZkSystem", "FairSpec",
        [("FastLeaderElection.tla", "    /\\ IF HaveDelivered(i)\n", "    /\\ IF FALSE\n")],
        servers=["1", "2"], kind="property",
        constants={"UseFLE": "TRUE", "MaxEpoch": 3, "MaxTxns": 0, "MaxCrashes": 0, "MaxRound": 2}),
    Mutant(
        "reconnect_drops_kept",
        "a reopened election connection does not carry the peer's kept message (3.8's lastMessageSent): "
        "a restarted server never hears the leader's vote, only its out-of-election answer",
        "ElectionEnds", "FastLeaderElection", "FLEFixedFairSpec",
        [("ZkCommon.tla", "ELSE IF b = i /\\ a \\in Reopened(i, S) THEN q[a][b] \\o ekept[a][b]",
          "ELSE IF b = i /\\ a \\in Reopened(i, S) THEN q[a][b]")],
        servers=["1", "2"], kind="property", constants={"UseFLE": "TRUE", "MaxCrashes": 1}),
]
BY_NAME = {m.name: m for m in MUTANTS}
#: the durability mutants' models with the spec's own order: TLC must exhaust them, so what
#: breaks is the mutated order, not the model (run in the same pool as the mutants)
UNMUTATED = {
    "unmutated_" + n: Mutant("unmutated_" + n, "the spec's order on " + n + "'s model", BY_NAME[n].expect,
                             BY_NAME[n].module, BY_NAME[n].spec, [], list(BY_NAME[n].servers),
                             dict(BY_NAME[n].constants))
    for n in ("zk380_newleader_order", "ack_before_fsync")
}


def make_mutant(m: Mutant, directory: str) -> str:
    """Write the mutated spec and its model into directory; return the cfg's path."""
    for f in os.listdir(SPEC):
        if f.endswith(".tla"):
            shutil.copy(os.path.join(SPEC, f), directory)
    for fname, old, new in m.subs:
        path = os.path.join(directory, fname)
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        count = text.count(old)
        assert count == 1, f"mutant {m.name}: {old!r} occurs {count} times in {fname}"
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text.replace(old, new))
    cfg = os.path.join(directory, "Mutant.cfg")
    with open(cfg, "w", encoding="utf-8") as fh:
        fh.write(m.cfg())
    return cfg


def run_mutant(m: Mutant, directory: str) -> dict:
    cfg = make_mutant(m, directory)
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "conformance", "check", cfg, "--json", "--validate", "--progress", "0",
         "--workers", "1", "--timeout", "600"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    with open(os.path.join(directory, "result.json"), "w", encoding="utf-8") as fh:
        fh.write(proc.stdout)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"mutant {m.name}: no JSON (exit {proc.returncode})\n{proc.stdout[-2000:]}\n"
                             f"{proc.stderr[-4000:]}") from None
    result["_exit"] = proc.returncode
    result["_stderr"] = proc.stderr[-4000:]
    return result


class _Runner:
    """Runs the selected mutants two at a time, in the order the tests ask for them."""

    def __init__(self, names: list[str], workdir: str):
        self.workdir = workdir
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.lock = threading.Lock()
        self.futures: dict[str, Future] = {}
        for name in names:
            self.submit(name)

    def submit(self, name: str) -> Future:
        with self.lock:
            if name not in self.futures:
                d = tempfile.mkdtemp(prefix=name + "-", dir=self.workdir)
                self.futures[name] = self.pool.submit(run_mutant, BY_NAME.get(name) or UNMUTATED[name], d)
            return self.futures[name]

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def runner(request, tmp_path_factory):
    selected = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if item.module is request.module and callspec is not None and "name" in callspec.params:
            selected.append(callspec.params["name"])
    r = _Runner(selected, str(tmp_path_factory.mktemp("mutants")))
    yield r
    r.close()


def _defined_in(module: str, name: str) -> bool:
    """Whether spec/<module>.tla defines `name` at the start of a line."""
    with open(os.path.join(SPEC, module + ".tla"), encoding="utf-8") as fh:
        return re.search(rf"^{name} ==", fh.read(), re.M) is not None


def test_every_invariant_has_a_mutant():
    """Every invariant and temporal property a model checks (read from the spec and the cfgs, not
    listed here) has a mutant."""
    checked = set(ZAB_INVARIANTS) | set(FLE_INVARIANTS)
    properties = set()
    for f in os.listdir(SPEC):
        if f.endswith(".cfg"):
            with open(os.path.join(SPEC, f), encoding="utf-8") as fh:
                text = fh.read()
            m = re.search(r"^INVARIANTS?\s+(.*)$", text, re.M)
            checked |= set(m.group(1).split()) if m else set()
            m = re.search(r"^PROPERT(?:Y|IES)\s+(.*)$", text, re.M)
            properties |= set(m.group(1).split()) if m else set()
    assert {"NoCommittedTxnLost", "DecisionBacked"} <= checked  # the parse found the lists
    assert {"ElectionEnds", "LeaderEstablishedUnlessBound"} <= properties
    missing = (checked | properties) - {m.expect for m in MUTANTS}
    assert not missing, f"invariants / properties without a mutant: {sorted(missing)}"
    for m in MUTANTS:
        if m.kind == "invariant":
            assert m.expect in MODULE_INVARIANTS[m.module], m.name
        else:
            assert m.expect in properties and _defined_in(m.module, m.expect), m.name


@pytest.mark.parametrize("name", [m.name for m in MUTANTS])
def test_substitutions_apply(name, tmp_path):
    make_mutant(BY_NAME[name], str(tmp_path))  # asserts each applies exactly once


def _brief(res: dict) -> str:
    lines = [f"states {res.get('states')}, distinct {res.get('distinct')}, depth {res.get('depth')}, "
             f"errors {res.get('errors')}"]
    for v in res.get("violations", []):
        lines.append(f"{v['kind']} {v['name']}: rebuilt {v['trace_rebuilt']}, validated {v['validated']} "
                     f"{v['validation']}")
        lines += [f"  {s['action']} {s['params']}" for s in v["trace"]]
    return "\n".join(lines)


@pytest.mark.parametrize("name", [m.name for m in MUTANTS])
def test_mutant_is_caught(name, runner):
    m = BY_NAME[name]
    res = runner.submit(name).result()
    where = f"mutant {name} ({m.story}): exit {res['_exit']}\n{res['_stderr']}\n{_brief(res)}"
    assert res["complete"] and not res["ok"], where
    assert res["violations"], where
    v = res["violations"][0]
    assert v["kind"] == m.kind, where
    assert v["name"] == m.expect, f"{where}\nreported {v['name']}, expected {m.expect}"
    trace = v["trace"]
    assert len(trace) >= 2 and trace[0]["action"] is None
    assert all(step["action"] for step in trace[1:]), where
    if m.kind == "property":
        # a lasso: the behaviour returns to state loop_to (or stutters in its last state), and
        # in that loop the property's goal never holds, so it fails forever
        assert v["loop_to"] and 1 <= v["loop_to"] <= len(trace), where
        loop = [s["state"] for s in trace[v["loop_to"] - 1:]]
        assert not any(_goal(m.expect, s) for s in loop), where
    # the counterexample replays: each state a successor of the previous one
    # under the named action, and the last state is the first to break m.expect
    assert v["trace_rebuilt"] and v["validated"], f"{where}\n{v['validation']}"


def _per_server(f) -> dict[str, object]:
    """A function over Server as JSON (a list for Server = 1..n, a dict for model values), keyed by id."""
    return {str(k + 1): v for k, v in enumerate(f)} if isinstance(f, list) else dict(f)


def _goal(prop: str, s: dict) -> bool:
    """The state predicate under <>[] of the temporal property `prop`, evaluated on a JSON state
    (the bound escape of LeaderEstablishedUnlessBound is not evaluated: a mutant's loop must
    fail the goal itself)."""
    state, zab, vote = (_per_server(s[v]) for v in ("state", "zabState", "vote"))
    up = [i for i, st in state.items() if st != "DOWN"]
    if prop == "ElectionEnds":
        return all(state[i] != "LOOKING" for i in up)
    assert prop == "LeaderEstablishedUnlessBound", prop
    return any(
        state[ldr] == "LEADING" and zab[ldr] == "BROADCAST"
        and all(i == ldr or (state[i] == "FOLLOWING" and str(vote[i]["leader"]) == ldr
                             and zab[i] == "BROADCAST") for i in up)
        for ldr in up)


@pytest.mark.parametrize("name", sorted(UNMUTATED))
def test_durability_mutant_model_is_safe_unmutated(name, runner):
    """The spec's order (the synced txns durable, then currentEpoch, then the NEWLEADER ACK:
    DESIGN.md section 5, 3.8.6; an ACK only after the fsync) on a durability mutant's model:
    TLC exhausts it with no violation."""
    res = runner.submit(name).result()
    assert res["complete"] and res["ok"] and not res["violations"], _brief(res)
    assert res["distinct"] > 100, _brief(res)


def test_round_agreement_is_not_an_fle_invariant(tmp_path):
    """3.8's FLE lets two servers decide for different leaders in the same round (a finalize
    timer fires while a better vote is still queued): TLC finds it in the unmutated spec, so
    the spec must not claim it (Zab's OneLeaderPerEpoch is what makes it safe)."""
    m = Mutant("unmutated", "3.8's FLE as specified", "RoundAgreement", "FastLeaderElection", "FLEFixedSpec",
               [], servers=["1", "2", "3"], constants={"UseFLE": "TRUE", "MaxCrashes": 0})
    res = run_mutant(m, str(tmp_path))
    where = _brief(res)
    assert res["violations"] and res["violations"][0]["name"] == "RoundAgreement", where
    v = res["violations"][0]
    assert v["validated"], where
    last = v["trace"][-1]["state"]
    rounds = {(d["round"], d["leader"]) for d in last["decisions"]}
    assert len(rounds) == 2 and len({r for r, _ in rounds}) == 1, last["decisions"]
