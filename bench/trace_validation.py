"""Live trace validation at scale: N seeded faulty runs of a 3-member zk_twisted ensemble
(kill -9 of the leader or a follower, writes while one is down, restarts; a link between the
leader and a follower cut through relays and healed; tests/livetrace.py)
validated against spec/ZkSystemLive.cfg, and one run of a seeded bug that must be rejected;
with --edits, the first kill run's log edited three ways the spec forbids
(tests/livetrace.py FORBIDDEN_EDITS), each searched until every order is tried.

    python bench/trace_validation.py -n 22 [--kind mix|kill|partition] [--faults 2] [--seed 0] [--edits] [--keep DIR]

Prints JSON: runs, accepted, events, matched, rejected_at (per rejected run), the search's
stutters / cut-tail steps / expansions, the mutant's and each edit's verdict (accepted,
rejected, or inconclusive: the budget ran out first) with expansions and seconds, seconds
for the runs and for the validation (events/s).  Exit 0 only if every run is accepted and
the mutant and every edit are rejected.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from livetrace import FORBIDDEN_EDITS, edited_run, faulty_run, first_follower, mutant_env, partition_run  # noqa: E402

from conformance.jvm import start_jvm  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=22, help="faulty runs (default 22)")
    ap.add_argument("--faults", type=int, default=2, help="kill/restart rounds per run (default 2)")
    ap.add_argument(
        "--kind", choices=("kill", "partition", "mix"), default="mix",
        help="kill: kill -9 / restart rounds; partition: a link cut and healed, then a kill; "
        "mix (default): every other run of each",
    )  # fmt: skip
    ap.add_argument("--seed", type=int, default=0, help="first seed")
    ap.add_argument("--mutant", default="follower_skips_current_epoch", help="live mutant ('' for none)")
    ap.add_argument("--edits", action="store_true", help="reject the edited logs exhaustively (minutes)")
    ap.add_argument("--budget", type=int, default=400_000, help="expansions for the mutant and edits")
    ap.add_argument("--keep", help="keep the logs here (default: a temp dir, removed)")
    args = ap.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tracevalid-"))
    start_jvm()
    from conformance.model import Model
    from conformance.validate_log import DEFAULT_MODEL, validate_run

    model = Model.load(DEFAULT_MODEL)
    schedules, results, errors = [], [], []
    t_runs = t_val = 0.0
    kills = breaks = 0
    kill_runs: list[Path] = []  # the kill -9 runs, whose first one --edits edits
    try:
        for s in range(args.seed, args.seed + args.n):
            logdir = root / "logs" / f"run{s:03d}"
            t0 = time.perf_counter()
            try:
                part = args.kind == "partition" or (args.kind == "mix" and s % 2 == 1)
                if part:
                    schedules.append(partition_run(root / f"ens{s}", logdir, s))
                else:
                    schedules.append(faulty_run(root / f"ens{s}", logdir, s, faults=args.faults))
                    kill_runs.append(logdir)
            except Exception as e:  # noqa: BLE001 - a run that did not finish is reported, not validated
                errors.append({"seed": s, "error": str(e).splitlines()[0]})
                continue
            finally:
                t_runs += time.perf_counter() - t0
                shutil.rmtree(root / f"ens{s}", ignore_errors=True)
            env_lines = (logdir / "env.jsonl").read_text().splitlines()
            kills += sum('"Crash"' in x for x in env_lines)
            breaks += sum('"LinkBreak"' in x for x in env_lines)
            t0 = time.perf_counter()
            results.append(validate_run(model, logdir))
            t_val += time.perf_counter() - t0

        def verdict(logdir: Path) -> dict:
            t0 = time.perf_counter()
            r = validate_run(model, logdir, max_expansions=args.budget)
            return {"verdict": r.verdict, "matched": r.matched, "events": r.events, "expansions": r.expansions,
                    "seconds": round(time.perf_counter() - t0, 1),
                    "rejected_at": r.rejected_at and r.rejected_at.get("candidates")}  # fmt: skip

        mutant = None
        if args.mutant:
            logdir = root / "logs" / "mutant"
            faulty_run(root / "ens-mutant", logdir, args.seed, faults=0, env=mutant_env(args.mutant))
            mutant = {"name": args.mutant, **verdict(logdir)}
        edits = {}
        if args.edits and kill_runs:
            src = kill_runs[0]
            f = first_follower(src)
            for name, (edit, _where) in FORBIDDEN_EDITS.items():
                edits[name] = {"run": src.name, **verdict(edited_run(src, root / "edits" / name, f, edit))}
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    events = sum(r.events for r in results)
    out = {
        "runs": len(results),
        "accepted": sum(r.accepted for r in results),
        "run_errors": errors,
        "events": events,
        "matched": sum(r.matched for r in results),
        "rejected_at": {r.run: r.rejected_at for r in results if not r.accepted},
        "crashes": kills,  # kill -9s and the stops at the end (a stop is a crash to the spec)
        "link_breaks": breaks,
        "writes": sum(s["writes"] for s in schedules),
        "stutters": sum(r.stutters for r in results),
        "tail_steps": sum(r.tail_steps for r in results),
        "max_expansions": max((r.expansions for r in results), default=0),
        "runs_seconds": round(t_runs, 1),
        "validation_seconds": round(t_val, 1),
        "events_per_second": round(events / t_val, 1) if t_val else None,
        "mutant": mutant,
        "edits": edits,
        "model_load_seconds": round(model.load_seconds, 1),
    }
    print(json.dumps(out, indent=1))
    ok = (
        out["runs"] == args.n
        and out["accepted"] == out["runs"]
        and (mutant is None or mutant["verdict"] == "rejected")
        and all(e["verdict"] == "rejected" for e in edits.values())
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
