"""A QuorumPeer's role is a child service for as long as it runs (issue 11: roles swapped in
and out), driven in the deterministic simulation: the same peer code twistd runs."""

from __future__ import annotations

from zk_twisted.election.messages import ServerState
from zk_twisted.quorum.peer import ElectionRound, Role
from zk_twisted.testing.simulation import Simulation


def _all_serving(sim: Simulation) -> bool:
    return sim.leader() is not None and all(n.serving for n in sim.nodes.values() if n.alive)


def test_the_role_is_a_child_service_while_it_runs_and_gone_after():
    with Simulation(3, seed=21) as sim:
        # LOOKING: the election round is the one child
        for n in sim.nodes.values():
            assert [type(c) for c in n.peer] == [ElectionRound]
            assert n.peer.getServiceNamed("election").running
        sim.run(5000, done=lambda: _all_serving(sim))
        assert _all_serving(sim)
        roles = {}
        for sid, n in sim.nodes.items():
            role = n.peer.role
            assert isinstance(role, Role) and role.running
            assert list(n.peer) == [role] and n.peer.getServiceNamed("role") is role
            roles[sid] = role
        old_leader = sim.leader().sid
        sim.crash(old_leader)
        sim.run(5000, done=lambda: sim.leader() is not None and sim.leader().sid != old_leader)
        sim.run(5000, done=lambda: _all_serving(sim))
        assert _all_serving(sim)
        for sid, n in sim.nodes.items():
            if sid == old_leader:
                continue
            old = roles[sid]
            # the follower's role ended with its leader: stopped and removed, a new one runs
            assert not old.running and old.parent is None and old.done.called
            assert n.peer.role is not old and list(n.peer) == [n.peer.role] and n.peer.role.running


def test_stopping_the_peer_stops_its_role_first():
    with Simulation(3, seed=22) as sim:
        sim.run(5000, done=lambda: _all_serving(sim))
        n = next(x for x in sim.nodes.values() if x.serving_as == ServerState.FOLLOWING)
        peer, role = n.peer, n.peer.role
        stopped = peer.stopService()
        # the role's teardown runs on the reactor: the peer's Deferred waits for it
        assert not stopped.called and role.ended == "the server is shutting down"
        sim.clock.advance(0)
        sim.run(200, done=lambda: stopped.called)
        assert stopped.called and role.done.called
        assert not role.running and list(peer) == [] and peer.role is None
