"""The implementation-mutant catalogue: each seeded bug of :mod:`zk_twisted.testing.mutants`
and what catches it (``python -m conformance mutants``).

A mutant is caught by a **schedule search** or by a **probe**:

* a search runs whole-node simulations (:class:`~zk_twisted.testing.simulation.Simulation`:
  real QuorumPeers, simulated network, clock and fsync) under seeded schedules of one
  :data:`FAMILIES` entry, seed after seed, until one breaks an invariant the simulation
  checks (:data:`~zk_twisted.testing.simulation.INVARIANTS`); the catch names the family,
  the seed (the schedule is reproducible from it) and the step;
* a probe drives one handler directly, for a bug no schedule can reach (a packet a real
  leader never sends on a connection, an apply that fails, a power cut in the middle of a
  file write), and names the check that failed.

:func:`run_catalogue` runs every detector of every mutant in order and stops at the first
catch; the same searches run without a mutant must find nothing (``baseline``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field

from zk_twisted.testing.mutants import MUTANTS, mutant

from .mutant_probes import PROBES, ProbeFailed
from .mutant_schedules import FAMILIES, run_schedule

__all__ = [
    "FAMILIES",
    "PROBES",
    "DETECTORS",
    "Catch",
    "Detector",
    "baseline",
    "detect",
    "run_catalogue",
    "run_probe",
    "run_schedule",
    "search",
]


@dataclass
class Catch:
    """How a mutant was caught: ``by`` an invariant (search) or a probe's check."""

    detector: str
    by: str
    detail: str
    schedules: int = 0
    seed: int | None = None
    step: int | None = None
    seconds: float = 0.0


def search(family: str, seeds: range, budget_s: float = 60.0, detector: str = "") -> Catch | None:
    """Schedules of ``family`` for each seed in turn until one breaks an invariant (a Catch),
    or the seeds or the time budget run out (None)."""
    t0 = time.perf_counter()
    for k, seed in enumerate(seeds, 1):
        v = run_schedule(family, seed)
        if v is not None:
            return Catch(
                detector or f"search:{family}",
                v.invariant or "unnamed",
                str(v)[:300],
                schedules=k,
                seed=seed,
                step=v.step,
                seconds=round(time.perf_counter() - t0, 2),
            )
        if time.perf_counter() - t0 > budget_s:
            break
    return None


def run_probe(name: str) -> Catch | None:
    t0 = time.perf_counter()
    try:
        PROBES[name]()
    except ProbeFailed as e:
        return Catch(f"probe:{name}", f"probe:{name}", str(e), seconds=round(time.perf_counter() - t0, 3))
    return None


# ============================================================================ the catalogue
@dataclass(frozen=True)
class Detector:
    """A search (``family`` with up to ``seeds`` seeds from ``first``) or a probe."""

    kind: str  # "search" | "probe"
    name: str
    seeds: int = 0
    first: int = 0

    def run(self, budget_s: float = 60.0) -> Catch | None:
        if self.kind == "probe":
            return run_probe(self.name)
        return search(self.name, range(self.first, self.first + self.seeds), budget_s)

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


#: each mutant's detectors, tried in order until one catches it (the directed families
#: first where an undirected one catches only now and then: bench/mutant_search.py measures
#: how often each family catches each mutant on fresh seeds)
DETECTORS: dict[str, tuple[Detector, ...]] = {
    "follower_ack_before_fsync": (
        Detector("search", "followers_unflushed", 50),
        Detector("search", "power_after_writes", 200),
    ),
    "leader_commit_without_quorum": (Detector("search", "isolated_leader", 20),),
    "follower_accepts_older_epoch_proposal": (Detector("probe", "older_epoch_proposal"),),
    "trunc_skipped": (Detector("search", "truncated_leader", 50), Detector("search", "random_faults", 200)),
    "current_epoch_before_sync_durable": (
        Detector("search", "lagging_follower", 50),
        Detector("search", "crash_in_sync", 200),
    ),
    "record_zxid_before_apply": (Detector("probe", "record_before_apply"),),
    "votes_without_peer_epoch": (Detector("search", "election_votes", 200),),
    "non_atomic_epoch_file": (
        Detector("search", "epoch_power_cuts", 100),
        Detector("probe", "epoch_file_power_cut"),
    ),
    "newleader_ack_before_sync_logged": (
        Detector("search", "resync_unlogged", 50),
        Detector("search", "crash_in_sync", 200),
    ),
    "leader_keeps_stale_acks": (Detector("search", "reconnect_truncated", 100),),
}


@dataclass
class Result:
    mutant: str
    bug: str
    summary: str
    caught: bool
    catch: dict | None = None
    tried: list[str] = field(default_factory=list)
    seconds: float = 0.0


def detect(name: str, budget_s: float = 60.0) -> Result:
    """Apply mutant ``name`` and run its detectors until one catches it."""
    m = MUTANTS[name]
    t0 = time.perf_counter()
    res = Result(name, m.bug, m.summary, False)
    with _quiet(), mutant(name):
        for d in DETECTORS[name]:
            res.tried.append(str(d))
            c = d.run(budget_s)
            if c is not None:
                res.caught, res.catch = True, asdict(c)
                break
    res.seconds = round(time.perf_counter() - t0, 2)
    return res


#: the baseline runs every search at least this far, however soon a mutant fell to it
BASELINE_MIN_SEEDS = 10


def baseline(results: list[Result], min_seeds: int = BASELINE_MIN_SEEDS) -> dict:
    """The unmutated code under the same detectors, each search as far as a mutant needed
    (its whole seed range when it caught nothing; ``min_seeds`` at least), and every probe:
    nothing may be caught."""
    reach: dict[tuple[str, str], int] = {}
    for r in results:
        for d in DETECTORS[r.mutant]:
            if d.kind == "search" and str(d) not in r.tried:
                continue  # never run under the mutant (an earlier detector caught it)
            key = (d.kind, d.name)
            need = d.seeds
            if r.catch and r.catch["detector"] == f"search:{d.name}" and r.catch["seed"] is not None:
                need = r.catch["seed"] - d.first + 1
            reach[key] = max(reach.get(key, 0), need, min_seeds if d.kind == "search" else 0)
    out = {"false_alarms": [], "schedules": 0, "probes": 0}
    t0 = time.perf_counter()
    with _quiet():
        for (kind, name), n in sorted(reach.items()):
            c = Detector(kind, name, n).run(budget_s=1e9)
            if kind == "search":
                out["schedules"] += n
            else:
                out["probes"] += 1
            if c is not None:
                out["false_alarms"].append(asdict(c))
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def run_catalogue(names: list[str] | None = None, budget_s: float = 60.0, with_baseline: bool = True) -> dict:
    """Every mutant (or those named), what caught each, the kill rate; then the baseline."""
    t0 = time.perf_counter()
    results = [detect(n, budget_s) for n in (names or list(MUTANTS))]
    caught = sum(r.caught for r in results)
    out = {
        "mutants": [asdict(r) for r in results],
        "caught": caught,
        "total": len(results),
        "kill_rate": round(caught / len(results), 3) if results else 0.0,
    }
    if with_baseline:
        out["baseline"] = baseline(results)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


class _quiet:
    """The nodes log every role change: silenced while the catalogue runs."""

    def __enter__(self):
        self.logger = logging.getLogger("zk_twisted")
        self.level = self.logger.level
        self.logger.setLevel(logging.CRITICAL)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)
