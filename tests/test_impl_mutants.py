"""Implementation mutants (zk_twisted.testing.mutants): every seeded bug is caught.

The catalogue (conformance.mutants) runs once per session: each mutant applied in turn,
its detectors tried until one catches it (a seeded schedule search of the whole-node
simulation that breaks an invariant, or a probe of one handler); then the same searches, as
far as any mutant needed, and the same probes on the unmutated code, which must find
nothing.  The tests below read that one run.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conformance.mutants import DETECTORS, PROBES, Detector, run_catalogue, run_probe, run_schedule
from zk_twisted.election import fle
from zk_twisted.quorum import epochs, leader, learner
from zk_twisted.quorum.packets import PacketType
from zk_twisted.testing.mutants import MUTANTS, active, mutant

#: what must catch each mutant: the detector, and the invariant or probe that fails
EXPECTED = {
    "follower_ack_before_fsync": ("search:followers_unflushed", "leader_completeness"),
    "leader_commit_without_quorum": ("search:isolated_leader", "leader_completeness"),
    "follower_accepts_older_epoch_proposal": ("probe:older_epoch_proposal", "probe:older_epoch_proposal"),
    "trunc_skipped": ("search:truncated_leader", "leader_completeness"),
    "current_epoch_before_sync_durable": ("search:lagging_follower", "epoch_history"),
    "record_zxid_before_apply": ("probe:record_before_apply", "probe:record_before_apply"),
    "votes_without_peer_epoch": ("search:election_votes", "VoteNeverBelowOwn"),
    "non_atomic_epoch_file": ("search:epoch_power_cuts", "restartable"),
    "newleader_ack_before_sync_logged": ("search:resync_unlogged", "leader_completeness"),
    "leader_keeps_stale_acks": ("search:reconnect_truncated", "leader_completeness"),
}


@pytest.fixture(scope="module")
def catalogue():
    return run_catalogue()


def test_the_catalogue_is_the_issue_s():
    """The nine bugs issue 13 names (and one more), each with its detectors and an
    expectation here."""
    assert set(MUTANTS) == set(DETECTORS) == set(EXPECTED)
    assert {m.bug for m in MUTANTS.values()} >= {
        "ZOOKEEPER-4394 / 4643 / 4646",
        "ZOOKEEPER-2355",
        "ZOOKEEPER-1419",
        "ZOOKEEPER-1653",
        "ZOOKEEPER-4685 / 4712",
    }


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_is_caught(catalogue, name):
    r = next(r for r in catalogue["mutants"] if r["mutant"] == name)
    assert r["caught"], r
    detector, by = EXPECTED[name]
    assert (r["catch"]["detector"], r["catch"]["by"]) == (detector, by), r["catch"]


def test_kill_rate_is_total(catalogue):
    assert catalogue["kill_rate"] == 1.0 and catalogue["caught"] == len(MUTANTS)


def test_unmutated_code_passes_the_same_searches(catalogue):
    """Not a checker that always fires: the schedules that caught the mutants, and those
    before them, and every probe, pass on the real code."""
    base = catalogue["baseline"]
    assert base["false_alarms"] == []
    searches = {d for d, _ in EXPECTED.values() if d.startswith("search:")}
    assert base["schedules"] >= 10 * len(searches)
    assert base["probes"] == len(PROBES)


@pytest.mark.parametrize(
    ("probe", "name"),
    [
        ("older_epoch_proposal", "follower_accepts_older_epoch_proposal"),
        ("record_before_apply", "record_zxid_before_apply"),
        ("epoch_file_power_cut", "non_atomic_epoch_file"),
    ],
)
def test_each_probe_bites_its_mutant(probe, name):
    """The probes pass on the real code and fail under their mutant (the epoch-file probe
    is the second detector of non_atomic_epoch_file, after the simulation's power cuts)."""
    assert run_probe(probe) is None
    with mutant(name):
        c = run_probe(probe)
    assert c is not None and c.by == f"probe:{probe}"


def _patch_points() -> tuple:
    """What the two mutants below patch, as they stand now."""
    return (
        learner.Learner.handle_TRUNC,
        learner._HANDLERS[PacketType.TRUNC],
        leader.Leader.process_ack,
        fle.FastLeaderElection._better,
        epochs.write_file_durably,
    )


def test_a_mutant_is_undone_after_its_block():
    """Patched while the block runs (dispatch table included), restored after, even when
    the block raises; nothing active outside."""
    before = _patch_points()
    with pytest.raises(RuntimeError):
        with mutant("trunc_skipped"), mutant("non_atomic_epoch_file"):
            assert active() == ("trunc_skipped", "non_atomic_epoch_file")
            assert learner._HANDLERS[PacketType.TRUNC] is not before[1]
            assert learner.Learner.handle_TRUNC is learner._HANDLERS[PacketType.TRUNC]
            assert epochs.write_file_durably is not before[4]
            raise RuntimeError("the block fails")
    after = _patch_points()
    assert after == before and active() == ()


def test_a_search_reproduces_its_catch():
    """A catch names a seed: the same schedule breaks the same invariant at the same step."""
    with mutant("follower_ack_before_fsync"):
        a = Detector("search", "power_after_writes", 60).run()  # a random family, not a directed one
        b = Detector("search", "power_after_writes", 1, first=a.seed).run()
    assert a is not None and b is not None
    assert (b.seed, b.by, b.step, b.detail) == (a.seed, a.by, a.step, a.detail)


def test_cli_prints_the_catalogue_as_json():
    out = subprocess.run(
        [
            sys.executable, "-m", "conformance", "mutants",
            "--only", "leader_commit_without_quorum", "trunc_skipped", "--no-baseline",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out.stdout)
    assert doc["kill_rate"] == 1.0 and doc["total"] == 2
    assert [m["mutant"] for m in doc["mutants"]] == ["leader_commit_without_quorum", "trunc_skipped"]
    assert all(m["catch"]["by"] for m in doc["mutants"]) and "baseline" not in doc


def test_schedule_that_found_a_node_bug():
    """crash_ackers seed 257, unmutated: a learner whose log held only a dead leader's first
    proposal of epoch 1 could not TRUNC to <<1, 0>>, and the ensemble looped through
    elections without converging (now: persistence.truncate drops the whole log)."""
    assert run_schedule("crash_ackers", 257) is None
