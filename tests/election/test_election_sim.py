"""Elections of 3 and 5 servers (and an observer) under schedules hypothesis chooses, in the
in-memory network: delivery orders, dial refusals, early timers, crashes, restarts, partitions.

After every step the spec's election invariants hold (ElectionSim.check).  Once the faults
stop, every live server settles on one leader, and that leader is the best vote of a quorum
(a restarted server joins the running leader rather than forcing its own better vote).
While no timer fires early (every finalize wait sees what was sent), no round has two leaders.
"""

from __future__ import annotations

from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zk_twisted.election.messages import ServerState
from zk_twisted.testing.election_sim import ElectionSim

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ensembles(n: int, observers: tuple[int, ...] = ()):
    vote = st.tuples(st.integers(0, 2), st.integers(0, 3)).map(lambda t: (t[0], (t[0] << 32) | t[1]))
    return st.builds(
        lambda votes, seed, faults, rate: (dict(zip(range(1, n + 1), votes, strict=True)), observers, seed, faults, rate),
        st.lists(vote, min_size=n, max_size=n),
        st.integers(0, 2**32),
        st.integers(0, 600),
        st.sampled_from([0.0, 0.02, 0.1]),
    )


def run(case, max_calm_steps=30000):
    votes, observers, seed, fault_steps, rate = case
    sim = ElectionSim(votes, observers, seed=seed)
    for _ in range(fault_steps):
        sim.step(rate)
        sim.check()
    sim.stop_faults()
    sim.check()
    calm_start = len(sim.decisions)
    for _ in range(max_calm_steps):
        if sim.settled() is not None and not [e for e in sim.net.events() if e.kind != "timer"]:
            break
        assert sim.step(), "nothing can happen and no leader"
        sim.check()
    leader = sim.settled()
    assert leader is not None, f"no leader after the faults stopped: {sim.net.trace[-30:]}"

    # the leader is the best vote of some quorum of voters
    best = sim.init_vote(leader)
    below = {s for s in votes if sim.init_vote(s) <= best}
    assert sim.verifier.contains_quorum(below), (leader, votes)
    # observers observe, they never lead
    for o in observers:
        assert sim.nodes[o].fle.state == ServerState.OBSERVING
    # calm phase: in a round, every server that decided LEADING is the same one
    leading = defaultdict(set)
    for d in sim.decisions[calm_start:]:
        if d.state == ServerState.LEADING:
            leading[d.round].add(d.sid)
    assert all(len(v) == 1 for v in leading.values()), dict(leading)
    return sim


@SETTINGS
@given(ensembles(3))
def test_three_servers(case):
    run(case)


@SETTINGS
@given(ensembles(5))
def test_five_servers(case):
    run(case)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ensembles(3, observers=(4,)))
def test_three_servers_and_an_observer(case):
    run(case)


def test_fault_free_start_elects_the_best_vote():
    votes = {1: (1, 0x100000007), 2: (2, 0x200000001), 3: (2, 0x200000001)}
    sim = run((votes, (), 7, 0, 0.0))
    assert sim.settled() == 3  # epoch 2 beats zxid; equal (epoch, zxid): larger sid


def test_restarted_follower_joins_the_running_leader_without_a_new_round():
    votes = {1: (1, 0x100000009), 2: (1, 0x100000001), 3: (1, 0x100000001)}
    sim = run((votes, (), 3, 0, 0.0))
    assert sim.settled() == 1
    rounds = {s: sim.nodes[s].fle.logicalclock for s in (1, 2)}
    sim.crash(3)
    sim.restart(3)
    for _ in range(2000):
        if sim.nodes[3].fle.state != ServerState.LOOKING:
            break
        sim.step()
    assert sim.nodes[3].fle.state == ServerState.FOLLOWING and sim.nodes[3].fle.current_vote.leader == 1
    assert {s: sim.nodes[s].fle.logicalclock for s in (1, 2)} == rounds  # 1 and 2 never looked again
    assert sim.nodes[3].fle.logicalclock == rounds[1]  # 3 took the running ensemble's round
