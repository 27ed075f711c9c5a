"""TRUNC against a start-up snapshot, deterministically (the whole-node simulation).

A learner restarting with a dead leader's uncommitted txn in its log replays it at start.
A snapshot of that state still on disk after the leader's TRUNC would bring the dropped txn
back at the next restore.  Three things keep it off the disk: learners take no start-up
snapshot (``roles.LearnerRole``), TRUNC removes snapshots past its point
(``persistence.truncate``), and the reload after it removes unfinished snapshot files, so a
walk in flight at the TRUNC cannot finish.  The schedule holds every timer from the
learner's role start until its TRUNC is done, the order in which a snapshot walk started
with the role (a worker thread in a process, the clock's cooperator here) straddles it.
"""

from __future__ import annotations

import logging
import re

from zk_twisted.persistence.files import SNAPSHOT_PREFIX, sorted_files, zxid_from_name
from zk_twisted.persistence.snapshot import load_snapshot
from zk_twisted.quorum.roles import LearnerRole, logged_proposals
from zk_twisted.server.datatree import DataTree
from zk_twisted.server.zkdatabase import ZKDatabase
from zk_twisted.testing.simulation import Simulation

STEPS = 5000


def _logged(node) -> list[int]:
    return [p.zxid for p in logged_proposals(node.peer.storage.snaplog.log_dir, 0)]


def _snapshots_past(node, path: str, point: int) -> list[str]:
    """The node's snapshot files that hold state past the TRUNC ``point`` in its epoch: named
    after a later zxid of that epoch, or with ``path`` (the dropped txn's znode) in them."""
    out = []
    for snap in sorted_files(node.base / "data" / "version-2", SNAPSHOT_PREFIX):
        zxid = zxid_from_name(snap.name, SNAPSHOT_PREFIX)
        db = ZKDatabase(DataTree())
        load_snapshot(snap, db)
        if (zxid >> 32 == point >> 32 and zxid > point) or db.tree.get_node(path) is not None:
            out.append(snap.name)
    return out


def test_a_truncated_learner_keeps_no_snapshot_of_the_dropped_txn(caplog):
    caplog.set_level(logging.INFO, logger="zk_twisted.quorum.leader")
    with Simulation(3, seed=3) as sim:
        sim.settle(STEPS)
        lead = sim.leader()
        f, g = (sim.nodes[s] for s in sim.sids if s != lead.sid)
        # the leader's proposal reaches f only, and only f's disk flushes it: uncommitted
        sim.partition(lead.sid, g.sid)
        o = sim.write(lead.sid)
        # its session is a txn: committed first (and the client's dial is not refused)
        sim.run(STEPS, done=lambda: o.state == "sent", allow=lambda e: e.kind != "refuse")
        assert o.state == "sent"
        not_leader_fsync = lambda e: not (e.kind == "fsync" and e.key[0] == lead.sid)  # noqa: E731

        def f_logged():
            core = lead.peer.role.core if lead.peer and lead.peer.role else None
            return core is not None and any(f.sid in p.acks for p in core.outstanding.values())

        sim.run(STEPS, done=f_logged, allow=not_leader_fsync)
        assert f_logged() and o.state != "acked"
        dropped = _logged(f)[-1]
        # the leader dies with it unflushed; f goes down; the leader and g elect without it
        sim.crash(lead.sid)
        sim.crash(f.sid)
        sim.heal_all()
        sim.restart(lead.sid)
        sim.run(STEPS, done=lambda: sim.leader() is not None)
        assert sim.leader() is not None and dropped not in _logged(sim.leader())
        # f restarts holding the txn (its restore replays it), finds the leader, and from
        # its role's start nothing timed runs until its TRUNC is done
        sim.restart(f.sid)
        assert f.db.tree.get_node(o.path) is not None
        sim.run(STEPS, done=lambda: isinstance(f.peer.role, LearnerRole))
        assert isinstance(f.peer.role, LearnerRole)
        no_timers = lambda e: e.kind not in ("due", "advance")  # noqa: E731
        sim.run(STEPS, done=lambda: dropped not in _logged(f), allow=no_timers)
        assert dropped not in _logged(f), "no TRUNC"
        trunc = re.search(rf"Synchronizing learner {f.sid} \(peer zxid 0x{dropped:x}\) by TRUNC 0x(\w+)", caplog.text)
        assert trunc, "the leader chose no TRUNC"
        point = int(trunc.group(1), 16)
        assert f.db.tree.get_node(o.path) is None
        sim.run(STEPS, done=lambda: f.serving)
        assert f.serving
        sim.check()
        assert _snapshots_past(f, o.path, point) == []
        # and the next restore is the truncated state
        sim.crash(f.sid)
        sim.restart(f.sid)
        assert f.db.tree.get_node(o.path) is None and not point < f.db.last_processed_zxid <= dropped
        sim.settle(STEPS)
        sim.check()
