"""A batch of spec traces replayed against the implementation: the summary the CLI prints.

``python -m conformance replay-impl CFG [TRACES.jsonl] [-n N --depth D]`` (see __main__):
each trace through :func:`conformance.replay_impl.replay_trace`, each divergence drawn by
:func:`conformance.msc.render_divergence` into ``report_dir``.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from .msc import render_divergence
from .replay_impl import KNOWN, ReplayResult, replay_trace

__all__ = ["replay_traces", "read_traces"]


def read_traces(path: str | Path) -> Iterable[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _replay_one(job: tuple[dict, int, bool]) -> tuple[int, dict, ReplayResult]:
    """(index, trace, result) of one trace; in a worker the trace and the events go back only
    when there is a divergence to draw."""
    trace, index, strict = job
    res = replay_trace(trace, index, strict=strict)
    if res.divergence is None and multiprocessing.parent_process() is not None:
        trace, res.events = {"steps": trace["steps"][:1]}, []
    return index, trace, res


def _quiet_worker() -> None:
    logging.disable(logging.WARNING)


def _results(traces: Iterable[dict], strict: bool, jobs: int) -> Iterator[tuple[int, dict, ReplayResult]]:
    """(index, trace, result) in trace order; with ``jobs`` > 1 from that many fresh worker
    processes (spawned: the caller may hold a JVM, which must not be forked)."""
    todo = ((t, t.get("index", k), strict) for k, t in enumerate(traces))
    if jobs <= 1:
        yield from map(_replay_one, todo)
        return
    with multiprocessing.get_context("spawn").Pool(jobs, initializer=_quiet_worker) as pool:
        yield from pool.imap(_replay_one, todo, chunksize=4)


def replay_traces(traces: Iterable[dict], *, strict: bool = False, report_dir: str | Path | None = None,
                  quiet: bool = True, reports: int = 20, jobs: int = 1) -> dict:  # fmt: skip
    """Replay every trace (in ``jobs`` processes); the summary: traces, steps, steps_per_s, actions_covered (counts),
    stopped_at (actions a trace stopped at, unsupported or known divergent), divergences
    (each with its report's path; at most ``reports`` are drawn), known_divergences (the
    traces that stopped at a divergence explained by replay_impl.KNOWN: cause -> count, and the
    first of each cause in ``known_examples``)."""
    if quiet:
        logging.disable(logging.WARNING)
    t0 = time.perf_counter()
    n = steps = 0
    covered: dict[str, int] = {}
    stopped: dict[str, int] = {}
    divergences: list[dict] = []
    known: dict[str, int] = {}
    examples: dict[str, dict] = {}
    out_dir = Path(report_dir) if report_dir else None
    try:
        for index, trace, res in _results(traces, strict, jobs):
            n += 1
            steps += res.steps
            for a, c in res.actions.items():
                covered[a] = covered.get(a, 0) + c
            if res.unsupported:
                stopped[res.unsupported] = stopped.get(res.unsupported, 0) + 1
            if res.known is not None:
                known[res.known] = known.get(res.known, 0) + 1
                if res.known in examples:
                    continue
            if res.divergence is not None:
                if res.known is None and len(divergences) >= reports:
                    divergences.append(res.divergence.to_json())
                    continue
                if out_dir is None:
                    out_dir = Path(tempfile.mkdtemp(prefix="zk_twisted-divergence-"))
                out_dir.mkdir(parents=True, exist_ok=True)
                n_servers = len(trace["steps"][0]["state"]["state"])
                path = render_divergence(
                    out_dir / f"divergence-{index}.html", res.divergence, res.events, n_servers
                )
                d = res.divergence.to_json()
                d["report"] = str(path)
                if res.known is not None:
                    examples[res.known] = d
                else:
                    divergences.append(d)
    finally:
        if quiet:
            logging.disable(logging.NOTSET)
    dt = time.perf_counter() - t0
    return {
        "traces": n,
        "steps": steps,
        "seconds": round(dt, 2),
        "steps_per_s": round(steps / dt, 1) if dt > 0 else 0.0,
        "actions_covered": dict(sorted(covered.items())),
        "stopped_at": dict(sorted(stopped.items())),
        "divergences": divergences,
        "known_divergences": dict(sorted(known.items())),
        "known_causes": {k: KNOWN[k] for k in sorted(known)},
        "known_examples": examples,
    }
