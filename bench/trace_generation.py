"""Trace-generation benchmark: N traces of depth D for one model, JSON out.

    python bench/trace_generation.py [spec/Model.cfg] [-n 1000] [--depth 50] [--jobs 1] [-o traces.jsonl]

Prints one JSON object: JVM start and spec load times, generation time,
steps/s, how the walks ended, the coverage table (per action: steps
taken, parameter combinations seen) and the corpus statistics (``corpus``:
faults in BROADCAST and in sync, writes per trace, non-empty DIFFs, TRUNC
shapes, each action by the phase of the server that takes it).  The default model is ``spec/ZkSystemTraces.cfg``
(the composed system where every action is reachable in short walks), else the one named by
``$CONFORMANCE_SMALL_MODEL``, else the first ``spec/*Small*.cfg``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def default_model() -> str | None:
    env = os.environ.get("CONFORMANCE_SMALL_MODEL")
    if env:
        return env
    traces = os.path.join(REPO, "spec", "ZkSystemTraces.cfg")
    if os.path.exists(traces):
        return traces
    cfgs = sorted(glob.glob(os.path.join(REPO, "spec", "*.cfg")))
    small = [c for c in cfgs if "small" in os.path.basename(c).lower()]
    return (small or cfgs or [None])[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?", default=default_model())
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--depth", type=int, default=50)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strategy", default="coverage", choices=("coverage", "random"))
    ap.add_argument("-o", "--out", help="keep the traces here (default: a temporary file, removed)")
    args = ap.parse_args(argv)
    if not args.model:
        print("no model: pass spec/<Model>.cfg", file=sys.stderr)
        return 2

    from conformance import generate_traces
    from conformance.corpus import corpus_stats
    from conformance.jvm import start_jvm
    from conformance.walker import read_traces

    t0 = time.perf_counter()
    start_jvm()
    jvm_seconds = time.perf_counter() - t0
    if args.out:
        out = args.out
    else:
        fd, out = tempfile.mkstemp(suffix=".jsonl", prefix="traces-")
        os.close(fd)
    try:
        res = generate_traces(
            args.model,
            args.n,
            args.depth,
            out=out,
            seed=args.seed,
            strategy=args.strategy,
            jobs=args.jobs,
            progress=10.0,
        )
        size = os.path.getsize(out)
        corpus = corpus_stats(read_traces(out))
    finally:
        if not args.out and os.path.exists(out):
            os.remove(out)
    d = {
        "benchmark": "trace_generation",
        "model": res.model,
        "traces": res.traces,
        "depth": args.depth,
        "jobs": res.jobs,
        "strategy": args.strategy,
        "jvm_start_seconds": round(jvm_seconds, 3),
        "spec_load_seconds": round(res.load_seconds, 3),
        "generation_seconds": round(res.seconds, 3),
        "total_seconds": round(time.perf_counter() - t0, 3),
        "steps": res.steps,
        "steps_per_second": round(res.steps_per_second, 1),
        "output_bytes": size,
        "ends": res.ends,
        "violations": res.violations,
        "all_actions_covered": res.coverage.complete,
        "coverage": res.coverage.to_json(),
        "coverage_table": res.coverage.table().splitlines(),
        # where the steps land (conformance/corpus.py): faults by phase, writes per trace,
        # DIFFs with content, TRUNC shapes, every action by the phase of the server taking it
        "corpus": corpus,
    }
    print(json.dumps(d, indent=2))
    print(res.coverage.table(), file=sys.stderr)
    return 0 if res.coverage.complete else 1


if __name__ == "__main__":
    sys.exit(main())
