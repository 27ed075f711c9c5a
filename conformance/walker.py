"""Random and coverage-guided walks over a spec's state space, and their replay.

A walk starts in an initial state and takes up to ``depth`` steps; each step
is one action as TLC splits ``Next`` (an operator with fixed parameters, e.g.
``Send(s1, s2)``), evaluated by TLC's own evaluator (``FastTool``), honouring
the model's CONSTRAINT / ACTION_CONSTRAINT.  A walk ends early when no action
is enabled ("deadlock"; "constraint" when steps exist but the model's
CONSTRAINT cuts them all off) or, when invariants are checked, at the first
state that violates one.

Choosing a step: the actions are put in a random order weighted by their
weights (Efraimidis-Spirakis keys ``u ** (1 / w)``) and tried in that order
until one is enabled; the first enabled one is then a weighted random choice
among the enabled actions, found without evaluating all of them.  Its
successor is chosen uniformly when it has several.

* ``random``: every action weighs 1 (a uniform choice among enabled actions).
* ``coverage``: an operator never taken yet weighs 1000, a (operator,
  parameters) pair never taken 20 (until found disabled 50 times: some
  pairs, like ``Send(s1, s1)``, are never enabled), others 1, except that in
  specs with a ``zabState`` variable faults and role timeouts (``Crash``,
  ``LinkBreak``, ``LeaderTimeout``, ``FollowerTimeout``) weigh 6 once some
  server is in BROADCAST, 0.05 while some is in SYNCHRONIZATION and 0.01 or
  0.3 before (chosen per walk: early faults change the leader), and
  ``ClientWrite`` weighs 4: the fault budget is spent where a fault can
  lose something, and traces carry several writes.  Never-taken operators are thus
  tried first at every step and taken as soon as enabled.  Actions that walks
  miss are then searched for breadth-first (:class:`Explorer`) and some walks
  start with a shortest path to them (see :func:`generate_traces`).

A trace is one JSON object per line::

    {"model": "Toy", "module": "Toy", "config": "Toy.cfg", "seed": 1, "index": 0,
     "strategy": "coverage", "depth": 50, "end": "depth",  # or "deadlock" / "constraint" / "violation"
     "violation": null,                                    # or {"invariant": ..., "step": k}
     "directed": "HandleTRUNC",                            # only on walks sent to an action
     "steps": [{"action": null, "params": {}, "state": {...}},
               {"action": "Send", "params": {"i": "p1", "j": "p2"}, "state": {...}}, ...]}

``steps[0]`` is the initial state; ``steps[k]`` the state after the k-th
action.  States are ``{variable: value}`` as :mod:`conformance.values` maps
them.  :func:`validate_trace` checks that such a trace (or a counterexample
from :func:`conformance.tlc.check_model`) replays through the spec.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .model import ActionInfo, Model, ModelRef
from .values import canonical

__all__ = [
    "Coverage",
    "Explorer",
    "GenerationResult",
    "ReplayResult",
    "Walker",
    "generate_traces",
    "read_traces",
    "validate_trace",
    "validate_violation",
]

STRATEGIES = ("coverage", "random")

#: faults and role timeouts whose weight (coverage strategy) follows the servers' Zab phases
PHASED_FAULTS = frozenset({"Crash", "LinkBreak", "LeaderTimeout", "FollowerTimeout"})
FAULT_BROADCAST_WEIGHT = 8.0  # some server in BROADCAST
FAULT_SYNC_WEIGHT = 0.05  # some server in SYNCHRONIZATION, none in BROADCAST
#: every server electing or in discovery: chosen per walk, so that some walks spend their fault
#: budget early (a different leader, TRUNC of the recovery state) and the others reach BROADCAST
FAULT_EARLY_WEIGHTS = (0.01, 0.3)
WRITE_WEIGHT = 4.0  # client writes: several per trace


class Coverage:
    """How often each action (by operator name, and by name + parameters) was taken."""

    def __init__(self, model_or_actions: Model | list[ActionInfo]):
        actions = model_or_actions.actions if isinstance(model_or_actions, Model) else model_or_actions
        self.names: list[str] = list(dict.fromkeys(a.name for a in actions))
        self.labels_of: dict[str, list[str]] = {}
        for a in actions:
            self.labels_of.setdefault(a.name, []).append(a.label)
        self.by_name: Counter[str] = Counter()
        self.by_label: Counter[str] = Counter()
        self.first_trace: dict[str, int] = {}
        #: operators an exhausted search of the model never found enabled
        self.never_enabled: set[str] = set()

    @classmethod
    def from_labels(cls, labels_of: dict[str, list[str]]) -> Coverage:
        """An empty Coverage over actions given as {operator name: [labels]}."""
        cov = cls([])
        cov.names = list(labels_of)
        cov.labels_of = {n: list(v) for n, v in labels_of.items()}
        return cov

    def record(self, action: ActionInfo, trace_index: int) -> None:
        self.by_name[action.name] += 1
        self.by_label[action.label] += 1
        self.first_trace.setdefault(action.name, trace_index)

    def merge(self, other: dict[str, Any]) -> None:
        """Add the counts of another Coverage's :meth:`to_json` (e.g. from a worker process)."""
        for name, row in other["actions"].items():
            self.by_name[name] += row["steps"]
            for label, c in row.get("by_label", {}).items():
                self.by_label[label] += c
            if row.get("first_trace") is not None:
                ft = row["first_trace"]
                self.first_trace[name] = min(self.first_trace.get(name, ft), ft)

    @property
    def uncovered(self) -> list[str]:
        return [n for n in self.names if self.by_name[n] == 0]

    @property
    def complete(self) -> bool:
        """Every operator of Next was taken."""
        return not self.uncovered

    @property
    def complete_for_model(self) -> bool:
        """Every operator the model can enable was taken."""
        return not (set(self.uncovered) - self.never_enabled)

    def to_json(self) -> dict[str, Any]:
        return {
            "covered": len(self.names) - len(self.uncovered),
            "actions_total": len(self.names),
            "uncovered": self.uncovered,
            "never_enabled": sorted(self.never_enabled),
            "labels_covered": sum(
                1 for labels in self.labels_of.values() for lb in labels if self.by_label[lb]
            ),
            "labels_total": sum(len(v) for v in self.labels_of.values()),
            "actions": {
                n: {
                    "steps": self.by_name[n],
                    "labels": sum(1 for lb in self.labels_of[n] if self.by_label[lb]),
                    "labels_total": len(self.labels_of[n]),
                    "first_trace": self.first_trace.get(n),
                    "by_label": {lb: self.by_label[lb] for lb in self.labels_of[n] if self.by_label[lb]},
                }
                for n in self.names
            },
        }

    def table(self) -> str:
        """A text table: action, steps taken, share, parameter combinations seen, first trace."""
        total = sum(self.by_name.values()) or 1
        w = max([len("action")] + [len(n) for n in self.names])
        lines = [f"{'action':<{w}}  {'steps':>9}  {'share':>6}  {'params seen':>11}  {'first trace':>11}"]
        lines.append("-" * len(lines[0]))
        for n in self.names:
            c = self.by_name[n]
            seen = sum(1 for lb in self.labels_of[n] if self.by_label[lb])
            first = self.first_trace.get(n)
            mark = (
                ""
                if c
                else ("   (never enabled in this model)" if n in self.never_enabled else "   <-- never taken")
            )
            lines.append(
                f"{n:<{w}}  {c:>9,}  {100.0 * c / total:>5.1f}%  {f'{seen}/{len(self.labels_of[n])}':>11}  "
                f"{'-' if first is None else first:>11}{mark}"
            )
        j = self.to_json()
        lines.append("-" * len(lines[0]))
        lines.append(
            f"covered {j['covered']}/{j['actions_total']} actions, "
            f"{j['labels_covered']}/{j['labels_total']} (action, parameters) pairs, {total:,} steps"
        )
        return "\n".join(lines)


class Walker:
    """Walks one loaded :class:`Model`; keeps coverage across walks."""

    def __init__(
        self,
        model: Model,
        *,
        seed: int | str = 0,
        strategy: str = "coverage",
        check_invariants: bool = True,
        coverage: Coverage | None = None,
    ):
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
        self.model = model
        self.seed = seed
        self.rng = random.Random(seed)
        self.strategy = strategy
        self.check_invariants = check_invariants
        self.coverage = coverage or Coverage(model)
        self.steps_taken = 0
        self._inits: list | None = None
        self._disabled = [0] * len(model.actions)  # times each action was tried and found disabled
        self._fault_early = FAULT_EARLY_WEIGHTS[0]

    def _weight(self, a: ActionInfo, phase: float = 1.0) -> float:
        if self.strategy == "random":
            return 1.0
        if self.coverage.by_name[a.name] == 0:
            return 1000.0
        if self.coverage.by_label[a.label] == 0 and self._disabled[a.index] < 50:
            return 20.0  # (a pair found disabled 50 times, e.g. Send(s1, s1), loses its bonus)
        if a.name in PHASED_FAULTS:
            return phase
        return WRITE_WEIGHT if a.name == "ClientWrite" else 1.0

    def _fault_weight(self, pystate: dict | None) -> float:
        """Weight of a fault or role timeout in this state: high once some server is in
        SYNCHRONIZATION or BROADCAST, low while every server is still electing or in
        discovery, so the fault budget is spent where the protocol has state to lose."""
        zs = pystate.get("zabState") if pystate else None
        if zs is None:
            return 1.0
        phases = set(zs.values() if isinstance(zs, dict) else zs)
        if "BROADCAST" in phases:
            return FAULT_BROADCAST_WEIGHT
        return FAULT_SYNC_WEIGHT if "SYNCHRONIZATION" in phases else self._fault_early

    def _order(self, pystate: dict | None = None) -> list[ActionInfo]:
        rnd = self.rng.random
        acts = self.model.actions
        if self.strategy == "random":
            order = list(acts)
            self.rng.shuffle(order)
            return order
        keyed = []
        phase = self._fault_weight(pystate)
        for a in acts:
            u = rnd() or 1e-300
            keyed.append((math.log(u) / self._weight(a, phase), a.index, a))
        keyed.sort(reverse=True)
        return [a for _, _, a in keyed]

    def step(self, state, pystate: dict | None = None) -> tuple[ActionInfo, Any] | None:
        """One random step from ``state``: (action, successor), or None if nothing is enabled.

        ``pystate``: ``state`` as Python values, when the caller has it (phase weights)."""
        for a in self._order(pystate):
            succ = self.model.successors(state, a)
            if succ:
                return a, (succ[0] if len(succ) == 1 else self.rng.choice(succ))
            self._disabled[a.index] += 1
        return None

    def walk(self, depth: int, index: int = 0, prefix: list | None = None) -> dict[str, Any]:
        """One trace of at most ``depth`` steps, as the JSON-ready dict the module docstring shows.

        ``prefix``: start with these steps, ``[(None, initial state), (action,
        state), ...]`` (a path from :meth:`Explorer.path_to`), then walk on.
        """
        model = self.model
        model._check_live()
        self._fault_early = self.rng.choice(FAULT_EARLY_WEIGHTS)
        if prefix:
            path = list(prefix)
        else:
            if self._inits is None:
                self._inits = model.init_states()
                if not self._inits:
                    raise RuntimeError(f"{model.name}: no initial state satisfies the model")
            path = [(None, self._inits[0] if len(self._inits) == 1 else self.rng.choice(self._inits))]
        steps: list[dict[str, Any]] = []
        end, violation = "depth", None
        state = None
        for k, (action, state) in enumerate(path[: depth + 1]):
            if action is None:
                steps.append({"action": None, "params": {}, "state": model.to_python(state)})
            else:
                self.coverage.record(action, index)
                self.steps_taken += 1
                steps.append(
                    {"action": action.name, "params": action.params, "state": model.to_python(state)}
                )
            if self.check_invariants:
                bad = model.violated_invariants(state)
                if bad:
                    return self._record(index, depth, steps, "violation", {"invariant": bad[0], "step": k})
        for k in range(len(steps), depth + 1):
            nxt = self.step(state, steps[-1]["state"])
            if nxt is None:
                # nothing enabled: a deadlock of the spec, or only steps the model's CONSTRAINT cuts off
                end = "constraint" if model.all_successors(state, constrained=False) else "deadlock"
                break
            action, state = nxt
            self.coverage.record(action, index)
            self.steps_taken += 1
            steps.append({"action": action.name, "params": action.params, "state": model.to_python(state)})
            if self.check_invariants:
                bad = model.violated_invariants(state)
                if bad:
                    end, violation = "violation", {"invariant": bad[0], "step": k}
                    break
        return self._record(index, depth, steps, end, violation)

    def _record(self, index, depth, steps, end, violation) -> dict[str, Any]:
        ref = self.model.ref
        return {
            "model": ref.name,
            "module": ref.module,
            "config": ref.config,
            "seed": self.seed,
            "index": index,
            "strategy": self.strategy,
            "depth": depth,
            "end": end,
            "violation": violation,
            "steps": steps,
        }


class Explorer:
    """Breadth-first search of the model's state space (within a budget) that
    remembers, for each action, the first state where it is enabled, so a walk
    can be sent there: random walks rarely reach an action enabled in a handful
    of states (a TRUNC after a crash at the right moment).

    States are told apart by TLC's fingerprint (under SYMMETRY, one state per
    symmetry class); each kept state is a genuine successor of its parent, so
    :meth:`path_to` returns a genuine path.  ``exhausted`` says the whole
    (constrained) state space was seen: an action never found enabled is then
    never enabled in this model.
    """

    def __init__(self, model: Model, *, max_states: int = 200_000, max_seconds: float = 60.0):
        self.model = model
        self.max_states = max_states
        self.max_seconds = max_seconds
        # node -> (state, parent node or -1, action index or -1)
        self.nodes: list[tuple[Any, int, int]] = []
        self.enabled_at: dict[str, tuple[int, int]] = {}  # name or label -> (node, action index)
        self.exhausted = False
        self.seconds = 0.0
        self._seen: set[int] = set()
        self._queue: list[int] = []
        self._head = 0
        self._started = False

    @property
    def states(self) -> int:
        return len(self.nodes)

    def _add(self, state, parent: int, action: int) -> None:
        fp = int(state.fingerPrint())
        if fp in self._seen:
            return
        self._seen.add(fp)
        self.nodes.append((state, parent, action))
        self._queue.append(len(self.nodes) - 1)

    def run(self, wanted: Iterable[str] = ()) -> None:
        """Explore until every name or label in ``wanted`` was found enabled, the
        budget is spent, or the state space is exhausted (resumable)."""
        model = self.model
        model._check_live()
        wanted = {w for w in wanted if w not in self.enabled_at}
        t0 = time.monotonic()
        if not self._started:
            self._started = True
            for s in model.init_states():
                self._add(s, -1, -1)
        while self._head < len(self._queue):
            if not wanted - self.enabled_at.keys() and wanted:
                break
            if len(self.nodes) >= self.max_states or time.monotonic() - t0 > self.max_seconds:
                break
            node = self._queue[self._head]
            self._head += 1
            state = self.nodes[node][0]
            for a in model.actions:
                succ = model.successors(state, a)
                if not succ:
                    continue
                self.enabled_at.setdefault(a.name, (node, a.index))
                self.enabled_at.setdefault(a.label, (node, a.index))
                for t in succ:
                    self._add(t, node, a.index)
        else:
            self.exhausted = True
        self.seconds += time.monotonic() - t0

    def path_to(self, target: str, rng: random.Random | None = None) -> list | None:
        """``[(None, init), (action, state), ...]`` ending with a step of ``target``
        (an operator name or an action label), or None if not found enabled."""
        hit = self.enabled_at.get(target)
        if hit is None:
            return None
        node, action_index = hit
        path = []
        while node >= 0:
            state, parent, a = self.nodes[node]
            path.append((self.model.actions[a] if a >= 0 else None, state))
            node = parent
        path.reverse()
        action = self.model.actions[action_index]
        succ = self.model.successors(path[-1][1], action)
        path.append((action, (rng or random).choice(succ)))
        return path


@dataclass
class GenerationResult:
    model: str
    traces: int
    steps: int
    seconds: float
    load_seconds: float
    ends: dict[str, int]
    violations: dict[str, int]
    coverage: Coverage = field(repr=False)
    output: str | None = None
    jobs: int = 1
    explored_states: int = 0  # states the directed search (Explorer) saw
    explore_seconds: float = 0.0

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "traces": self.traces,
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "load_seconds": round(self.load_seconds, 3),
            "steps_per_second": round(self.steps_per_second, 1),
            "jobs": self.jobs,
            "explored_states": self.explored_states,
            "explore_seconds": round(self.explore_seconds, 3),
            "ends": self.ends,
            "violations": self.violations,
            "output": self.output,
            "coverage": self.coverage.to_json(),
        }


def generate_traces(
    path: str | ModelRef | Model,
    n: int,
    depth: int,
    *,
    out: str | io.TextIOBase | None = None,
    seed: int | str = 0,
    strategy: str = "coverage",
    check_invariants: bool = True,
    jobs: int = 1,
    explore_seconds: float = 30.0,
    explore_states: int = 100_000,
    progress: bool | float = True,
    progress_stream=None,
    first_index: int = 0,
) -> GenerationResult:
    """Write ``n`` traces of at most ``depth`` steps as JSON lines to ``out`` (a
    path or a text file; None: keep nothing) and return the counts and coverage.

    With the ``coverage`` strategy, once a tenth of the traces (at least 10)
    are walked, the actions (operators first, then (operator, parameters)
    pairs) not taken yet are searched for breadth-first (:class:`Explorer`,
    within ``explore_seconds`` / ``explore_states``), and up to a quarter of the
    traces start with a shortest path to a state where one of them is enabled
    and take it (such a trace records it as ``"directed"``); they then walk on
    at random.  An action the exhausted search never found enabled is marked
    as not enabled in this model in the coverage table.

    ``jobs`` > 1 splits the traces among that many worker processes (each
    starts its own JVM and loads the spec: one live spec per JVM); each guides
    its walks by its own coverage, and the output keeps trace order.
    """
    opts = {
        "seed": seed,
        "strategy": strategy,
        "check_invariants": check_invariants,
        "explore_seconds": explore_seconds,
        "explore_states": explore_states,
    }
    if jobs > 1 and n > 1:
        ref = path.ref if isinstance(path, Model) else path
        return _generate_parallel(ref, n, depth, out, jobs, progress, opts)
    t_load = time.perf_counter()
    model = path if isinstance(path, Model) else Model.load(path)
    load_seconds = model.load_seconds if isinstance(path, Model) else time.perf_counter() - t_load
    walker = Walker(model, seed=seed, strategy=strategy, check_invariants=check_invariants)
    cov = walker.coverage
    stream = progress_stream or sys.stderr
    interval = 10.0 if progress is True else float(progress or 0)
    close = False
    fh = None
    if isinstance(out, (str, os.PathLike)):
        fh = open(out, "w", encoding="utf-8")  # noqa: SIM115 - closed below
        close = True
    elif out is not None:
        fh = out
    ends: Counter[str] = Counter()
    violations: Counter[str] = Counter()
    explorer: Explorer | None = None
    targets: list[str] = []
    directed_left = n // 4
    probe = min(n, max(10, n // 10))
    t0 = time.perf_counter()
    next_report = time.monotonic() + min(interval, 5.0)
    try:
        for k in range(n):
            prefix, target = None, None
            if strategy == "coverage" and k >= probe and directed_left > 0:
                if explorer is None:
                    wanted = cov.uncovered + [
                        lb for n_ in cov.names for lb in cov.labels_of[n_] if not cov.by_label[lb]
                    ]
                    explorer = Explorer(model, max_states=explore_states, max_seconds=explore_seconds)
                    if wanted:
                        explorer.run(wanted)
                        if explorer.exhausted:
                            cov.never_enabled = {nm for nm in cov.names if nm not in explorer.enabled_at}
                    targets = [w for w in wanted if w in explorer.enabled_at]
                while targets and prefix is None:
                    t = targets.pop(0)
                    if cov.by_name.get(t) or cov.by_label.get(t):
                        continue  # taken meanwhile
                    path_ = explorer.path_to(t, walker.rng)
                    if path_ is not None and len(path_) - 1 <= depth:
                        prefix, target = path_, t
                        directed_left -= 1
            rec = walker.walk(depth, index=first_index + k, prefix=prefix)
            if target is not None:
                rec["directed"] = target
            ends[rec["end"]] += 1
            if rec["violation"]:
                violations[rec["violation"]["invariant"]] += 1
            if fh is not None:
                fh.write(json.dumps(rec, separators=(",", ":")))
                fh.write("\n")
            if interval > 0 and time.monotonic() >= next_report:
                next_report = time.monotonic() + interval
                el = time.perf_counter() - t0
                stream.write(
                    f"[traces {model.name}] {el:6.1f}s {k + 1:,}/{n:,} traces, {walker.steps_taken:,} steps "
                    f"({walker.steps_taken / max(el, 1e-9):,.0f} steps/s), "
                    f"{len(cov.names) - len(cov.uncovered)}/{len(cov.names)} actions covered\n"
                )
                stream.flush()
    finally:
        if close and fh is not None:
            fh.close()
    return GenerationResult(
        model=model.name,
        traces=n,
        steps=walker.steps_taken,
        seconds=time.perf_counter() - t0,
        load_seconds=load_seconds,
        ends=dict(ends),
        violations=dict(violations),
        coverage=cov,
        output=str(out) if isinstance(out, (str, os.PathLike)) else None,
        explored_states=explorer.states if explorer else 0,
        explore_seconds=explorer.seconds if explorer else 0.0,
    )


def _worker(args: tuple) -> dict[str, Any]:
    """One process's share of :func:`generate_traces` (runs in a spawned process)."""
    ref, count, depth, part_path, first_index, progress, opts = args
    res = generate_traces(
        ref, count, depth, out=part_path, first_index=first_index, progress=progress, **opts
    )
    d = res.to_json()
    d["_labels_of"] = res.coverage.labels_of
    d["_never_enabled"] = sorted(res.coverage.never_enabled)
    return d


def _generate_parallel(ref, n, depth, out, jobs, progress, opts) -> GenerationResult:
    import multiprocessing
    import shutil
    import tempfile
    from concurrent.futures import ProcessPoolExecutor

    from .model import resolve

    if not isinstance(ref, ModelRef):
        ref = resolve(ref)
    jobs = min(jobs, n)
    bounds = [n * j // jobs for j in range(jobs + 1)]
    tmpdir = tempfile.mkdtemp(prefix="traces-")
    parts = [os.path.join(tmpdir, f"part{j}.jsonl") for j in range(jobs)]
    t0 = time.perf_counter()
    try:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as ex:
            futs = []
            for j in range(jobs):
                o = dict(opts, seed=opts["seed"] if j == 0 else f"{opts['seed']}/{j}")
                args = (
                    ref,
                    bounds[j + 1] - bounds[j],
                    depth,
                    parts[j],
                    bounds[j],
                    progress if j == 0 else False,
                    o,
                )
                futs.append(ex.submit(_worker, args))
            results = [f.result() for f in futs]
        if out is not None:
            fh = open(out, "w", encoding="utf-8") if isinstance(out, (str, os.PathLike)) else out  # noqa: SIM115
            try:
                for p in parts:
                    with open(p, encoding="utf-8") as src:
                        shutil.copyfileobj(src, fh)
            finally:
                if fh is not out:
                    fh.close()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    ends: Counter[str] = Counter()
    violations: Counter[str] = Counter()
    for r in results:
        ends.update(r["ends"])
        violations.update(r["violations"])
    coverage = Coverage.from_labels(results[0]["_labels_of"])
    for r in results:
        coverage.merge(r["coverage"])
        if r["_never_enabled"]:
            coverage.never_enabled = set(r["_never_enabled"])
    return GenerationResult(
        model=ref.name,
        traces=n,
        steps=sum(r["steps"] for r in results),
        seconds=time.perf_counter() - t0,
        load_seconds=max(r["load_seconds"] for r in results),
        ends=dict(ends),
        violations=dict(violations),
        coverage=coverage,
        output=str(out) if isinstance(out, (str, os.PathLike)) else None,
        jobs=jobs,
        explored_states=max(r["explored_states"] for r in results),
        explore_seconds=max(r["explore_seconds"] for r in results),
    )


def read_traces(path: str) -> Iterator[dict[str, Any]]:
    """The traces of a JSON-lines file (as written by :func:`generate_traces`)."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                yield json.loads(line)


# -- replay -------------------------------------------------------------------


@dataclass
class ReplayResult:
    """What :func:`validate_trace` found."""

    ok: bool
    steps: int  # states matched (initial state included)
    failed_at: int | None = None  # index into the trace of the first step that does not replay
    reason: str = ""
    violated: list[str] = field(default_factory=list)  # invariants the last replayed state violates
    final_state: Any = field(default=None, repr=False)  # the last replayed state (TLC object)
    states: list[Any] = field(default_factory=list, repr=False)  # every replayed state (TLC objects)

    def __bool__(self) -> bool:
        return self.ok


def _get(step: Any, key: str, default=None):
    if isinstance(step, dict):
        return step.get(key, default)
    return getattr(step, key, default)


def _project(d: dict, variables: Iterable[str] | None) -> dict:
    if variables is None:
        return d
    return {k: d.get(k) for k in variables}


def validate_trace(
    model: Model,
    steps: Iterable[Any],
    *,
    constrained: bool = False,
    variables: Iterable[str] | None = None,
) -> ReplayResult:
    """Check that ``steps`` replays through ``model``'s spec.

    ``steps``: a trace's ``"steps"`` (dicts) or a :class:`conformance.tlc.TraceStep`
    list.  The first state must be an initial state; each later step's state
    must be a successor of the previous state under the named action with the
    given parameters (``params`` missing or None: any parameters).  A step
    without a state is accepted when its action has exactly one successor.
    ``variables``: compare only these variables (others may be absent).
    ``constrained``: also require the model's CONSTRAINTs (TLC's ``Next`` does
    not include them).
    """
    steps = list(steps)
    if not steps:
        return ReplayResult(False, 0, 0, "empty trace")
    variables = list(variables) if variables is not None else None
    want0 = _get(steps[0], "state")
    if _get(steps[0], "action") is not None:
        return ReplayResult(
            False, 0, 0, f"step 0 must be an initial state, not action {_get(steps[0], 'action')!r}"
        )
    inits = model.init_states(constrained=constrained)
    cur = None
    if want0 is None:
        if len(inits) == 1:
            cur = inits[0]
    else:
        want = _project(canonical(want0), variables)
        for s in inits:
            if _project(model.to_python(s), variables) == want:
                cur = s
                break
    if cur is None:
        return ReplayResult(
            False, 0, 0, f"step 0: not an initial state of {model.name} ({len(inits)} initial states)"
        )
    states = [cur]
    for k in range(1, len(steps)):
        name = _get(steps[k], "action")
        params = _get(steps[k], "params")
        if name is None:
            return ReplayResult(False, k, k, f"step {k}: no action named", final_state=cur, states=states)
        cands = model.find_actions(name, params if params else None)
        if not cands:
            label = name + (f"({', '.join(f'{p}={v!r}' for p, v in params.items())})" if params else "")
            return ReplayResult(
                False, k, k, f"step {k}: the spec has no action {label}", final_state=cur, states=states
            )
        succs = [(a, t) for a in cands for t in model.successors(cur, a, constrained=constrained)]
        if not succs:
            return ReplayResult(
                False, k, k, f"step {k}: {cands[0].label} is not enabled", final_state=cur, states=states
            )
        want_state = _get(steps[k], "state")
        nxt = None
        if want_state is None:
            if len(succs) == 1:
                nxt = succs[0][1]
            else:
                return ReplayResult(
                    False,
                    k,
                    k,
                    f"step {k}: {name} has {len(succs)} successors; the trace must give the state",
                    final_state=cur,
                    states=states,
                )
        else:
            want = _project(canonical(want_state), variables)
            for _a, t in succs:
                if _project(model.to_python(t), variables) == want:
                    nxt = t
                    break
            if nxt is None:
                got = _project(model.to_python(succs[0][1]), variables)
                diff = sorted(v for v in set(got) | set(want) if got.get(v) != want.get(v))
                return ReplayResult(
                    False,
                    k,
                    k,
                    f"step {k}: no successor under {name} matches the recorded state "
                    f"(variables differing from the first successor: {', '.join(diff)})",
                    final_state=cur,
                    states=states,
                )
        cur = nxt
        states.append(cur)
    return ReplayResult(True, len(steps), None, "", model.violated_invariants(cur), cur, states)


def validate_violation(model: Model, violation: Any, *, check_prefix: bool = True) -> ReplayResult:
    """Replay a counterexample and check that it shows what it claims.

    ``violation``: a :class:`conformance.tlc.Violation` or its ``to_json()``.
    For an invariant: the last state violates it (and, with ``check_prefix``,
    no earlier state does).  For a deadlock: the last state has no successor.
    """
    kind = _get(violation, "kind")
    name = _get(violation, "name")
    trace = _get(violation, "trace") or []
    res = validate_trace(model, trace)
    if not res.ok:
        return res
    if kind == "invariant":
        if name not in model.invariant_names:
            return _fail(res, f"{name!r} is not an invariant of {model.name}")
        if name not in res.violated:
            return _fail(res, f"the last state does not violate {name}")
        if check_prefix:
            idx = model.invariant_names.index(name)
            inv = model._invariants[idx]
            for k, s in enumerate(res.states[:-1]):
                if not model.tool.isValid(inv, s):
                    return _fail(res, f"{name} is already violated at step {k}")
    elif kind == "deadlock":
        if model.all_successors(res.final_state, constrained=False):
            return _fail(res, "the last state has successors: not a deadlock")
    return res


def _fail(res: ReplayResult, reason: str) -> ReplayResult:
    res.ok = False
    res.failed_at = res.steps - 1
    res.reason = reason
    return res
