"""Schedule families for the implementation-mutant searches (:mod:`conformance.mutants`).

Each family maps a seed to one whole-node simulation schedule, reproducible from the seed.
Random families are a Simulation and a fault plan (and optionally a per-step hook that
injects faults by the nodes' state: crash points); directed ones run the phases of a
scenario themselves, the seed choosing the events within each phase.  :func:`run_schedule`
runs one and returns the :class:`~zk_twisted.testing.simulation.SafetyViolation` it raised
(with ``step``), or None.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable

from zk_twisted.quorum.packets import make_zxid
from zk_twisted.testing.simulation import Fault, SafetyViolation, Simulation, random_plan

__all__ = ["FAMILIES", "STEPS", "SETTLE_STEPS", "run_schedule"]

STEPS = 400
SETTLE_STEPS = 5000


def _violation(message: str, invariant: str, step: int) -> SafetyViolation:
    v = SafetyViolation(message, invariant=invariant)
    v.step = step
    return v


def _checked(sim: Simulation, body: Callable[[], object]) -> SafetyViolation | None:
    """Run ``body`` (a schedule on ``sim``), then :meth:`Simulation.check` unless it returned
    False (the seed's run did not reach the scenario); -> the SafetyViolation raised, with
    ``step``, or None.  The simulation is closed either way."""
    try:
        if body() is not False:
            sim.check()
    except SafetyViolation as e:
        e.step = sim.steps
        return e
    finally:
        sim.close()
    return None


def _directed(weights: dict | None = None) -> Callable:
    """A directed family: ``body(sim, rng)`` runs the phases of its scenario on 3 voters
    (``weights``: the event weights), the seed choosing the events within each, and returns
    False when the run did not reach the scenario; -> seed -> :func:`_checked`'s answer."""

    def wrap(body: Callable[[Simulation, random.Random], object]) -> Callable[[int], SafetyViolation | None]:
        @functools.wraps(body)
        def family(seed: int) -> SafetyViolation | None:
            sim = Simulation(3, seed=seed, **({"weights": weights} if weights else {}))
            rng = random.Random(seed)
            return _checked(sim, lambda: body(sim, rng))

        return family

    return wrap


def _power_after_writes(seed: int) -> tuple[Simulation, list]:
    """3 voters on a slow disk; writes, each followed within a few dozen steps by a crash of
    one member or a power loss of all (what loses txns acknowledged but not yet durable)."""
    rng = random.Random(seed)
    sim = Simulation(3, seed=seed, weights={"fsync": rng.choice([0.3, 0.05, 0.01])})
    plan = []
    for _ in range(4):
        at = rng.randrange(STEPS)
        plan.append((at, Fault("write", (rng.choice(sim.sids),))))
        crash = Fault("power") if rng.random() < 0.6 else Fault("crash", (rng.choice(sim.sids),))
        plan.append((at + rng.randrange(3, 40), crash))
        if crash.kind == "crash":
            plan.append((at + rng.randrange(40, 120), Fault("restart", crash.args)))
    return sim, sorted(plan, key=lambda p: p[0])


def _random_faults(seed: int) -> tuple[Simulation, list]:
    """bench/ensemble_sim.py's schedules: 3 voters, any fault (power losses too), any disk."""
    rng = random.Random(seed)
    sim = Simulation(3, seed=seed, weights={"fsync": rng.choice([1.0, 0.1, 0.01])})
    return sim, random_plan(rng, sim.sids, STEPS, 14, power=True)


def _isolated_leader(seed: int) -> tuple[Simulation, list]:
    """3 voters; once a leader serves it is cut off from both followers, a client writes
    through it, and it crashes: what a lone leader acknowledged, nobody else has."""
    rng = random.Random(seed)
    sim = Simulation(3, seed=seed)
    sim.run(SETTLE_STEPS, done=lambda: sim.leader() is not None)
    plan = []
    if sim.leader() is not None:
        lead = sim.leader().sid
        at = rng.randrange(0, 20)
        plan = [(at, Fault("partition", (lead, s))) for s in sim.sids if s != lead]
        plan += [(at + 1, Fault("write", (lead,))), (at + rng.randrange(30, 200), Fault("crash", (lead,)))]
    return sim, plan


def _epoch_power_cuts(seed: int) -> tuple[Simulation, list]:
    """3 voters under crashes, writes and power cuts in the middle of an epoch-file write
    (before its 1st, 2nd or 3rd file operation), each member restarting later: a data dir
    must start again whatever the cut left."""
    rng = random.Random(seed)
    sim = Simulation(3, seed=seed)
    plan = []
    for _ in range(5):
        at, s = rng.randrange(STEPS - 50), rng.choice(sim.sids)
        plan.append((at, Fault("cut_epoch", (s, rng.randint(1, 3)))))
        plan.append((at + rng.randrange(20, 80), Fault("restart", (s,))))
        other = rng.choice([x for x in sim.sids if x != s])
        plan.append((at + rng.randrange(1, 20), Fault("crash", (other,))))  # a new epoch follows
        plan.append((at + rng.randrange(20, 80), Fault("restart", (other,))))
    for _ in range(3):
        plan.append((rng.randrange(STEPS), Fault("write", (rng.choice(sim.sids),))))
    return sim, sorted(plan, key=lambda p: p[0])


def _crash_in_sync(seed: int, ackers: bool = False) -> tuple[Simulation, list, Callable]:
    """3 voters on a slow disk, writes and crashes; and crash points: a learner between
    NEWLEADER and the fsync of what it synced crashes (often), and a leader that has just
    established crashes (sometimes), each restarting a little later.  What an order of
    "durable, then currentEpoch, then ACK" at NEWLEADER is there to survive.  ``ackers``:
    also a follower whose ACK of a proposal the leader holds, uncommitted, crashes and
    restarts at once (it comes back to the same leader, whose sync may TRUNCate it)."""
    rng = random.Random(seed)
    sim = Simulation(3, seed=seed, weights={"fsync": rng.choice([0.2, 0.05, 0.02])})
    plan = []
    for _ in range(6):
        at = rng.randrange(STEPS)
        plan.append((at, Fault("write", (rng.choice(sim.sids),))))
    for _ in range(3):
        at, s = rng.randrange(STEPS - 60), rng.choice(sim.sids)
        plan += [(at, Fault("crash", (s,))), (at + rng.randrange(20, 150), Fault("restart", (s,)))]
    crash_at: dict[int, list[int]] = {}
    restart_at: dict[int, list[int]] = {}
    leaders_seen: set = set()

    def later(table: dict, at: int, sid: int) -> None:
        table.setdefault(at, []).append(sid)

    def hook(i: int) -> None:
        for sid in crash_at.pop(i, ()):
            if sim.nodes[sid].alive:
                sim.crash(sid)
                later(restart_at, i + rng.randrange(10, 80), sid)
        for sid in restart_at.pop(i, ()):
            sim.restart(sid)
        for sid, n in sim.nodes.items():
            role = n.peer.role if n.peer is not None else None
            core = role.core if role is not None else None
            if core is None:
                continue
            # past NEWLEADER, with the txns of the sync not yet durable (none reported
            # durable in this role: the right order serves only after they are)
            synced_volatile = getattr(core, "newleader_zxid", None) is not None and (
                core.zab_state == "SYNCHRONIZATION" or core.durable_zxid < 0
            )
            if synced_volatile and n.pending_fsync() and rng.random() < 0.3:
                sim.crash(sid)
                later(restart_at, i + rng.randrange(5, 60), sid)
            elif n.serving and n.serving_as.name == "LEADING" and (sid, n.serving_epoch) not in leaders_seen:
                leaders_seen.add((sid, n.serving_epoch))
                if rng.random() < 0.3:
                    later(crash_at, i + rng.randrange(1, 10), sid)
            elif ackers and n.serving and n.serving_as.name == "LEADING":
                acked = {a for p in core.outstanding.values() for a in p.acks if a != sid}
                for f in sorted(acked):
                    if sim.nodes[f].alive and rng.random() < 0.2:
                        sim.crash(f)
                        later(restart_at, i + rng.randrange(1, 5), f)

    return sim, plan, hook


def _election_votes(seed: int) -> SafetyViolation | None:
    """The elections alone (:class:`~zk_twisted.testing.election_sim.ElectionSim`: the real
    election stacks, a stand-in for the roles) of 3 or 5 voters whose (currentEpoch, last
    zxid) are drawn so that the two orders disagree (a later epoch with an older zxid), under
    faults; after every step the spec's election invariants (VoteNeverBelowOwn,
    OwnVoteRecorded), then a leader that is the best vote of a quorum."""
    from zk_twisted.testing.election_sim import ElectionSim

    rng = random.Random(seed)
    n = rng.choice([3, 5])
    votes = {}
    for sid in range(1, n + 1):
        epoch = rng.randint(0, 3)
        votes[sid] = (epoch, make_zxid(min(epoch, rng.randint(0, 3)), rng.randint(0, 4)))
    sim = ElectionSim(votes, seed=seed)
    step = 0
    try:
        for _ in range(rng.randrange(0, 300)):
            step += 1
            sim.step(0.05)
            sim.check()
        sim.stop_faults()
        for _ in range(20000):
            if sim.settled() is not None and not [e for e in sim.net.events() if e.kind != "timer"]:
                break
            step += 1
            if not sim.step():
                break
            sim.check()
    except AssertionError as e:
        return _violation(f"election: {e}", str(e).split(":")[0], step)
    leader = sim.settled()
    if leader is None:
        return _violation(f"election: no leader once the faults stopped ({votes})", "convergence", step)
    best = sim.init_vote(leader)
    if not sim.verifier.contains_quorum({s for s in votes if sim.init_vote(s) <= best}):
        return _violation(
            f"election: leader {leader} {best} is not the best vote of a quorum ({votes})",
            "LeaderIsBestOfQuorum",
            step,
        )
    return None


@_directed(weights={"fsync": 0.3})
def _reconnect_truncated(sim: Simulation, rng: random.Random) -> bool | None:
    """A follower ACKs a proposal, crashes, comes back to the same leader and is TRUNCated
    past it (the proposal is not committed yet), and is re-sent it; the leader's own fsync
    comes next, the follower's does not; then the leader and the follower crash and the
    follower and the third member elect.  Phases of a directed schedule, each run by the
    seed's choices among the events it allows (what ZOOKEEPER's 3.8 removeLearnerHandler
    needs to lose a txn: the learner's ACK counted after its TRUNC)."""
    sim.settle(SETTLE_STEPS)
    lead = sim.leader()
    f, g = (s for s in sim.sids if s != lead.sid)
    sim.partition(lead.sid, g)
    o = sim.write(lead.sid)
    no_fsync = lambda *sids: lambda e: not (e.kind == "fsync" and e.key[0] in sids)  # noqa: E731

    def acked_by_f():
        core = lead.peer.role.core if lead.peer and lead.peer.role else None
        return core is not None and any(f in p.acks for p in core.outstanding.values())

    sim.run(3000, rng, done=acked_by_f, allow=no_fsync(lead.sid))
    if not acked_by_f():
        return False
    sim.crash(f)
    sim.restart(f)

    def f_resynced():
        n = sim.nodes[f]
        core = n.peer.role.core if n.peer and n.peer.role else None
        return core is not None and getattr(core, "newleader_zxid", None) is not None

    sim.run(3000, rng, done=f_resynced, allow=no_fsync(lead.sid, f))
    if not f_resynced():
        return False
    sim.run(rng.randrange(20, 400), rng, done=lambda: o.state == "acked", allow=no_fsync(f))
    sim.crash(f)
    sim.crash(lead.sid)
    sim.heal(lead.sid, g)
    sim.restart(f)
    sim.run(SETTLE_STEPS, rng, done=lambda: sim.leader() is not None and sim.leader().sid != lead.sid)
    sim.settle(SETTLE_STEPS)


def _txn_only_at_leader(sim: Simulation, rng: random.Random) -> int | None:
    """Directed phase: a write committed everywhere, then the serving leader, cut off from
    everyone, logs a client's txn and makes it durable (nobody else has it, nobody
    committed it); -> its sid, or None."""
    sim.settle(SETTLE_STEPS)
    sim.write(sim.leader().sid)  # a committed txn first: the leaders' committed logs then
    sim.settle(SETTLE_STEPS, rng)  # reach back to the learners' logs (DIFF / TRUNC, no SNAP)
    lead = sim.leader()
    for s in sim.sids:
        sim.partition(lead.sid, s)
    sim.write(lead.sid)

    def logged_alone():
        core = lead.peer.role.core if lead.peer and lead.peer.role else None
        return core is not None and bool(core.outstanding) and not lead.pending_fsync()

    sim.run(3000, rng, done=logged_alone)
    return lead.sid if logged_alone() else None


@_directed()
def _truncated_leader(sim: Simulation, rng: random.Random) -> bool | None:
    """The leader alone logs a txn and crashes; the other two elect and serve without it;
    the old leader comes back and must be TRUNCated (directed phases, the seed's choices
    within each)."""
    lead = _txn_only_at_leader(sim, rng)
    if lead is None:
        return False
    sim.crash(lead)
    sim.heal_all()
    sim.run(SETTLE_STEPS, rng, done=lambda: sim.leader() is not None and sim.leader().sid != lead)
    sim.restart(lead)
    sim.settle(SETTLE_STEPS, rng)


@_directed()
def _resync_unlogged(sim: Simulation, rng: random.Random) -> bool | None:
    """The leader A alone logs a txn and crashes; A comes back and leads a new epoch with B
    (C down), syncing B with that txn while B's disk never flushes; then A and B crash and
    B and C elect (directed phases, the seed's choices within each).  A B that ACKs
    NEWLEADER before the txn is on its disk lets A commit a txn only A holds."""
    a = _txn_only_at_leader(sim, rng)
    if a is None:
        return False
    b, c = (s for s in sim.sids if s != a)
    sim.crash(a)
    sim.crash(c)
    sim.heal_all()
    sim.restart(a)
    no_b_fsync = lambda e: not (e.kind == "fsync" and e.key[0] == b)  # noqa: E731
    sim.run(SETTLE_STEPS, rng, done=lambda: sim.leader() is not None, allow=no_b_fsync)
    sim.run(rng.randrange(0, 30), rng, allow=no_b_fsync)
    sim.crash(a)
    sim.crash(b)
    sim.restart(b)
    sim.restart(c)
    sim.run(SETTLE_STEPS, rng, done=lambda: sim.leader() is not None)
    sim.settle(SETTLE_STEPS, rng)


@_directed()
def _lagging_follower(sim: Simulation, rng: random.Random) -> bool | None:
    """B misses a committed write (it is down), the leader dies, B comes back and is synced
    that write by the new epoch's leader while B's disk never flushes, then B crashes once
    past NEWLEADER and restarts (directed phases, the seed's choices within each)."""
    sim.settle(SETTLE_STEPS)
    sim.write(sim.leader().sid)  # one write everyone has: B's later sync is a DIFF
    sim.settle(SETTLE_STEPS, rng)
    a = sim.leader().sid
    b = rng.choice([s for s in sim.sids if s != a])
    sim.crash(b)
    o = sim.write(a)
    sim.run(3000, rng, done=lambda: o.state not in ("connecting", "session", "sent"))
    if o.state != "acked":
        return False
    sim.crash(a)
    sim.restart(b)
    no_b_fsync = lambda e: not (e.kind == "fsync" and e.key[0] == b)  # noqa: E731

    def past_newleader():
        n = sim.nodes[b]
        core = n.peer.role.core if n.peer and n.peer.role else None
        return core is not None and getattr(core, "newleader_zxid", None) is not None

    sim.run(SETTLE_STEPS, rng, done=past_newleader, allow=no_b_fsync)
    sim.run(rng.randrange(0, 10), rng, allow=no_b_fsync)
    sim.crash(b)
    sim.restart(b)
    sim.settle(SETTLE_STEPS, rng)


@_directed()
def _followers_unflushed(sim: Simulation, rng: random.Random) -> bool | None:
    """A write through the leader while only the leader's disk flushes; the power goes;
    the two followers come back first and elect (directed phases, the seed's choices within
    each): a write acknowledged before any follower had it on disk is gone."""
    sim.settle(SETTLE_STEPS)
    lead = sim.leader().sid
    o = sim.write(lead)
    leader_fsync_only = lambda e: not (e.kind == "fsync" and e.key[0] != lead)  # noqa: E731
    sim.run(rng.randrange(50, 400), rng, done=lambda: o.state == "acked", allow=leader_fsync_only)
    for s in sim.sids:
        sim.crash(s)
    for s in sim.sids:
        if s != lead:
            sim.restart(s)
    sim.run(SETTLE_STEPS, rng, done=lambda: sim.leader() is not None)
    sim.settle(SETTLE_STEPS, rng)


#: name -> (seed -> a fresh Simulation, its fault plan, and optionally a per-step hook
#: that may inject faults by the nodes' state)
FAMILIES: dict[str, Callable[[int], tuple]] = {
    "power_after_writes": _power_after_writes,
    "random_faults": _random_faults,
    "isolated_leader": _isolated_leader,
    "crash_in_sync": _crash_in_sync,
    "crash_ackers": lambda seed: _crash_in_sync(seed, ackers=True),
    "epoch_power_cuts": _epoch_power_cuts,
    # these run a schedule themselves (-> a violation or None)
    "election_votes": _election_votes,
    "reconnect_truncated": _reconnect_truncated,
    "truncated_leader": _truncated_leader,
    "resync_unlogged": _resync_unlogged,
    "lagging_follower": _lagging_follower,
    "followers_unflushed": _followers_unflushed,
}
#: the families that run their schedule themselves
_SELF_RUN = {
    "election_votes",
    "reconnect_truncated",
    "truncated_leader",
    "resync_unlogged",
    "lagging_follower",
    "followers_unflushed",
}


def run_schedule(family: str, seed: int) -> SafetyViolation | None:
    """One schedule of ``family``: the plan's steps, then the faults stop and the ensemble
    must converge; the violation it raised, or None."""
    if family in _SELF_RUN:
        return FAMILIES[family](seed)
    made = FAMILIES[family](seed)
    sim, plan, hook = made if len(made) == 3 else (*made, None)

    def body() -> None:
        if hook is None:
            sim.run(STEPS, plan=plan)
        else:
            faults: dict[int, list[Fault]] = {}
            for at, f in plan:
                faults.setdefault(at, []).append(f)
            for i in range(STEPS):
                for f in faults.get(i, ()):
                    sim.apply(f)
                hook(i)
                evs = sim.events()
                if evs:
                    sim.step(sim.pick(sim.rng, evs))
        sim.settle(SETTLE_STEPS)

    return _checked(sim, body)
