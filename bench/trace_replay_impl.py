"""Trace-conformance benchmark: N spec traces of depth D replayed against zk_twisted's real nodes.

    python bench/trace_replay_impl.py [spec/ZkSystemTraces.cfg] [-n 1000] [--depth 50] [--jobs 2]
    python bench/trace_replay_impl.py --traces traces.jsonl      # replay a corpus already written

Prints one JSON object: generation time, then replay-impl's summary (traces, steps,
steps_per_s, actions_covered, stopped_at, divergences, known_divergences with one drawn
example per cause).  Exit status 1 when a divergence is not one of the known ones.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?", default=os.path.join(REPO, "spec", "ZkSystemTraces.cfg"))
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--depth", type=int, default=50)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--traces", help="replay these JSON lines instead of generating")
    ap.add_argument("--strict", action="store_true", help="count the known divergences too")
    ap.add_argument("--report-dir", help="where divergence reports go (default: a temp dir)")
    args = ap.parse_args(argv)

    from conformance.impl_run import read_traces, replay_traces

    with tempfile.TemporaryDirectory(prefix="zk_twisted-bench-") as tmp:
        gen = 0.0
        path = args.traces
        if not path:
            from conformance import generate_traces

            path = os.path.join(tmp, "traces.jsonl")
            t0 = time.perf_counter()
            generate_traces(
                args.model, args.n, args.depth, out=path, seed=args.seed, jobs=args.jobs, progress=False
            )
            gen = time.perf_counter() - t0
        res = replay_traces(read_traces(path), strict=args.strict, report_dir=args.report_dir, jobs=args.jobs)
    print(json.dumps({"generation_seconds": round(gen, 1), **res}, indent=1))
    return 1 if res["divergences"] else 0


if __name__ == "__main__":
    sys.exit(main())
