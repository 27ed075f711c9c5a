"""Whole ensemble members under hypothesis-chosen schedules (zk_twisted.testing.simulation).

Real QuorumPeers (election, roles, ZAB cores, request chains, storage in temp dirs, the
Twisted protocols of all three ports) on one Clock and an in-memory network.  Hypothesis
draws the fault plan (crashes, restarts, partitions, heals, connection cuts, client writes
at any member, each at a chosen step) and the seed that orders every delivery, fsync and
timer.  After every step ``Simulation.check`` asserts: at most one established leader per
epoch, every serving member's applied history prefix-consistent with the committed history
seen so far, no acknowledged write missing at a later epoch's leader.  Then the faults
stop and every member must converge (same tree, all acknowledged writes) within a bound.
"""

from __future__ import annotations

import logging
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zk_twisted.testing.simulation import Fault, SafetyViolation, Simulation, random_plan

STEPS = 400
SETTLE_STEPS = 5000


@pytest.fixture(autouse=True)
def _quiet_logs():
    """The nodes log every role change; at INFO the suite would spend its time formatting."""
    logger = logging.getLogger("zk_twisted")
    old = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(old)


def faults(n: int) -> st.SearchStrategy[Fault]:
    sid = st.integers(1, n)
    pair = st.lists(sid, min_size=2, max_size=2, unique=True).map(tuple)
    one = sid.map(lambda s: (s,))
    return st.one_of(
        st.builds(Fault, st.just("crash"), one),
        st.builds(Fault, st.just("restart"), one),
        st.builds(Fault, st.just("partition"), pair),
        st.builds(Fault, st.just("heal"), pair),
        st.builds(Fault, st.just("cut"), st.integers(0, 31).map(lambda i: (i,))),
        st.builds(Fault, st.just("write"), one),
        st.builds(Fault, st.just("write"), one),
        st.just(Fault("power")),
    )


def plans(n: int) -> st.SearchStrategy:
    return st.lists(st.tuples(st.integers(0, STEPS - 1), faults(n)), max_size=14).map(
        lambda p: sorted(p, key=lambda x: x[0])
    )


#: how often the disk's fsync is the event chosen, relative to a delivery (a slow disk
#: keeps txns acknowledged-but-volatile for long: what crash and power faults then test)
DISKS = st.sampled_from([1.0, 0.1, 0.01])


def run_schedule(voters: int, observers: int, seed: int, plan, disk: float = 1.0) -> Simulation:
    sim = Simulation(voters, observers, seed=seed, weights={"fsync": disk})
    try:
        sim.run(STEPS, plan=plan)
        sim.settle(SETTLE_STEPS)
        sim.check()
        # converged: every live member has every acknowledged write
        for n in sim.nodes.values():
            for o in sim.acked:
                assert n.db.tree.get_node(o.path) is not None, (n.sid, o)
    finally:
        sim.close()
    return sim


#: derandomized: the suite runs the same schedules every time (a red CI names a regression,
#: not a lucky draw); bench/ensemble_sim.py explores new seeds
SCHEDULE_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@settings(max_examples=700, **SCHEDULE_SETTINGS)
@given(seed=st.integers(0, 2**32 - 1), plan=plans(3), disk=DISKS)
def test_three_members_under_random_schedules(seed, plan, disk):
    run_schedule(3, 0, seed, plan, disk)


@settings(max_examples=250, **SCHEDULE_SETTINGS)
@given(seed=st.integers(0, 2**32 - 1), plan=plans(5), disk=DISKS)
def test_five_members_under_random_schedules(seed, plan, disk):
    run_schedule(5, 0, seed, plan, disk)


@settings(max_examples=100, **SCHEDULE_SETTINGS)
@given(seed=st.integers(0, 2**32 - 1), plan=plans(5), disk=DISKS)
def test_four_voters_and_an_observer_under_random_schedules(seed, plan, disk):
    run_schedule(4, 1, seed, plan, disk)


def test_same_seed_same_run():
    """A seed and a plan reproduce a run exactly: the trace, the epochs, the databases."""

    def once():
        sim = Simulation(3, seed=1234)
        try:
            plan = random_plan(random.Random(99), sim.sids, STEPS, 14)
            sim.run(STEPS, plan=plan)
            sim.settle(SETTLE_STEPS)
            return (
                sim.trace,
                dict(sim.leaders),
                [(o.path, o.state) for o in sim.clients],
                {s: (n.db.tree.digest(), n.history) for s, n in sim.nodes.items()},
            )
        finally:
            sim.close()

    a, b = once(), once()
    assert len(a[0]) > 200 and a[1]  # a real run: many steps, a leader elected
    assert a == b


_REPLAY = """
import hashlib, logging, random
logging.getLogger("zk_twisted").setLevel(logging.CRITICAL)
from zk_twisted.testing.simulation import Simulation, random_plan
sim = Simulation(5, seed=77)
try:
    sim.run(400, plan=random_plan(random.Random(77), sim.sids, 400, 14, power=True))
    sim.settle(20000)
    text = "|".join(sim.trace) + repr(sorted((s, n.db.tree.digest()) for s, n in sim.nodes.items()))
finally:
    sim.close()
print(hashlib.sha1(text.encode()).hexdigest())
"""


def test_same_seed_same_run_in_another_process():
    """Nothing depends on object addresses or string hashing: another process, with another
    PYTHONHASHSEED, replays the same run (what a conformance runner replaying a trace needs)."""
    import os
    import subprocess
    import sys

    runs = [
        subprocess.run(
            [sys.executable, "-c", _REPLAY],
            env={**os.environ, "PYTHONHASHSEED": str(h)},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.strip()
        for h in (1, 2)
    ]
    assert len(runs[0]) == 40 and runs[0] == runs[1]


def test_checks_fail_on_a_forged_state():
    """Each safety check can fail: a second leader in an epoch, a member whose applied
    history disagrees with the committed one, a leader without the txns committed before its
    epoch, a member restarting with a currentEpoch its data dir lags, an acknowledged write
    a leader lacks."""
    with Simulation(3, seed=3) as sim:
        sim.settle(SETTLE_STEPS)
        for _ in range(5):  # a dial may be refused (the schedule chooses): write again
            o = sim.write(sim.leader().sid)
            sim.settle(SETTLE_STEPS)
            if o.state == "acked":
                break
        assert o.state == "acked"
        leader = sim.leader()
        follower = next(n for n in sim.nodes.values() if n is not leader)
        with pytest.raises(SafetyViolation, match="two leaders"):
            sim._established(follower, leader.serving_epoch, leader.serving_as)
        zxid, *rest = follower.history[-1]
        follower.history[-1] = (zxid, rest[0], rest[1] + 1, rest[2])
        with pytest.raises(SafetyViolation, match="committed history"):
            sim.check()
        follower.history[-1] = (zxid, *rest)
        sim.check()
        epoch = leader.serving_epoch
        leader.serving_epoch, saved = epoch + 1, list(leader.history)
        del leader.history[-1]
        with pytest.raises(SafetyViolation, match="lacks committed txns") as e:
            sim.check()
        assert e.value.invariant == "leader_completeness"
        leader.serving_epoch, leader.history[:] = epoch, saved
        sim.check()
        follower.peer.epochs.current_epoch = epoch + 1
        follower.peer.db.tree.last_processed_zxid = o.zxid - 1
        with pytest.raises(SafetyViolation, match="restarted with currentEpoch") as e:
            sim._check_epoch_history(follower)
        assert e.value.invariant == "epoch_history"
        follower.peer.db.tree.last_processed_zxid = o.zxid
        sim._check_epoch_history(follower)
        leader.db.tree.get_node = lambda path: None
        with pytest.raises(SafetyViolation, match="acknowledged write"):
            sim.check()


def test_different_seeds_differ():
    """The seed really chooses the schedule (the determinism test above is not vacuous)."""
    traces = set()
    for seed in (1, 2):
        sim = Simulation(3, seed=seed)
        try:
            sim.run(200)
            traces.add(tuple(sim.trace))
        finally:
            sim.close()
    assert len(traces) == 2


def _write_then_lose_power(ack_before_fsync: bool):
    """A write through the leader while no disk flushes, then every member crashes."""
    sim = Simulation(3, seed=5, ack_before_fsync=ack_before_fsync)
    try:
        sim.settle(SETTLE_STEPS)
        o = sim.write(sim.leader().sid)
        sim.run(
            3000,
            done=lambda: o.state not in ("connecting", "session", "sent"),
            allow=lambda e: e.kind != "fsync",
        )
        for s in sim.sids:
            sim.crash(s)
        sim.settle(SETTLE_STEPS)
        return o
    finally:
        sim.close()


def test_seeded_bug_ack_before_fsync_is_caught():
    """The checks can fail: with the Sync stage reporting txns durable before their fsync
    (the seeded bug), a write the client saw acknowledged is gone after a power loss."""
    assert _write_then_lose_power(False).state != "acked"  # without fsync nothing is acked
    # lost: the next leader lacks the committed txn (leader completeness says so as soon as
    # it serves, before the acknowledged-write check would)
    with pytest.raises(SafetyViolation, match="acknowledged write /w1|lacks committed txns") as e:
        _write_then_lose_power(True)
    assert e.value.invariant in ("no_acked_write_lost", "leader_completeness")


def _isolated_leader_write(lone_quorum: bool):
    """Cut the leader off from both followers, write through it, crash it, let the rest go on."""
    sim = Simulation(3, seed=8, lone_quorum=lone_quorum)
    try:
        sim.settle(SETTLE_STEPS)
        leader = sim.leader().sid
        for s in sim.sids:
            sim.partition(leader, s)
        o = sim.write(leader)
        sim.run(3000, done=lambda: o.state not in ("connecting", "session", "sent"))
        sim.crash(leader)
        sim.settle(SETTLE_STEPS)
        return o
    finally:
        sim.close()


def test_seeded_bug_commit_without_quorum_is_caught():
    """With a leader that takes its own ACK for a quorum (the seeded bug), an isolated
    leader acknowledges a write the rest of the ensemble never had."""
    assert _isolated_leader_write(False).state != "acked"
    # the bug breaks the ensemble more than one way: the write the isolated leader acked is
    # missing from the next leader, or the survivors (each its own "quorum") never settle
    with pytest.raises(SafetyViolation, match="acknowledged write /w1|lacks committed txns|no convergence"):
        _isolated_leader_write(True)


def _power_loss_schedule(seed: int, ack_before_fsync: bool) -> None:
    """Writes, each followed within a few dozen steps by a whole-ensemble power loss, on a
    slow disk (an fsync is rarely the event chosen)."""
    rng = random.Random(seed)
    sim = Simulation(3, seed=seed, ack_before_fsync=ack_before_fsync, weights={"fsync": 0.002})
    plan = []
    for _ in range(3):
        at = rng.randrange(STEPS)
        plan.append((at, Fault("write", (rng.choice(sim.sids),))))
        plan.append((at + rng.randrange(5, 40), Fault("power")))
    try:
        sim.run(STEPS, plan=sorted(plan, key=lambda p: p[0]))
        sim.settle(SETTLE_STEPS)
    finally:
        sim.close()


def test_random_schedules_find_the_seeded_bug():
    """Random schedules, not a directed one, find the seeded bug within a few dozen seeds;
    the schedule that finds it passes once the bug is gone."""
    found = None
    for seed in range(80):
        try:
            _power_loss_schedule(seed, ack_before_fsync=True)
        except SafetyViolation as e:
            found = seed
            assert e.invariant in ("no_acked_write_lost", "leader_completeness"), e
            break
    assert found is not None, "no schedule lost an acknowledged write under ack-before-fsync"
    _power_loss_schedule(found, ack_before_fsync=False)


def test_bench_ensemble_sim_runs():
    """bench/ensemble_sim.py keeps working: a tiny run prints its JSON."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "bench" / "ensemble_sim.py"
    out = subprocess.run(
        [sys.executable, str(script), "-n", "2", "--nodes", "3,4+1", "--steps", "100"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    sizes = json.loads(out)["sizes"]
    assert sizes["3"]["schedules"] == 2 and sizes["3"]["steps"] > 100
    assert sizes["4+1"]["leaders_established"] >= 2 and not sizes["4+1"]["failures"]


@pytest.mark.parametrize(
    ("seed", "size"),
    [
        # a follower synced by SNAP saved the new epoch's snapshot, then crashed before writing
        # currentEpoch: its data dir would not start again (now: 3.8's updatingEpoch mark)
        (333, "5"),
        # a client reached a follower whose role had just ended: forwarding raised inside
        # dataReceived (now: a role's end stops its clients at once)
        (26, "3"),
    ],
)
def test_schedules_that_found_node_bugs(seed, size):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from ensemble_sim import one

    sim, failure = one(seed, size, 400, 14)
    assert failure is None, failure
    assert not sim.net.unhandled, sim.net.unhandled
