"""Elections of 3 and 5 servers (and an observer) under schedules hypothesis chooses, in the
in-memory network: delivery orders, dial refusals, early timers, crashes, restarts, partitions.

After every step the spec's election invariants hold (ElectionSim.check).  Once the faults
stop, every live server settles on one leader, and that leader is the best vote of a quorum
(a restarted server joins the running leader rather than forcing its own better vote).
Without faults (and so without early timers: every finalize wait sees what was sent) there
is one round, one leader, the best vote of all, and one decision per server.

FastLeaderElection alone does not promise one leader per round: a timer firing before a
better vote arrives (a delay beyond finalizeWait) or logical clocks restarting at 1 after a
crash let two servers decide LEADING in the same round number; ZAB's epochs settle that.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zk_twisted.election.messages import ServerState
from zk_twisted.testing.election_sim import ElectionSim

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ensembles(n: int, observers: tuple[int, ...] = ()):
    # (currentEpoch, last zxid); the zxid's epoch may be older than currentEpoch (a server that
    # took a new epoch and logged nothing in it), so the order by peerEpoch first matters
    vote = st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 3)).map(
        lambda t: (t[0], (min(t[0], t[1]) << 32) | t[2])
    )
    return st.builds(
        lambda votes, seed, faults, rate: (dict(zip(range(1, n + 1), votes, strict=True)), observers, seed, faults, rate),
        st.lists(vote, min_size=n, max_size=n),
        st.integers(0, 2**32),
        st.integers(0, 600),
        st.sampled_from([0.0, 0.02, 0.1]),
    )


def run(case, max_calm_steps=30000, **kw):
    votes, observers, seed, fault_steps, rate = case
    sim = ElectionSim(votes, observers, seed=seed, **kw)
    for _ in range(fault_steps):
        sim.step(rate)
        sim.check()
    sim.stop_faults()
    sim.check()
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
    if rate == 0 or fault_steps == 0:
        # no fault at all, every finalize wait saw what was sent: one round, one leader, the
        # best vote of all, and each server decided once
        assert len(sim.decisions) == len(sim.nodes), sim.decisions
        assert [d.sid for d in sim.decisions if d.state == ServerState.LEADING] == [leader]
        assert {d.leader for d in sim.decisions} == {leader} and {d.round for d in sim.decisions} == {1}
        assert best == max(sim.init_vote(s) for s in votes if sim.verifier.weight(s) > 0)
    return sim


@SETTINGS
@given(ensembles(3))
def test_three_servers(case):
    run(case)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ensembles(5))
def test_five_servers(case):
    run(case)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ensembles(3, observers=(4,)))
def test_three_servers_and_an_observer(case):
    run(case)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ensembles(5), st.lists(st.integers(0, 2), min_size=5, max_size=5))
def test_five_servers_in_weighted_groups(case, weights):
    """group.1=1:2:3 group.2=4:5 with weights 0..2: a weight-0 server never leads."""
    weights = dict(zip(range(1, 6), weights, strict=True))
    if sum(weights[s] for s in (1, 2, 3)) == 0:
        weights[1] = 1
    sim = run(case, groups={1: (1, 2, 3), 2: (4, 5)}, weights=weights)
    assert sim.verifier.weight(sim.settled()) > 0


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
