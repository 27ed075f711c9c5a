"""SIGKILL under write load: after every restart each acknowledged write is there, exactly.

A short version of ``bench/crash_loop.py`` (which does 20+ kills): a few kills at random
moments while three kazoo sessions write, with snapshots frequent enough (snapCount=300)
that kills land during snapshots and right after log rolls too.
"""

from __future__ import annotations

import random

from crashload import EnsembleTarget, crash_round, start_writers, stop_writers
from zkharness import ZKEnsemble, ZKProcess, four_letter


def test_acknowledged_writes_survive_sigkill(tmp_path):
    server = ZKProcess(tmp_path / "zk", extra={"snapCount": "300"}).start()
    try:
        writers, checker = start_writers(server.hosts, 3, seed=1)
    except BaseException:
        server.stop()
        raise
    rng = random.Random(2)
    try:
        checked = 0
        for _ in range(4):
            result = crash_round(server, writers, checker, rng)
            assert result.problems == [], result.problems
            checked += result.exact + result.resolved
        assert sum(w.confirmed_writes for w in writers) > 100
        assert checked > 100
    finally:
        stop_writers(writers, checker)
        server.stop()


def test_acknowledged_writes_survive_sigkill_of_ensemble_members(tmp_path):
    """The same rounds against a 3-member ensemble: the leader or a follower killed each time."""
    ens = ZKEnsemble(tmp_path / "ens", 3, extra={"snapCount": "300"}).start()
    rng = random.Random(3)
    target = EnsembleTarget(ens, rng)
    try:
        writers, checker = start_writers(ens.hosts, 3, seed=4)
    except BaseException:
        ens.stop()
        raise
    try:
        for _ in range(4):
            result = crash_round(target, writers, checker, rng)
            assert result.problems == [], result.problems
        assert sum(w.confirmed_writes for w in writers) > 50
        assert [kind for _, kind in target.kills] == ["leader", "follower"] * 2
        for i, m in ens.members.items():
            assert "zk_digest_mismatches_count\t0" in four_letter(m.port, "mntr"), f"member {i}"
    finally:
        stop_writers(writers, checker)
        ens.stop()
