"""The abstraction function: real zk_twisted nodes -> the spec's variables (spec/README.md).

Written once, read-only: it looks at the nodes of a :class:`~conformance.replay_impl.ImplReplay`
(the simulation's QuorumPeers, their FLE and ZAB cores, their data dirs) and at the packets
the runner's network holds, and returns the spec variables the runner compares, in the
trace's JSON shape (zxids ``[epoch, counter]``, sets as sorted lists).  Ghosts and the
environment's budgets (:data:`NOT_COMPARED`) are left out.

Durable variables (``currentEpoch``, ``acceptedEpoch``, ``history``) are read from the data
dir, not from memory: the spec's are what survives a crash.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from zk_twisted.persistence.files import LOG_PREFIX, VERSION_DIR, sorted_files
from zk_twisted.persistence.sync import ROLL
from zk_twisted.persistence.txnlog import _FRAME, LogFileReader
from zk_twisted.quorum.epochs import EpochFiles
from zk_twisted.quorum.packets import PACKET_NAMES, PacketType, QuorumPacketReader
from zk_twisted.server.txn import decode_txn

from .impl_disk import txn_value, zxid_of

__all__ = ["abstract_state", "canonical", "diff_states", "NOT_COMPARED", "SET_VARIABLES", "zx"]

#: ghosts and the runner's own bookkeeping (spec/README.md, "What the conformance runner compares")
NOT_COMPARED = frozenset(
    {
        "proposals", "committed", "commitLog", "establishedLeaders", "castVotes", "decisions",
        "crashes", "linkBreaks", "clientWrites", "brokenLinks",
    }
)  # fmt: skip
#: variables whose per-server values are TLA+ sets (compared as sorted lists)
SET_VARIABLES = frozenset(
    {
        "recvVotes",
        "outOfElection",
        "connectingFollowers",
        "electingFollowers",
        "newLeaderAckers",
        "proposalAcks",
        "equeued",
    }
)
NO_ZXID = [0, 0]


def zx(z: int) -> list[int]:
    """ZooKeeper's 64-bit zxid as the spec's ``<<epoch, counter>>``."""
    if z < 0:
        return [0, 0]
    return [(z >> 32) & 0xFFFFFFFF, z & 0xFFFFFFFF]


# ============================================================================ durable state
def durable_history(data_dir: Path) -> list[dict]:
    """Every txn the data dir holds, in zxid order, as ``{zxid, value}``: the newest
    snapshot's, then the logs' after it."""
    log_dir = Path(data_dir) / VERSION_DIR
    snap_zxid, snap = snapshot_txns(data_dir)
    out: dict[int, dict] = {zxid_of(t["zxid"]): t for t in snap}
    for f in sorted_files(log_dir, LOG_PREFIX):
        for e in LogFileReader(f):
            data = getattr(e.txn, "data", None)
            v = txn_value(data) if isinstance(data, bytes | bytearray) else None
            if v is not None and e.hdr.zxid > snap_zxid:
                out[e.hdr.zxid] = {"zxid": zx(e.hdr.zxid), "value": v}
    return [out[z] for z in sorted(out)]


def pending_txns(node) -> list[dict]:
    """The txns ``node``'s log writers hold written but not yet fsynced, in log order (the
    spec's ``pendingFsync``): the simulation's writer puts them on disk only at its fsync,
    so the data dir (``history``) holds the durable part alone."""
    out = []
    for w in getattr(node, "writers", ()):
        if w.closed:
            continue
        for item in w.queue.items:
            if item is ROLL:
                continue
            z, entry = item
            v = proposal_value(bytes(entry[_FRAME.size : -1]))  # the framed Util.marshallTxnEntry bytes
            if v is not None:
                out.append({"zxid": zx(z), "value": v})
    return out


def durable_epochs(data_dir: Path) -> tuple[int, int]:
    ep = EpochFiles(Path(data_dir) / VERSION_DIR, fsync=False)
    cur, acc = ep.read("currentEpoch"), ep.read("acceptedEpoch")
    return (cur if cur is not None else 0), (acc if acc is not None else 0)


# ============================================================================ packets
def proposal_value(data: bytes) -> int | None:
    """The spec value a PROPOSAL carries (its txn's create data)."""
    try:
        _, txn, _ = decode_txn(data)
    except Exception:  # noqa: BLE001 - a txn the spec does not model
        return None
    d = getattr(txn, "data", None)
    return txn_value(d) if isinstance(d, bytes | bytearray) else None


def quorum_message(p) -> dict | None:
    """A QuorumPacket as the spec's message record (None: a packet the spec does not model)."""
    name = PACKET_NAMES.get(p.type)
    if p.type in (PacketType.PING, PacketType.REVALIDATE, PacketType.SYNC, PacketType.REQUEST):
        return None
    if p.type == PacketType.UPTODATE:
        return {"mtype": "UPTODATE"}
    m: dict = {"mtype": name, "mzxid": zx(p.zxid)}
    if p.type == PacketType.ACKEPOCH:
        m["mepoch"] = struct.unpack(">i", p.data[:4])[0] if p.data and len(p.data) >= 4 else -1
    elif p.type == PacketType.PROPOSAL:
        m["mdata"] = proposal_value(p.data)
    return m


def quorum_messages(chunks: list[bytes]) -> list[dict]:
    """The spec messages in a list of quorum-port writes; a SNAP's ``msnapshot`` is read
    from the snapshot stream that follows it (the txns of its nodes, see snapshot_txns)."""
    from zk_twisted.quorum.snapstream import Node, SnapStreamReader

    reader = QuorumPacketReader(1 << 24)
    out: list[dict] = []
    snap: SnapStreamReader | None = None
    nodes: list = []

    def packets(ps) -> None:
        nonlocal snap
        for p in ps:
            m = quorum_message(p)
            if m is not None:
                out.append(m)
        if reader.paused and snap is None:  # a SNAP: its stream follows
            snap = SnapStreamReader(1 << 24)
            stream(reader.take_buffered())

    def stream(data: bytes) -> None:
        nonlocal snap
        if not data:
            return
        for ev in snap.feed(data):
            if isinstance(ev, Node):
                nodes.append(ev.node)
        if snap.done:
            out[-1]["msnapshot"] = _txns_of(nodes)
            nodes.clear()
            leftover, snap = snap.leftover, None
            packets(reader.resume(leftover))

    for c in chunks:
        if snap is not None:
            stream(c)
        else:
            packets(reader.feed(c))
    return out


def _txns_of(nodes) -> list[dict]:
    """The spec txns a tree holds: each node whose data is a txn value, at its czxid."""
    out = {}
    for n in nodes:
        v = txn_value(bytes(n.data)) if n.data else None
        if v is not None:
            out[n.czxid] = {"zxid": zx(n.czxid), "value": v}
    return [out[z] for z in sorted(out)]


_SNAP_CACHE: dict = {}


def snapshot_txns(data_dir: Path) -> tuple[int, list[dict]]:
    """The newest snapshot's zxid and the spec txns of its tree (cached by file identity)."""
    from zk_twisted.persistence.files import SNAPSHOT_PREFIX, zxid_from_name
    from zk_twisted.persistence.snapshot import load_snapshot
    from zk_twisted.server.datatree import DataTree
    from zk_twisted.server.zkdatabase import ZKDatabase

    snaps = sorted_files(Path(data_dir) / VERSION_DIR, SNAPSHOT_PREFIX)
    if not snaps:
        return 0, []
    f = snaps[-1]
    st = f.stat()
    key = (str(f), st.st_size, st.st_mtime_ns)
    hit = _SNAP_CACHE.get(key)
    if hit is None:
        db = ZKDatabase(DataTree())
        load_snapshot(f, db)
        nodes = [n for path, n in db.tree.nodes.items() if path not in ("", "/")]
        hit = (zxid_from_name(f.name, SNAPSHOT_PREFIX), _txns_of(nodes))
        if len(_SNAP_CACHE) > 4096:
            _SNAP_CACHE.clear()
        _SNAP_CACHE[key] = hit
    return hit


def notification_message(payload: bytes) -> dict:
    """An election payload as the spec's NOTIFICATION record."""
    from zk_twisted.election.messages import ServerState, decode_notification

    n = decode_notification(payload, 0)
    return {
        "mtype": "NOTIFICATION",
        "mleader": n.leader,
        "mzxid": zx(n.zxid),
        "melectionEpoch": n.election_epoch,
        "mpeerEpoch": n.peer_epoch,
        "mstate": ServerState(n.state).name,
    }


# ============================================================================ the function
def abstract_state(rp) -> dict:
    """The spec variables of ``rp`` (an ImplReplay) now."""
    sids = rp.sids
    S: dict[str, list] = {k: [] for k in (
        "currentEpoch", "acceptedEpoch", "history", "pendingFsync", "state", "zabState", "lastCommitted",
        "logicalclock", "vote", "recvVotes", "outOfElection", "finalizing", "newEpoch", "learners",
        "learnerZxid", "connectingFollowers", "electingFollowers", "newLeaderAckers",
        "proposalAcks", "syncStage", "syncHistory", "syncCommit",
    )}  # fmt: skip
    for i in sids:
        node = rp.sim.nodes[i]
        data_dir = node.base / "data"
        cur, acc = durable_epochs(data_dir)
        hist = durable_history(data_dir)
        S["currentEpoch"].append(cur)
        S["acceptedEpoch"].append(acc)
        S["history"].append(hist)
        S["pendingFsync"].append(pending_txns(node) if node.peer is not None else [])
        peer = node.peer
        role = peer.role if peer is not None else None
        core = getattr(role, "core", None) if role is not None else None
        if core is not None and getattr(core, "ended", None) is not None:
            core = None
        leader = core if core is not None and hasattr(core, "handlers") else None
        learner = core if core is not None and hasattr(core, "sync_stage") else None
        if peer is None:
            S["state"].append("DOWN")
            S["zabState"].append("ELECTION")
            S["logicalclock"].append(0)
            S["vote"].append({"leader": i, "zxid": NO_ZXID, "peerEpoch": 0})
            S["recvVotes"].append([])
            S["outOfElection"].append([])
            S["finalizing"].append(False)
        else:
            fle = peer.election.fle
            a = fle.abstract_state()
            looking = a["state"] == "LOOKING" or role is None or getattr(role, "ended", None) is not None
            S["state"].append("LOOKING" if looking else a["state"])
            if looking:
                S["zabState"].append("ELECTION")
            elif core is not None:
                S["zabState"].append(core.zab_state)
            else:
                S["zabState"].append("DISCOVERY")
            S["logicalclock"].append(a["logicalclock"])
            v = a["vote"]
            S["vote"].append({"leader": v["leader"], "zxid": list(v["zxid"]), "peerEpoch": v["peerEpoch"]})
            S["recvVotes"].append([_rec(r) for r in a["recvVotes"]])
            S["outOfElection"].append([_rec(r) for r in a["outOfElection"]])
            S["finalizing"].append(bool(looking and fle.looking and fle.finalizing))
        S["lastCommitted"].append(zx(rp.last_committed(i)))
        # leader variables
        S["newEpoch"].append(leader.epoch if leader is not None else 0)
        phases = leader.learners if leader is not None else {}
        S["learners"].append([phases.get(j, "NONE") for j in sids])
        lz = leader.learner_zxid if leader is not None else {}
        S["learnerZxid"].append([zx(lz[j]) if j in lz else NO_ZXID for j in sids])
        for var, attr in (
            ("connectingFollowers", "connecting_followers"),
            ("electingFollowers", "electing_followers"),
            ("newLeaderAckers", "new_leader_ackers"),
        ):
            S[var].append(sorted(getattr(leader, attr)) if leader is not None else [])
        S["proposalAcks"].append(
            [[s, zx(z)] for s, z in sorted(leader.proposal_acks)] if leader is not None else []
        )
        # follower variables
        stage = learner.sync_stage if learner is not None else "NONE"
        S["syncStage"].append(stage)
        S["syncHistory"].append(rp.sync_history(i, learner, hist) if stage in ("SYNCING",) else [])
        S["syncCommit"].append(
            zx(learner.sync_commit) if learner is not None and stage != "NONE" else NO_ZXID
        )
    S["qmsgs"] = [[rp.quorum_in_flight(i, j) for j in sids] for i in sids]
    S["emsgs"] = [[rp.election_in_flight(i, j) for j in sids] for i in sids]
    S["ekept"] = [[rp.election_kept(i, j) for j in sids] for i in sids]
    S["equeued"] = [rp.election_queued(i) for i in sids]
    return S


def _rec(r: tuple) -> dict:
    sid, leader, z, ee, pe, st = r
    return {"sid": sid, "leader": leader, "zxid": list(z), "electionEpoch": ee, "peerEpoch": pe, "state": st}


# ============================================================================ comparing
def canonical(var: str, value):
    """A variable's value in one comparable shape: tuples as lists, sets sorted."""
    v = json.loads(json.dumps(value))
    if var in SET_VARIABLES:
        v = [sorted(x, key=lambda e: json.dumps(e, sort_keys=True)) for x in v]
    return v


def diff_states(spec: dict, impl: dict) -> dict[str, dict]:
    """The compared variables that differ: var -> {"spec": ..., "impl": ...}, only the
    differing servers (or links) of each."""
    out: dict[str, dict] = {}
    for var, iv in impl.items():
        if var in NOT_COMPARED or var not in spec:
            continue
        a, b = canonical(var, spec[var]), canonical(var, iv)
        if a == b:
            continue
        d: dict = {}
        for k, (x, y) in enumerate(zip(a, b, strict=False)):
            if var in ("qmsgs", "emsgs", "ekept", "learners", "learnerZxid"):
                for m, (xx, yy) in enumerate(zip(x, y, strict=False)):
                    if xx != yy:
                        d[f"{k + 1}->{m + 1}" if var in ("qmsgs", "emsgs", "ekept") else f"{k + 1}.{m + 1}"] = {
                            "spec": xx,
                            "impl": yy,
                        }
            elif x != y:
                d[str(k + 1)] = {"spec": x, "impl": y}
        out[var] = d
    return out
