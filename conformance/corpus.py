"""What a trace corpus reaches: faults by phase, writes per trace, DIFF and TRUNC shapes.

Action-name coverage hides where the steps happen ("every action taken" holds
for a corpus whose every crash comes before any server reaches BROADCAST).
:func:`corpus_stats` reads traces of the ZkSystem / Zab specs (JSON lines as
:mod:`conformance.walker` writes them) and counts, from the state before
each step:

* ``faults_by_phase``: crashes, link breaks and role timeouts by the Zab
  phase of the server they hit (either end of a link);
* ``writes_per_trace``: how many ``ClientWrite`` steps each trace has;
* ``diffs``: DIFFs by whether proposals follow them (the DIFF's zxid is
  not the follower's last zxid) or not (empty);
* ``trunc_shapes``: TRUNCs by (txns dropped, epochs they belong to, epoch
  of the truncation point);
* ``late_joiners``: ACKEPOCHs a leader handles after its epoch-ack quorum
  (the follower is synchronized at once); ``more_recent_refusals``: ACKEPOCHs
  after which the leader closed the connection (the follower is more recent);
* ``by_phase``: every action by the phase of the server that takes it
  (coverage by branch of the role, not only by name).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

FAULTS = ("Crash", "LinkBreak", "LeaderTimeout", "FollowerTimeout")


def at(f: Any, key: Any) -> Any:
    """f[key] for a TLA+ function over servers as conformance.values gives it (list for 1..n)."""
    if isinstance(f, list):
        return f[int(key) - 1]
    return f[str(key)] if str(key) in f else f[key]


def _phase(state: dict, i: Any) -> str:
    zs = at(state["zabState"], i)
    return "DOWN" if at(state["state"], i) == "DOWN" else zs


def _last_zxid(h: list) -> list:
    return h[-1]["zxid"] if h else [0, 0]


def corpus_stats(traces: Iterable[dict]) -> dict[str, Any]:
    faults: Counter = Counter()
    by_phase: dict[str, Counter] = {}
    writes: list[int] = []
    diffs: Counter = Counter()
    truncs: Counter = Counter()
    late = refused = 0
    n = 0
    for tr in traces:
        n += 1
        steps = tr["steps"]
        nwrites = 0
        for prev, step in zip(steps, steps[1:], strict=False):
            act, params, s = step["action"], step["params"], prev["state"]
            if "zabState" not in s:
                continue
            i = params.get("i")
            if i is not None:
                by_phase.setdefault(act, Counter())[_phase(s, i)] += 1
            if act == "ClientWrite":
                nwrites += 1
            elif act in FAULTS:
                ends = [i] + ([params["j"]] if act == "LinkBreak" else [])
                phases = {_phase(s, k) for k in ends}
                for ph in ("BROADCAST", "SYNCHRONIZATION", "DISCOVERY"):
                    if ph in phases:
                        faults[ph] += 1
                        break
                else:
                    faults["ELECTION"] += 1
            elif act == "HandleACKEPOCH":
                j = params["j"]
                if at(s["zabState"], i) != "DISCOVERY":
                    late += 1
                elif at(at(step["state"]["learners"], i), j) == "NONE":
                    refused += 1
            elif act in ("HandleDIFF", "HandleTRUNC"):
                j = params["j"]
                head = at(at(s["qmsgs"], j), i)[0]
                h = at(s["history"], i)
                if act == "HandleDIFF":
                    diffs["non_empty" if head["mzxid"] != _last_zxid(h) else "empty"] += 1
                else:
                    z = head["mzxid"]
                    dropped = [t["zxid"] for t in h if tuple(t["zxid"]) > tuple(z)]
                    epochs = "+".join(str(e) for e in sorted({d[0] for d in dropped})) or "-"
                    truncs[f"drop {len(dropped)} of epoch {epochs} to epoch {z[0]}"] += 1
        writes.append(nwrites)
    wc = Counter(writes)
    return {
        "traces": n,
        "faults_by_phase": dict(faults),
        "faults_in_broadcast": faults["BROADCAST"],
        "faults_in_sync": faults["SYNCHRONIZATION"],
        "writes_per_trace": {str(k): wc[k] for k in sorted(wc)},
        "traces_with_2_writes_or_more": sum(v for k, v in wc.items() if k >= 2),
        "max_writes_in_a_trace": max(writes, default=0),
        "diffs": dict(diffs),
        "non_empty_diffs": diffs["non_empty"],
        "trunc_shapes": dict(truncs),
        "late_joiners": late,
        "more_recent_refusals": refused,
        "by_phase": {a: dict(c) for a, c in sorted(by_phase.items())},
    }
