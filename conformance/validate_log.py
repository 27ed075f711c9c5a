"""Trace validation: does some behaviour of the spec match what a live ensemble logged?

The other direction of conformance (issue 13; Cirstea, Kuppe, Loillier, Merz 2024,
"Validating traces of distributed programs against TLA+ specifications"): live zk_twisted
servers log their protocol events (:mod:`zk_twisted.quorum.tracelog`, one JSON line per
handler run with the spec variables it left), the test harness logs the faults it caused
(``env.jsonl``: ``Crash`` / ``LinkBreak`` / ``LinkHeal`` with their servers), and this
checker searches the spec's state space, constrained by the log, for a behaviour that
matches it:

* **Order.**  Each server's lines keep their order; the servers' logs (and the faults) are
  interleaved by search, trying the line with the earliest wall-clock time first (one clock
  on loopback) and backtracking when it leads nowhere.  Causality needs no vector clock: a
  receive is a spec action only when its message is at the head of the spec's queue, so a
  receive before its send has no matching step.
* **Steps.**  A line ``Handle<X>`` / ``FinalizeElection`` / ``ElectionTimeout`` /
  ``ClientWrite`` / ``Restart`` / ``LeaderTimeout`` / ``FollowerTimeout`` (and a fault) is
  the spec action of that name for server ``i = sid`` (and ``j``); TLC's ``FastTool``
  computes its successors from the current state, and one matches when the acting server's
  projected variables (:data:`COMPARED`) equal what the line logged and the message the
  spec consumed is the one the server says it handled (type, zxid; a notification's vote,
  round and state).  ``Start`` (a first start) is checked against the initial state.
* **Stuttering.**  An election line that changed none of the server's spec variables
  (a duplicate notification 3.8's QuorumCnxManager resent, a notification timeout that
  re-sent to a peer whose queue was not empty) may match no step: the spec abstracts those
  re-sends away.  Quorum lines must always be steps.
* **Lag.**  What a server writes after an fsync its handler waits for is logged a little
  later than the spec writes it: ``currentEpoch`` at ``HandleNEWLEADER`` (the synced txns
  durable first) and the leader's ``lastCommitted`` at ``HandleACK`` / ``ClientWrite``
  (its own ACK comes from its log's fsync) are compared at the server's next lines (and
  may only lag, never lead).
* **Cut tails.**  A kill -9 may lose an incarnation's last buffered lines: before a logged
  ``Crash`` of server i the search may take up to ``tail_steps`` unlogged actions of i
  (per crash).
* **3.8's election queues** (QuorumCnxManager), which the spec does not model: a
  notification handled that is further down the spec's j -> i queue drops the ones before
  it (``superseded``: 3.8 keeps one unsent notification per peer, a newer one replaces
  it); one that is no longer in flight but that j did send (``castVotes``) is put back on
  the empty queue (``redelivered``: 3.8 keeps the last notification for a peer it cannot
  reach and sends it when it connects again).  Both are counted in ``stutters``.

The result names the runs, events, how many matched and, for a rejected run, the line
the search could get no further than, with why each candidate failed there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jpype

from .model import ActionInfo, Model

__all__ = [
    "COMPARED",
    "DEFAULT_MODEL",
    "Event",
    "RunResult",
    "read_run",
    "run_dirs",
    "validate_run",
    "validate_dirs",
]

DEFAULT_MODEL = str(Path(__file__).resolve().parent.parent / "spec" / "ZkSystemLive.cfg")

#: the acting server's variables compared with what it logged
COMPARED = ("state", "zabState", "currentEpoch", "acceptedEpoch", "logicalclock", "vote", "lastCommitted")
#: lines that may be a stuttering step (they changed no spec variable of the server)
STUTTER_OK = frozenset({"HandleNotification", "ElectionTimeout", "FinalizeElection"})
#: observations: checked against the current state, no step
#: (LeaderCommitted: the leader's own ACK committed a proposal, after a quorum's ACKs the
#: spec took at HandleACK, so the spec has committed it already)
OBSERVATIONS = frozenset({"Start", "LeaderCommitted"})
#: (event, variable) logged later than the spec sets it: may lag at that line
LAGGING = {
    "HandleNEWLEADER": {"currentEpoch"},
    "HandleACK": {"lastCommitted"},
    "ClientWrite": {"lastCommitted"},
    "LeaderCommitted": {"lastCommitted"},
}
#: the spec actions a cut tail may hide (anything a live server does by itself or on a message)
TAIL_ACTIONS = frozenset(
    {
        "HandleNotification", "FinalizeElection", "ElectionTimeout", "HandleFOLLOWERINFO",
        "HandleLEADERINFO", "HandleACKEPOCH", "HandleDIFF", "HandleTRUNC", "HandleSNAP",
        "HandleNEWLEADER", "HandleUPTODATE", "HandlePROPOSAL", "HandleCOMMIT", "HandleACK",
        "ClientWrite", "LeaderTimeout", "FollowerTimeout",
    }
)  # fmt: skip
ENV = "env"


@dataclass(frozen=True)
class Event:
    """One logged line: ``lane`` is the server's sid (or ``"env"`` for the harness's faults)."""

    lane: Any
    index: int
    sid: int
    t: float
    event: str
    params: dict
    vars: dict
    inc: int = 0
    seq: int = 0

    def label(self) -> str:
        j = self.params.get("j")
        args = f"{self.sid}" + (f", {j}" if j is not None else "")
        return f"{self.event}({args}) [{self.lane} #{self.index} inc {self.inc} seq {self.seq}]"


# ================================================================================ reading
def _read_jsonl(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            break  # a torn last line (the process was killed while writing)
    return out


def read_run(logdir: str | Path) -> dict[Any, list[Event]]:
    """``node<sid>.jsonl`` (one per server) and ``env.jsonl`` of one run, as lanes of events."""
    logdir = Path(logdir)
    lanes: dict[Any, list[Event]] = {}
    for f in sorted(logdir.glob("node*.jsonl")):
        rows = sorted(_read_jsonl(f), key=lambda r: (r.get("inc", 0), r.get("seq", 0)))
        sid = int(f.stem[4:])
        lanes[sid] = [
            Event(sid, k, int(r.get("sid", sid)), float(r["t"]), r["event"], r.get("params") or {},
                  r.get("vars") or {}, int(r.get("inc", 0)), int(r.get("seq", 0)))
            for k, r in enumerate(rows)
        ]  # fmt: skip
    env = logdir / "env.jsonl"
    if env.exists():
        rows = _read_jsonl(env)
        lanes[ENV] = [
            Event(ENV, k, int(r["params"]["i"]), float(r["t"]), r["event"], r.get("params") or {}, {})
            for k, r in enumerate(rows)
        ]
    return lanes


def run_dirs(logdir: str | Path) -> list[Path]:
    """``logdir`` itself if it holds node logs, else each sub-directory (sorted) that does."""
    logdir = Path(logdir)
    if any(logdir.glob("node*.jsonl")):
        return [logdir]
    return sorted(d for d in logdir.iterdir() if d.is_dir() and any(d.glob("node*.jsonl")))


# ================================================================================ results
@dataclass
class RunResult:
    run: str
    events: int
    matched: int
    accepted: bool
    #: the line the search got no further than (None: accepted), with each candidate's failure
    rejected_at: dict | None = None
    stutters: int = 0
    tail_steps: int = 0
    expansions: int = 0
    seconds: float = 0.0
    steps: list[str] = field(default_factory=list)
    invariant_violations: list[str] = field(default_factory=list)
    #: the search stopped at its expansion budget before it had tried every order: not
    #: accepted, and not shown to be rejected either
    budget_stop: bool = False

    @property
    def verdict(self) -> str:
        """``accepted``; ``rejected`` (every order tried, or an invariant broken); or
        ``inconclusive`` (the budget ran out first)."""
        if self.accepted:
            return "accepted"
        return "inconclusive" if self.budget_stop and not self.invariant_violations else "rejected"

    def to_json(self) -> dict:
        return {
            "run": self.run, "events": self.events, "matched": self.matched, "verdict": self.verdict,
            "accepted": self.accepted, "rejected_at": self.rejected_at, "stutters": self.stutters,
            "tail_steps": self.tail_steps, "expansions": self.expansions,
            "seconds": round(self.seconds, 3), "invariant_violations": self.invariant_violations,
        }  # fmt: skip


# ================================================================================ the search
#: the windowed pass: a line is a candidate only within this many seconds of the earliest
#: pending line (one clock on loopback; handlers log within milliseconds of acting), and a
#: fault only within ENV_SLACK of the servers' lines around it
WINDOW = 0.5
ENV_SLACK = 1.0


class _Checker:
    def __init__(
        self, model: Model, *, tail_steps: int = 6, max_expansions: int = 50_000, window: float | None = None
    ) -> None:
        self.model = model
        self.tail_steps = tail_steps
        self.max_expansions = max_expansions
        #: None: any lane's next line may come next (the exhaustive order)
        self.window = window
        self.by_key: dict[tuple, ActionInfo] = {}
        for a in model.actions:
            p = a.params
            self.by_key[(a.name, p.get("i"), p.get("j"))] = a
        self._vars = dict(model._vars())
        self.conv = model.values.convert

    # -- reading a state
    def var(self, state, name: str):
        return self.conv(state.lookup(self._vars[name]))

    def server_vars(self, state, i: int) -> dict:
        return {n: _at(self.var(state, n), i) for n in COMPARED}

    def head(self, state, queue: str, j: int, i: int):
        q = _at(_at(self.var(state, queue), j), i)
        return q[0] if q else None

    # -- matching one line
    def mismatch(self, ev: Event, state, lagging: Iterable[str] = ()) -> str | None:
        """Why ``state`` does not show what ``ev`` logged of its server (None: it does)."""
        if not ev.vars:
            return None
        have = self.server_vars(state, ev.sid)
        lag = set(lagging)
        for n in COMPARED:
            if n not in ev.vars:
                continue
            want, got = ev.vars[n], have[n]
            if want == got:
                continue
            # the leader's commit point lags the spec's while its own ACK waits for its fsync
            # (the spec's leader ACKs as it proposes), at any of its lines; it may never lead
            lagging_leader = n == "lastCommitted" and have["state"] == "LEADING"
            if (n in lag or lagging_leader) and n == "lastCommitted" and _zxid_le(want, got):
                continue
            if n in lag and n == "currentEpoch" and isinstance(want, int) and want <= got:
                continue
            return f"{n}: logged {json.dumps(want)}, spec {json.dumps(got)}"
        return None

    def message_mismatch(self, ev: Event, state) -> str | None:
        """Why the message the spec would consume is not the one the server handled."""
        j = ev.params.get("j")
        if j is None:
            return None
        if ev.event == "HandleNotification":
            m = self.head(state, "emsgs", j, ev.sid)
            if m is None:
                return f"no notification {j} -> {ev.sid} in flight"
            want, got = _notification(ev.params), _message_key(m)
            return None if want == got else f"handled notification {want}, spec head {got}"
        if ev.event.startswith("Handle"):
            m = self.head(state, "qmsgs", j, ev.sid)
            if m is None:
                return f"no packet {j} -> {ev.sid} in flight"
            mtype = ev.event[len("Handle") :]
            if m["mtype"] != mtype:
                return f"handled {mtype}, spec head {m['mtype']}"
            if "mzxid" in m and mtype != "UPTODATE" and ev.params.get("zxid") not in (None, m["mzxid"]):
                return f"handled {mtype} {ev.params.get('zxid')}, spec head {mtype} {m['mzxid']}"
        return None

    def action_for(self, ev: Event) -> ActionInfo | None:
        if ev.lane == ENV:
            j = ev.params.get("j")
            return self.by_key.get((ev.event, ev.sid, j))
        return self.by_key.get((ev.event, ev.sid, ev.params.get("j")))

    def moves(self, ev: Event, state) -> tuple[list[tuple[str, Any]], str]:
        """The successors matching ``ev`` (kind ``step`` / ``stutter`` / ``obs``), or why none."""
        if ev.event in OBSERVATIONS:
            why = self.mismatch(ev, state, LAGGING.get(ev.event, ()))
            return ([("obs", state)], "") if why is None else ([], why)
        a = self.action_for(ev)
        if a is None:
            return [], f"no spec action {ev.event} for these servers"
        why_msg = self.message_mismatch(ev, state) if ev.lane != ENV else None
        out: list[tuple[str, Any]] = []
        reasons = []
        kind = "step"
        if why_msg is not None and ev.event == "HandleNotification":
            dropped = self.superseded(ev, state)
            if dropped is not None:
                state, why_msg, kind = dropped, None, "superseded"
            else:
                kept = self.redelivered(ev, state)
                if kept is not None:
                    state, why_msg, kind = kept, None, "redelivered"
        if why_msg is None:
            succ = self.model.successors(state, a, constrained=False)
            if not succ:
                reasons.append(f"{a.label} not enabled")
            for t in succ:
                why = self.mismatch(ev, t, LAGGING.get(ev.event, ()))
                if why is None:
                    out.append((kind, t))
                else:
                    reasons.append(f"{a.label}: {why}")
        else:
            reasons.append(why_msg)
        if ev.event in STUTTER_OK:
            why = self.mismatch(ev, state)
            if why is None:
                out.append(("stutter", state))
            else:
                reasons.append(f"as a stutter: {why}")
        return out, "; ".join(reasons)

    @staticmethod
    def _incarnation_done(lanes, keys, pos, sid) -> bool:
        """Server ``sid``'s lines of its current incarnation are all consumed."""
        return _incarnation_done_impl(lanes, keys, pos, sid)

    def superseded(self, ev: Event, state):
        """``state`` without the notifications on j -> i before the one ``ev`` handled, if it
        is further down the queue: 3.8's QuorumCnxManager keeps one unsent notification per
        peer (a new one replaces it), which the spec does not model.  None: not in the queue."""
        j, i = ev.params["j"], ev.sid
        q = _at(_at(self.var(state, "emsgs"), j), i)
        want = _notification(ev.params)
        for k, m in enumerate(q):
            if k > 0 and _message_key(m) == want:
                return self._drop_notifications(state, j, i, k)
        return None

    def _drop_notifications(self, state, j: int, i: int, k: int):
        queue = state.lookup(self._vars["emsgs"]).values[j - 1].values[i - 1]
        return self._set_queue(state, j, i, list(queue.elems)[k:])

    def redelivered(self, ev: Event, state):
        """``state`` with the notification ``ev`` handled back on the empty j -> i queue, if j
        sent it once (``castVotes``): 3.8's QuorumCnxManager keeps the last notification for
        a peer it cannot reach and sends it once it connects again (after a restart, a
        healed link), where the spec loses it.  None: j never sent it, or the queue is not empty."""
        j, i = ev.params["j"], ev.sid
        if _at(_at(self.var(state, "emsgs"), j), i):
            return None
        p = ev.params
        want = {"sid": j, "leader": p.get("leader"), "zxid": p.get("zxid"), "electionEpoch": p.get("round"),
                "peerEpoch": p.get("peerEpoch"), "state": p.get("mstate")}  # fmt: skip
        if not any(all(c.get(k) == v for k, v in want.items()) for c in self.var(state, "castVotes")):
            return None
        return self._set_queue(state, j, i, [self._notification_value(p)])

    def _notification_value(self, p: dict):
        from .jvm import java_class

        value = java_class("tlc2.value.impl.Value")
        us = java_class("util.UniqueString")
        rec = java_class("tlc2.value.impl.RecordValue")
        iv = java_class("tlc2.value.impl.IntValue")
        sv = java_class("tlc2.value.impl.StringValue")
        tup = java_class("tlc2.value.impl.TupleValue")
        zxid = tup(jpype.JArray(value)([iv.gen(int(p["zxid"][0])), iv.gen(int(p["zxid"][1]))]))
        fields = [
            ("mtype", sv("NOTIFICATION")), ("mleader", iv.gen(int(p["leader"]))), ("mzxid", zxid),
            ("melectionEpoch", iv.gen(int(p["round"]))), ("mpeerEpoch", iv.gen(int(p["peerEpoch"]))),
            ("mstate", sv(str(p["mstate"]))),
        ]  # fmt: skip
        names = jpype.JArray(us)([us.uniqueStringOf(n) for n, _ in fields])
        r = rec(names, jpype.JArray(value)([v for _, v in fields]), False)
        r.normalize()
        return r

    def _set_queue(self, state, j: int, i: int, elems: list):
        from .jvm import java_class

        value = java_class("tlc2.value.impl.Value")
        fcn = java_class("tlc2.value.impl.FcnRcdValue")
        tup = java_class("tlc2.value.impl.TupleValue")
        us = self._vars["emsgs"]
        outer = state.lookup(us)
        row = outer.values[j - 1]
        row_vals = list(row.values)
        row_vals[i - 1] = tup(jpype.JArray(value)(elems))
        outer_vals = list(outer.values)
        outer_vals[j - 1] = self._fcn_like(fcn, value, row, row_vals)
        return state.copy().bind(us, self._fcn_like(fcn, value, outer, outer_vals))

    @staticmethod
    def _fcn_like(fcn, value, like, values):
        """A function with ``like``'s domain and ``values``."""
        vals = jpype.JArray(value)(values)
        if like.intv is not None:
            return fcn(like.intv, vals)
        return fcn(like.domain, vals, True)

    def tail_moves(self, sid: int, state) -> list[tuple[str, Any]]:
        out = []
        for a in self.model.actions:
            if a.name in TAIL_ACTIONS and a.params.get("i") == sid:
                out += [("tail", t) for t in self.model.successors(state, a, constrained=False)]
        return out

    def _in_window(self, heads: list) -> list:
        """The heads (sorted by time) the windowed pass may take: those within ``window`` of the
        earliest; a fault only if no server line waits more than ENV_SLACK before it, and no
        server line more than ENV_SLACK after a pending fault.  It only removes orders: what
        it accepts the exhaustive order accepts too."""
        t0 = heads[0][0].t if heads else 0.0
        heads = [h for h in heads if h[0].t <= t0 + self.window]
        env = next((h for h in heads if h[0].lane == ENV), None)
        if env is None:
            return heads
        te = env[0].t
        heads = [h for h in heads if h[0].lane == ENV or h[0].t <= te + ENV_SLACK]
        if any(h[0].lane != ENV and h[0].t < te - ENV_SLACK for h in heads):
            heads = [h for h in heads if h[0].lane != ENV]
        return heads

    # -- the run
    def run(self, lanes: dict[Any, list[Event]], name: str) -> RunResult:
        t0 = time.perf_counter()
        keys = list(lanes)
        total = sum(len(v) for v in lanes.values())
        res = RunResult(name, total, 0, False)
        inits = self.model.init_states(constrained=False)
        # crashes the env lane announces for each server, to allow cut tails before them
        stack: list[tuple[tuple[int, ...], Any, int, int, int, tuple]] = []
        seen: set = set()
        for s in inits:
            stack.append((tuple(0 for _ in keys), s, 0, 0, 0, ()))
        best: tuple[int, dict | None] = (-1, None)
        while stack:
            pos, state, tails, stutters, matched, path = stack.pop()
            res.expansions += 1
            if res.expansions > self.max_expansions:
                res.budget_stop = True
                best = (
                    best[0],
                    {**(best[1] or {}), "budget": f"search stopped after {self.max_expansions} expansions"},
                )
                break
            if matched == total:
                res.accepted, res.matched, res.stutters = True, total, stutters
                res.tail_steps = sum(1 for p in path if p.startswith("tail"))
                res.steps = list(path)
                res.invariant_violations = self.model.violated_invariants(state)
                res.rejected_at = None
                if res.invariant_violations:
                    res.accepted = False
                    res.rejected_at = {"invariants": res.invariant_violations}
                res.seconds = time.perf_counter() - t0
                return res
            heads = [(lanes[k][pos[n]], n) for n, k in enumerate(keys) if pos[n] < len(lanes[k])]
            heads.sort(key=lambda h: h[0].t)
            if self.window is not None:
                heads = self._in_window(heads)
            children: list = []
            crashes: list = []  # tried after the cut tails a crash may have hidden
            failures = {}
            for ev, n in heads:
                if (
                    ev.lane == ENV
                    and ev.event == "Crash"
                    and not self._incarnation_done(lanes, keys, pos, ev.sid)
                ):
                    continue  # every line of the incarnation a crash ends comes before it
                moves, why = self.moves(ev, state)
                if not moves:
                    failures[ev.label()] = why
                for kind, t in moves:
                    npos = pos[:n] + (pos[n] + 1,) + pos[n + 1 :]
                    into = crashes if ev.lane == ENV and ev.event == "Crash" else children
                    crash = ev.lane == ENV and ev.event == "Crash"
                    into.append(
                        (
                            npos,
                            t,
                            0 if crash else tails,  # the tail budget is per crash
                            stutters + (kind != "step"),
                            matched + 1,
                            path + (f"{kind} {ev.label()}",),
                        )
                    )
            # a crash the harness logged may have cut the crashed server's last lines
            if ENV in lanes and tails < self.tail_steps:
                n_env = keys.index(ENV)
                if pos[n_env] < len(lanes[ENV]):
                    nxt = lanes[ENV][pos[n_env]]
                    if nxt.event == "Crash" and self._incarnation_done(lanes, keys, pos, nxt.sid):
                        for _, t in self.tail_moves(nxt.sid, state):
                            children.append(
                                (pos, t, tails + 1, stutters, matched, path + (f"tail of {nxt.sid}",))
                            )
            children += crashes
            if matched > best[0]:
                best = (matched, {"matched": matched, "candidates": failures,
                                  "last_steps": list(path[-8:])})  # fmt: skip
            for c in reversed(children):
                key = (c[0], int(c[1].fingerPrint()), c[2])
                if key in seen:
                    continue
                seen.add(key)
                stack.append(c)
        res.matched = max(best[0], 0)
        res.rejected_at = best[1]
        res.seconds = time.perf_counter() - t0
        return res


def _incarnation_done_impl(lanes, keys, pos, sid) -> bool:
    if sid not in lanes:
        return True
    n = keys.index(sid)
    lane, k = lanes[sid], pos[n]
    if k == 0:
        return k >= len(lane)
    return k >= len(lane) or lane[k].inc != lane[k - 1].inc


def _notification(p: dict) -> tuple:
    return (p.get("leader"), p.get("zxid"), p.get("round"), p.get("peerEpoch"), p.get("mstate"))


def _message_key(m: dict) -> tuple:
    return (m["mleader"], m["mzxid"], m["melectionEpoch"], m["mpeerEpoch"], m["mstate"])


def _at(v, i: int):
    """Index a converted TLA+ function over 1..n (a list) or over other keys (a dict)."""
    if isinstance(v, list):
        return v[i - 1]
    return v.get(str(i), v.get(i)) if isinstance(v, dict) else None


def _zxid_le(a, b) -> bool:
    return tuple(a) <= tuple(b)


# ================================================================================ entry points
def validate_run(model: Model, logdir: str | Path, **kw) -> RunResult:
    """Validate one run's logs against ``model`` (a loaded :class:`Model`): first in time
    windows with no cut-tail step (the usual case: the exhaustive order spends its budget
    trying faults seconds before they happened), then in any order with no cut-tail step,
    then with ``tail_steps`` per crash."""
    lanes = read_run(logdir)
    tails = kw.pop("tail_steps", 6)
    budget = kw.pop("max_expansions", 50_000)
    windowed = _Checker(model, tail_steps=0, max_expansions=min(budget, 5_000), window=WINDOW, **kw).run(
        lanes, str(logdir)
    )
    if windowed.accepted:
        return windowed
    # the tail-free pass is the usual case and short (a few thousand expansions at most); it
    # has the whole budget when no cut-tail pass follows it
    last = tails == 0 or not any(e.event == "Crash" for e in lanes.get(ENV, ()))
    first = _Checker(model, tail_steps=0, max_expansions=budget if last else min(budget, 5_000), **kw).run(
        lanes, str(logdir)
    )
    if first.accepted or last:
        return first
    second = _Checker(model, tail_steps=tails, max_expansions=budget, **kw).run(lanes, str(logdir))
    second.expansions += first.expansions
    second.seconds += first.seconds
    out = second if second.accepted or second.matched >= first.matched else first
    # the search with cut tails takes every order the tail-free one does, and more: the run is
    # rejected once it has finished, whatever stopped the first
    out.budget_stop = not out.accepted and second.budget_stop
    return out


def validate_dirs(logdir: str | Path, model: Model | None = None, **kw) -> dict:
    """Every run under ``logdir``: ``{runs, accepted, events, matched, rejected_at, results}``."""
    if model is None:
        model = Model.load(DEFAULT_MODEL)
    results = [validate_run(model, d, **kw) for d in run_dirs(logdir)]
    return {
        "runs": len(results),
        "accepted": sum(r.accepted for r in results),
        "events": sum(r.events for r in results),
        "matched": sum(r.matched for r in results),
        "inconclusive": sum(r.verdict == "inconclusive" for r in results),
        "rejected_at": {r.run: r.rejected_at for r in results if not r.accepted},
        "results": [r.to_json() for r in results],
    }
