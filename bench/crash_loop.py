"""Crash loop: SIGKILL zk_twisted at random moments under kazoo write load, N times; JSON out.

    python bench/crash_loop.py [--kills 25] [--writers 4] [--snap-count 500] [--seed 1] [--ensemble 3]

With ``--ensemble N`` the target is an N-member ensemble: the leader and a random follower
are killed in turn (tests/crashload.py EnsembleTarget), the writers' sessions move to the
members left, and every member must end with no digest mismatch.

After every restart (same data dir) each write a client saw acknowledged must be present
with its data and version, and every writer's session and ephemeral must still be there
(see tests/crashload.py).  Exit status 1 if any check failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from crashload import EnsembleTarget, crash_round, start_writers, stop_writers  # noqa: E402
from zkharness import ZKEnsemble, ZKProcess, four_letter  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=25)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--snap-count", type=int, default=500)
    ap.add_argument("--min-run", type=float, default=0.2, help="seconds of load before a kill, at least")
    ap.add_argument("--max-run", type=float, default=2.0, help="... and at most")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", type=Path, default=None, help="work dir (default: a temporary one)")
    ap.add_argument("--ensemble", type=int, default=0, help="members of an ensemble to crash (0: one server)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # kazoo narrates every reconnect otherwise
    work = args.dir or Path(tempfile.mkdtemp(prefix="crash_loop."))
    rng = random.Random(args.seed)
    extra = {"snapCount": str(args.snap_count)}
    if args.ensemble:
        ensemble = ZKEnsemble(work / "ens", args.ensemble, extra=extra).start()
        server = EnsembleTarget(ensemble, rng)
        server.stop = ensemble.stop
    else:
        ensemble = None
        server = ZKProcess(work / "zk", extra=extra).start()
    try:
        writers, checker = start_writers(server.hosts, args.writers, args.seed)
    except BaseException:
        server.stop()
        raise
    rounds = []
    t0 = time.monotonic()
    try:
        for _ in range(args.kills):
            r = crash_round(server, writers, checker, rng, (args.min_run, args.max_run))
            rounds.append(r)
            if r.problems:
                break
        if ensemble is not None:
            for i, m in ensemble.members.items():
                if "zk_digest_mismatches_count\t0" not in four_letter(m.port, "mntr"):
                    rounds[-1].problems.append(f"member {i} reports digest mismatches")
    finally:
        stop_writers(writers, checker)
        server.stop()
    problems = [p for r in rounds for p in r.problems]
    data = ensemble.members[1].data_dir if ensemble else work / "zk" / "data"
    snapshots = len(list((data / "version-2").glob("snapshot.*")))
    out = {
        "kills": len(rounds),
        "ensemble": args.ensemble or None,
        "killed": [f"{sid}:{kind}" for sid, kind in server.kills] if ensemble else None,
        "ok": not problems,
        "problems": problems[:20],
        "writers": args.writers,
        "snap_count": args.snap_count,
        "acknowledged_writes": sum(w.confirmed_writes for w in writers),
        "uncertain_writes": sum(w.uncertain_writes for w in writers),
        "paths_checked_exactly": sum(r.exact for r in rounds),
        "paths_resolved_after_uncertain_writes": sum(r.resolved for r in rounds),
        "znodes_at_end": sum(len(w.paths) for w in writers),
        "snapshot_files_at_end": snapshots,
        "restart_s_max": round(max(r.restart_s for r in rounds), 3),
        "restart_s_mean": round(sum(r.restart_s for r in rounds) / len(rounds), 3),
        "seconds": round(time.monotonic() - t0, 1),
        "seed": args.seed,
        "dir": str(work),
    }
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
