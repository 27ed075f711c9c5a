"""Golden bytes: a real Java ZooKeeper 3.8 ensemble's quorum-port traffic, through our codecs.

One ensemble per module (3 participants + 1 observer, Debian's package), every peer
connection through the recording relays of ``quorumcapture``, driven in sequence through:
start-up; kazoo writes on a follower (creates, setData, delete, a multi, a digest ACL with
auth, an ephemeral, sync); a session moving between followers (REVALIDATE); a follower
killed and restarted after missing txns (DIFF); one wiped (SNAP); the leader's last proposal
kept from its followers by the relay, the leader killed, a new leader elected, the old one
restarted (TRUNC). Every captured quorum packet is then parsed from the raw stream,
its payload decoded and re-encoded, and the whole stream rebuilt byte for byte; the SNAP
stream is loaded into our DataTree and compared with what the client reads from Java.

The election-port bytes stay in ``capture.net`` (raw, per connection and direction) for the
election codec's tests; here only the relay's own work is checked (every pair connected,
dial-backs through the relay).
"""

from __future__ import annotations

import os
import pickle
import re
import time

import pytest
from quorumcapture import ELECTION, IN, OUT, QUORUM, JavaEnsemble, wait_until
from rawclient import RawClient, create_body
from zkharness import four_letter

from zk_twisted.jute import records as R
from zk_twisted.persistence.errors import CorruptFileError
from zk_twisted.persistence.txnlog import last_logged_zxid
from zk_twisted.quorum import payloads as P
from zk_twisted.quorum import snapstream as S
from zk_twisted.quorum.epochs import ACCEPTED_EPOCH, CURRENT_EPOCH, EpochFiles
from zk_twisted.quorum.packets import PACKET_NAMES, PacketType, QuorumPacketReader, encode_packet, epoch_of
from zk_twisted.server.zkdatabase import ZKDatabase

T = PacketType


class Capture:
    """What the scenario did, for the tests to check the bytes against."""

    def __init__(self, ens: JavaEnsemble) -> None:
        self.ens = ens
        self.net = ens.net
        self.leader = 0
        self.followers: list[int] = []
        self.observer = 0
        self.snap_victim = 0
        self.tree_at_snap: dict[str, tuple] = {}
        self.acl_at_snap: dict[str, list] = {}
        self.follower_tree_at_snap: dict[str, tuple] = {}
        self.trunc_leader = 0
        self.uncommitted_zxid = 0
        self.last_committed_before_trunc = 0
        self.final_zxid = 0
        self.moved_session = 0
        self.uncommitted_survived = True
        self.steps: list[tuple[str, float]] = []  # (scenario step, seconds since start)


def _walk(kz, path: str, out: dict, acls: dict) -> None:
    data, st = kz.get(path)
    out[path] = (data, st.version, st.cversion, st.aversion, st.czxid, st.mzxid, st.pzxid, st.ephemeralOwner, st.numChildren)
    acls[path] = kz.get_acls(path)[0]
    for child in kz.get_children(path):
        _walk(kz, f"{path}/{child}" if path != "/" else f"/{child}", out, acls)


def _zxid_of(node) -> int:
    for line in four_letter(node.client_port, "srvr").splitlines():
        if line.startswith("Zxid: "):
            return int(line[6:], 16)
    raise AssertionError("no Zxid in srvr")


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    from kazoo.client import KazooClient
    from kazoo.security import make_digest_acl

    ens = JavaEnsemble(tmp_path_factory.mktemp("golden"), participants=3, observers=1)
    cap = Capture(ens)
    clients: list = []

    def client(sid: int, **kw):
        kz = KazooClient(hosts=ens.nodes[sid].hosts, timeout=30.0, **kw)
        kz.start(timeout=30)
        clients.append(kz)
        return kz

    t0 = time.monotonic()

    def step(name: str) -> None:
        cap.steps.append((name, round(time.monotonic() - t0, 2)))

    try:
        ens.start()
        cap.leader = ens.wait_serving()
        step("started")
        cap.observer = 4
        cap.followers = [s for s in (1, 2, 3) if s != cap.leader]
        f1, f2 = cap.followers

        # ---- writes through a follower: REQUEST, PROPOSAL, ACK, COMMIT, INFORM, SYNC
        kz = client(f1)
        kz.create("/golden", b"root")
        kz.create("/golden/a", b"x" * 100)
        kz.set("/golden/a", b"y")
        kz.create("/golden/seq-", b"", sequence=True)
        kz.create("/golden/gone", b"")
        kz.delete("/golden/gone")
        tx = kz.transaction()
        tx.create("/golden/m1", b"1")
        tx.set_data("/golden/a", b"z")
        tx.check("/golden/a", 2)
        tx.create("/golden/m2", b"2")
        tx.delete("/golden/m2")
        assert all(not isinstance(r, Exception) for r in tx.commit())
        kz.add_auth("digest", "golden:secret")
        kz.create("/golden/secret", b"s", acl=[make_digest_acl("golden", "secret", all=True)])
        kz.create("/golden/eph", b"e", ephemeral=True)
        kz.sync("/golden")

        step("writes")
        # ---- a session moving from one follower to the other: REVALIDATE
        kz2 = client(f1)
        kz2.create("/golden/eph2", b"", ephemeral=True)
        cap.moved_session = kz2.client_id[0]
        kz3 = client(f2, client_id=kz2.client_id)
        kz3.create("/golden/after-move", b"m")
        time.sleep(1.2)  # a leader PING or two, answered with these sessions' touches
        kz3.stop()
        kz3.close()
        clients.remove(kz3)
        kz2.stop()
        kz2.close()
        clients.remove(kz2)

        step("session moved")
        # ---- a follower missing a few txns: DIFF
        ens.nodes[f2].kill()
        for i in range(3):
            kz.create(f"/golden/diff-{i}", b"d")
        ens.nodes[f2].start()
        ens.wait_serving()

        step("diff")
        # ---- a follower that lost its disk: SNAP
        ens.nodes[f2].kill()
        ens.nodes[f2].wipe()
        kz.set("/golden/a", b"before-snap")
        # the tree as the leader (the SNAP's sender) serves it, and as the follower does
        kz_leader = client(cap.leader)
        kz_leader.add_auth("digest", "golden:secret")
        kz_leader.sync("/")
        _walk(kz_leader, "/", cap.tree_at_snap, cap.acl_at_snap)
        _walk(kz, "/", cap.follower_tree_at_snap, {})
        cap.snap_victim = f2
        ens.nodes[f2].start()
        ens.wait_serving()

        step("snap")
        # ---- the leader's last proposal never reaches its followers; leader dies: TRUNC
        old = cap.leader
        raw = RawClient(ens.nodes[old].client_port)
        raw.connect(timeout_ms=30000)
        cap.last_committed_before_trunc = _zxid_of(ens.nodes[old])
        for f in cap.followers:
            cap.net.drop(QUORUM, f, old, IN)
        raw.send_request("create", create_body("/golden/uncommitted", b"u"))

        def dropped_proposal() -> int:
            for c in cap.net.of_kind(QUORUM):
                if c.dst == old and c.src in cap.followers and any(ch.dropped for ch in c.chunks):
                    zxids = [qp.zxid for qp, _ in decode_stream(c.stream(IN), True).packets if qp.type == T.PROPOSAL]
                    if zxids and zxids[-1] > cap.last_committed_before_trunc:
                        return zxids[-1]
            return 0

        wait_until(dropped_proposal, 10, "the leader's proposal (dropped at the relay)")
        cap.uncommitted_zxid = dropped_proposal()

        def logged() -> bool:  # the leader's own log write (SyncRequestProcessor: flush, fsync)
            try:
                return last_logged_zxid(ens.nodes[old].data_dir / "version-2") >= cap.uncommitted_zxid
            except CorruptFileError:
                return False  # caught mid-write

        wait_until(logged, 10, "the uncommitted proposal in the leader's txn log")
        step("trunc: proposal held")
        ens.nodes[old].kill()
        raw.close()
        for f in cap.followers:
            cap.net.drop(QUORUM, f, old, IN, on=False)
        new_leader = ens.wait_serving([*cap.followers, cap.observer])
        cap.trunc_leader = new_leader
        step("trunc: new leader")
        ens.nodes[old].start()  # before any txn of the new epoch: the old leader's zxid is above the new max
        ens.wait_serving()
        step("trunc")
        cap.uncommitted_survived = client(old).exists("/golden/uncommitted") is not None
        kz.create("/golden/final", b"f")
        kz.sync("/")
        cap.final_zxid = _zxid_of(ens.nodes[f1])
        time.sleep(0.3)

        def idle_learner_pinged() -> bool:  # a learner with no session touched since the last PING
            return any(
                qp.type == T.PING and not fl and not P.SessionTouches.from_bytes(qp.data).touches
                for c in cap.net.of_kind(QUORUM)
                for qp, fl in decode_stream(c.stream(OUT), False).packets
            )

        # the whole capture can take less than a ping round's worth of idle time: wait for one
        wait_until(idle_learner_pinged, 10, "a PING answered by a learner with nothing touched")
        step("idle ping")
        for kz_ in clients:
            kz_.stop()
            kz_.close()
        clients.clear()
        ens.close()  # the bytes are in memory, the data dirs stay on disk
        step("done")
        print("capture steps (s):", cap.steps)  # shown with -s: where the module's time goes
        dump = os.environ.get("QUORUM_CAPTURE_DUMP")
        if dump:  # for looking at a capture offline: pickle of the connections and the facts
            facts = {k: v for k, v in vars(cap).items() if k not in ("ens", "net")}
            with open(dump, "wb") as f:
                pickle.dump({"connections": cap.net.snapshot(), "facts": facts}, f)
        yield cap
    finally:
        for kz_ in clients:
            try:
                kz_.stop()
                kz_.close()
            except Exception:
                pass
        ens.close()


# ---------------------------------------------------------------------------- decoding
class Decoded:
    def __init__(self) -> None:
        self.packets: list[tuple[R.QuorumPacket, bool]] = []  # (packet, from_leader)
        self.snaps: list[tuple[R.QuorumPacket, list]] = []  # SNAP packet, stream events
        self.rebuilt = b""
        self.tail = b""  # bytes after the last whole packet (a kill -9 mid-write)


def decode_stream(data: bytes, from_leader: bool) -> Decoded:
    """Parse one direction of a quorum connection; rebuild it from what was decoded."""
    out = Decoded()
    reader = QuorumPacketReader()
    parts: list[bytes] = []
    pending = reader.feed(data)
    while True:
        for qp in pending:
            value = P.decode_data(qp.type, qp.data, from_leader)
            again = P.encode_data(qp.type, value)
            assert again == qp.data, f"{PACKET_NAMES.get(qp.type)} payload re-encoded differently: {qp.data!r} -> {again!r}"
            out.packets.append((qp, from_leader))
            parts.append(encode_packet(qp))
        if not reader.paused:
            break
        snap_qp = out.packets[-1][0]
        sr = S.SnapStreamReader()
        events = sr.feed(reader.take_buffered())
        assert sr.done, "the SNAP stream was cut short"
        parts.append(S.encode_events(events))
        out.snaps.append((snap_qp, events))
        pending = reader.resume(sr.leftover)
    out.rebuilt = b"".join(parts)
    out.tail = reader.take_buffered()  # a packet cut by a kill -9
    return out


@pytest.fixture(scope="module")
def decoded(capture):
    """Every quorum connection, both directions: [(connection, direction, Decoded)]."""
    result = []
    for conn in capture.net.of_kind(QUORUM):
        for direction in (OUT, IN):
            raw = conn.stream(direction)
            result.append((conn, direction, raw, decode_stream(raw, from_leader=direction == IN)))
    return result


def _types(decoded, from_leader: bool) -> set[int]:
    return {qp.type for _, d, _, dec in decoded for qp, fl in dec.packets if fl == from_leader}


# ---------------------------------------------------------------------------- tests
def test_every_quorum_stream_rebuilds_to_the_same_bytes(decoded):
    assert decoded, "no quorum connection captured"
    for conn, direction, raw, dec in decoded:
        # a node killed mid-write may leave part of a packet: only then is a tail allowed
        assert raw == dec.rebuilt + dec.tail, (
            f"{conn.kind} {conn.src}->{conn.dst} {direction}: first difference at byte "
            f"{next((i for i, (a, b) in enumerate(zip(raw, dec.rebuilt, strict=False)) if a != b), len(dec.rebuilt))}"
        )
        if dec.tail:
            assert conn.closed is not None and len(dec.tail) < 1 << 20


def test_every_packet_type_was_seen(decoded, capture):
    from_learners = _types(decoded, False)
    from_leader = _types(decoded, True)
    learner_expected = {T.FOLLOWERINFO, T.OBSERVERINFO, T.ACKEPOCH, T.ACK, T.PING, T.REVALIDATE, T.REQUEST}
    leader_expected = {
        T.LEADERINFO, T.DIFF, T.TRUNC, T.SNAP, T.NEWLEADER, T.UPTODATE, T.PROPOSAL, T.COMMIT,
        T.INFORM, T.PING, T.REVALIDATE, T.SYNC,
    }  # fmt: skip
    missing = {PACKET_NAMES[t] for t in learner_expected - from_learners} | {
        PACKET_NAMES[t] for t in leader_expected - from_leader
    }
    assert not missing, f"the capture never saw: {sorted(missing)}"
    # reconfig is off: no *ANDACTIVATE; and nothing 3.8 does not define
    assert (from_learners | from_leader) <= set(PACKET_NAMES), "unknown packet types"


def test_discovery_payloads(decoded):
    infos = [(qp, P.decode_learner_info(qp.data)) for _, _, _, dec in decoded for qp, fl in dec.packets
             if qp.type in (T.FOLLOWERINFO, T.OBSERVERINFO)]  # fmt: skip
    for qp, li in infos:
        assert len(qp.data) == 20 and li.protocolVersion == 0x10000 and li.configVersion == 0
        assert qp.zxid & 0xFFFFFFFF == 0  # acceptedEpoch << 32
    assert {li.serverid for _, li in infos} >= {1, 2, 3, 4}
    for conn, direction, _, dec in decoded:
        types = [qp.type for qp, _ in dec.packets]
        if direction == OUT and types:
            assert types[0] in (T.FOLLOWERINFO, T.OBSERVERINFO), f"{conn.src}->{conn.dst} began with {types[0]}"
            info = P.decode_learner_info(dec.packets[0][0].data)
            assert info.serverid == conn.src
        if direction == IN and types:
            first = dec.packets[0][0]
            assert first.type == T.LEADERINFO and P.decode_data(T.LEADERINFO, first.data, True) == 0x10000
    for _, _, _, dec in decoded:
        for qp, _ in dec.packets:
            if qp.type == T.NEWLEADER:
                cfg = P.decode_config(qp.data)
                assert cfg.endswith("version=0") and "server.4=" in cfg and ":observer" in cfg
            if qp.type == T.UPTODATE:
                assert qp.zxid == -1


def test_broadcast_payloads(decoded, capture):
    proposals = [qp for _, _, _, dec in decoded for qp, fl in dec.packets if qp.type in (T.PROPOSAL, T.INFORM)]
    kinds = set()
    for qp in proposals:
        txn = P.TxnPayload.from_bytes(qp.data)
        assert txn.hdr.zxid == qp.zxid
        assert txn.digest is not None and txn.digest.version == 2, "3.8 digests every proposal"
        kinds.add(txn.hdr.type)
    # createSession -10, create 1, delete 2, setData 5, multi 14, closeSession -11
    assert {-10, -11, 1, 2, 5, 14} <= kinds, kinds
    informs = [qp for _, _, _, dec in decoded for qp, fl in dec.packets if qp.type == T.INFORM]
    assert informs and all(P.TxnPayload.from_bytes(q.data).hdr.zxid == q.zxid for q in informs)
    requests = [P.QuorumRequest.from_bytes(qp.data) for _, _, _, dec in decoded for qp, _ in dec.packets if qp.type == T.REQUEST]
    assert {r.type for r in requests} >= {-10, 1, 9, 14}  # createSession, create, sync, multi
    # a createSession carries no authinfo (null); the others the connection's Ids
    for qp in (qp for _, _, _, dec in decoded for qp, _ in dec.packets if qp.type == T.REQUEST):
        req = P.QuorumRequest.from_bytes(qp.data)
        assert qp.zxid == -1
        if req.type == -10:
            assert qp.authinfo is None and len(req.body) == 4  # int timeout
        else:
            assert any(a.scheme == "ip" for a in qp.authinfo)
    with_auth = [qp for _, _, _, dec in decoded for qp, _ in dec.packets if qp.type == T.REQUEST and qp.authinfo]
    assert any(a.scheme == "digest" and a.id.startswith("golden:") for qp in with_auth for a in qp.authinfo)
    syncs = [qp for _, _, _, dec in decoded for qp, fl in dec.packets if qp.type == T.SYNC]
    assert syncs and all(qp.zxid == 0 and qp.data is None for qp in syncs)


def test_pings_carry_session_touches(decoded, capture):
    touches = [
        P.SessionTouches.from_bytes(qp.data).touches
        for _, _, _, dec in decoded
        for qp, fl in dec.packets
        if qp.type == T.PING and not fl
    ]
    assert any(t for t in touches), "no learner PING carried a session touch"
    assert any(t == [] for t in touches), "an idle learner answers with an empty buffer"
    assert all(to == 30000 for t in touches for _, to in t)  # the kazoo sessions' negotiated timeout
    leader_pings = [qp for _, _, _, dec in decoded for qp, fl in dec.packets if qp.type == T.PING and fl]
    assert leader_pings and all(qp.data is None for qp in leader_pings)


def test_revalidate_both_ways(decoded, capture):
    asks = [P.RevalidateRequest.from_bytes(qp.data) for _, _, _, dec in decoded for qp, fl in dec.packets
            if qp.type == T.REVALIDATE and not fl]  # fmt: skip
    answers = [P.RevalidateReply.from_bytes(qp.data) for _, _, _, dec in decoded for qp, fl in dec.packets
               if qp.type == T.REVALIDATE and fl]  # fmt: skip
    assert any(a.session_id == capture.moved_session for a in asks)
    assert any(a.session_id == capture.moved_session and a.valid for a in answers)


def test_diff_snap_trunc_sync_paths(decoded, capture):
    syncs = [(conn, qp) for conn, d, _, dec in decoded for qp, fl in dec.packets if qp.type in (T.DIFF, T.TRUNC, T.SNAP)]
    diffs_with_txns = []
    for conn, _direction, _, dec in decoded:
        types = [qp.type for qp, _ in dec.packets]
        if T.DIFF in types and T.NEWLEADER in types:
            between = types[types.index(T.DIFF) + 1 : types.index(T.NEWLEADER)]
            if T.PROPOSAL in between:
                diffs_with_txns.append(conn)
                assert between.count(T.PROPOSAL) == between.count(T.COMMIT)
    assert diffs_with_txns, "no DIFF carried PROPOSAL+COMMIT pairs"
    truncs = [qp for conn, qp in syncs if qp.type == T.TRUNC]
    assert [qp.zxid for qp in truncs] == [capture.last_committed_before_trunc]
    assert capture.uncommitted_zxid > capture.last_committed_before_trunc
    assert not capture.uncommitted_survived, "the old leader kept its uncommitted create after TRUNC"
    snaps = [(conn, qp) for conn, qp in syncs if qp.type == T.SNAP]
    assert any(conn.src == capture.snap_victim for conn, _ in snaps)


def test_snap_stream_loads_into_our_tree(decoded, capture):
    victim = [
        (qp, events)
        for conn, d, _, dec in decoded
        if conn.src == capture.snap_victim
        for qp, events in dec.snaps
    ]
    assert victim, "the wiped follower got no SNAP"
    qp, events = victim[-1]  # the one after the wipe (a member can also get one at start-up)
    assert isinstance(events[-1], S.End)
    db = ZKDatabase()
    loader = S.SnapStreamLoader(db, qp.zxid)
    assert loader.feed(S.encode_events(events))
    assert loader.dangling_acls == 0
    tree = db.tree
    assert tree.last_processed_zxid == qp.zxid
    # the root is written with path "": it is the first node of the stream
    assert isinstance(events[2], S.Node) and events[2].path == ""
    for path, want in capture.tree_at_snap.items():
        node = tree.get_node(path)
        assert node is not None, path
        st = tree.stat(node)  # the client's view: cversion as 2 x creates - children, as 3.8's copyStat
        seen = (node.data or b"", st.version, st.cversion, st.aversion, st.czxid, st.mzxid, st.pzxid,
                st.ephemeralOwner, st.numChildren)  # fmt: skip
        if path == "/zookeeper/config":
            continue  # 3.8 fills it from the dynamic config on the member, not from the stream
        assert seen == want, (path, seen, want)
        acl = [(a.perms, a.id.scheme, a.id.id) for a in capture.acl_at_snap[path]]
        assert sorted(node.acl) == sorted(acl), path
    assert tree.get_node("/golden/gone") is None
    # the sessions at the time: kz's, with its ephemeral
    assert db.sessions_with_timeouts and all(t > 0 for t in db.sessions_with_timeouts.values())
    owner = tree.get_node("/golden/eph").ephemeral_owner
    assert owner in db.sessions_with_timeouts and "/golden/eph" in tree.ephemerals_of(owner)


def test_our_snap_stream_is_what_java_sends(decoded, capture):
    """Our serializer, run on the tree loaded from Java's stream, gives Java's bytes back
    up to the order of siblings (Java walks HashSets, we walk insertion order)."""
    qp, events = [(qp, ev) for conn, d, _, dec in decoded if conn.src == capture.snap_victim for qp, ev in dec.snaps][-1]
    db = ZKDatabase()
    S.SnapStreamLoader(db, qp.zxid).feed(S.encode_events(events))
    ours = b"".join(S.serialize_snap_stream(db, qp.zxid, nodes_per_chunk=3))
    reader = S.SnapStreamReader()
    again = reader.feed(ours)
    assert reader.done and reader.leftover == b""
    assert again[0] == events[0]
    java_nodes = {e.path: e.node for e in events if isinstance(e, S.Node)}
    our_nodes = {e.path: e.node for e in again if isinstance(e, S.Node)}
    open_acl = [R.ACL(31, R.Id("world", "anyone"))]
    # 3.8 numbers the system nodes' open ACL -1 (OPEN_UNSAFE_ACL_ID) and a client's open ACL
    # list like any other; our ACL cache keeps one entry per distinct list, so the ids may
    # differ while the ACLs they stand for are the same
    java_acl = {-1: open_acl, **dict(events[1].entries)}
    our_acl = {-1: open_acl, **dict(again[1].entries)}
    assert set(our_nodes) == set(java_nodes)
    for path, n in java_nodes.items():
        o = our_nodes[path]
        assert (o.data, o.czxid, o.mzxid, o.pzxid, o.version, o.cversion, o.ephemeralOwner) == (
            n.data, n.czxid, n.mzxid, n.pzxid, n.version, n.cversion, n.ephemeralOwner
        ), path
        assert our_acl[o.acl] == java_acl[n.acl], path
    assert len(ours) == len(S.encode_events(events))


def test_election_capture_is_available(capture):
    """The raw election bytes are kept for the election codec's golden tests: every pair of
    members connected, the surviving connection dialled by the larger sid, and the
    smaller sid's dial-back came through a relay (its header was rewritten)."""
    conns = capture.net.of_kind(ELECTION)
    pairs = {(c.src, c.dst) for c in conns if c.stream(OUT) and c.stream(IN)}
    for i in range(1, 5):
        for j in range(1, i):
            assert (i, j) in pairs, f"no two-way election connection dialled by {i} to {j}"
    for c in conns:
        head = c.stream(OUT)[:8]
        if head:
            assert int.from_bytes(head, "big", signed=True) == -65536  # protocol version 1
    # every election connection a member accepted came through a relay, dial-backs included
    # (they go to the address in the header, which the relay rewrites)
    relayed = {c.relay_port for c in conns}
    for sid, node in capture.ens.nodes.items():
        accepted = re.findall(r"Received connection request from /127\.0\.0\.1:(\d+)", node.log())
        assert {int(p) for p in accepted} <= relayed, f"member {sid} took a connection around the relays"
        if sid == 1:
            assert accepted  # every other member dials the smallest sid


def test_java_epoch_files(capture):
    """Java's currentEpoch / acceptedEpoch: decimal ASCII without a newline, read back by
    our EpochFiles with the start-up checks passing."""
    epoch = epoch_of(capture.final_zxid)
    assert epoch >= 2
    for sid, node in capture.ens.nodes.items():
        snap_dir = node.data_dir / "version-2"
        for name in (CURRENT_EPOCH, ACCEPTED_EPOCH):
            raw = (snap_dir / name).read_bytes()
            assert raw == str(epoch).encode(), (sid, name, raw)
        files = EpochFiles(snap_dir, fsync=False)
        assert files.load(capture.final_zxid) == (epoch, epoch)


def test_follower_tree_agrees_below_the_root(capture):
    """The oracle of the SNAP test is sound: the leader and the follower the client wrote
    through serve the same tree."""
    lead, fol = capture.tree_at_snap, capture.follower_tree_at_snap
    assert set(lead) == set(fol)
    for path in lead:
        if path != "/zookeeper/config":
            assert lead[path] == fol[path], path


def test_election_frames_rebuild_to_the_same_bytes(capture):
    """Every election-port byte Java 3.8 sent, through our codec: each connection header
    (as Java wrote it, before the relay's address rewrite) and every notification frame,
    decoded and encoded again to the same bytes; the states, versions and configs seen."""
    from zk_twisted.election import messages as M

    conns = capture.net.of_kind(ELECTION)
    headers = notifications = 0
    states, versions = set(), set()
    for c in conns:
        out, back = c.stream(OUT), c.stream(IN)
        if len(out) >= 8:
            got = M.InitialMessageReader().feed(out)
            assert got is not None, f"{c.src}->{c.dst}: the header never completed"
            msg, rest = got
            assert msg.sid == c.src and msg.protocol_version == M.PROTOCOL_VERSION_V1
            assert M.encode_initial_message(msg.sid, msg.addresses) == out[: len(out) - len(rest)]
            headers += 1
        else:
            rest = b""
        for data, sender in ((rest, c.src), (back, c.dst)):
            reader = M.FrameReader()
            payloads = reader.feed(data)
            assert b"".join(M.frame(p) for p in payloads) == data[: sum(4 + len(p) for p in payloads)]
            for p in payloads:
                n = M.decode_notification(p, sender)
                states.add(n.state)
                versions.add(n.version)
                assert M.encode_notification(n.state, n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.config) == p
                assert M.config_version_of(n.config) == 0
                notifications += 1
    assert headers >= 6 and notifications >= 20
    # LOOKING, FOLLOWING and LEADING votes crossed the port, all in 3.8's version 2 (the
    # observer speaks only when a voter asks it, so an OBSERVING vote may or may not be there)
    assert {0, 1, 2} <= states <= {0, 1, 2, 3} and versions == {2}
