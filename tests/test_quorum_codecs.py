"""Quorum-port codecs without Java: packet stream reader, payloads, SNAP stream, epoch files.

The bytes 3.8 actually sends are checked by test_quorum_golden.py; here are the edges a
capture does not reach (byte-by-byte feeding, garbage, caps, every builder, the fuzzy
SNAP rule, the epoch files' start-up checks on real files).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zk_twisted.constants import OpCode
from zk_twisted.jute import records as R
from zk_twisted.quorum import payloads as P
from zk_twisted.quorum import snapstream as S
from zk_twisted.quorum.epochs import ACCEPTED_EPOCH, CURRENT_EPOCH, EpochFileError, EpochFiles
from zk_twisted.quorum.packets import PacketType as T
from zk_twisted.quorum.packets import QuorumPacketReader, QuorumStreamError, encode_packet, make_zxid
from zk_twisted.server.zkdatabase import ZKDatabase

# ---------------------------------------------------------------------------- packets
ids = st.builds(R.Id, st.text(max_size=8), st.text(max_size=12))
packets = st.builds(
    R.QuorumPacket,
    st.integers(1, 19),
    st.integers(-(1 << 63), (1 << 63) - 1),
    st.one_of(st.none(), st.binary(max_size=64)),
    st.one_of(st.none(), st.lists(ids, max_size=3)),
)


@given(st.lists(packets, max_size=6), st.integers(1, 7))
def test_reader_cuts_packets_out_of_any_chunking(pkts, step):
    pkts = [p for p in pkts if p.type != T.SNAP]  # SNAP pauses the reader (next test)
    wire = b"".join(encode_packet(p) for p in pkts)
    reader = QuorumPacketReader()
    got = []
    for i in range(0, len(wire), step):
        got += reader.feed(wire[i : i + step])
    assert got == pkts and reader.buffered == 0


def test_reader_pauses_after_snap_and_resumes_after_the_stream():
    db = ZKDatabase()
    db.tree.create_node("/a", b"x", db.tree.acl_cache.intern(((31, "world", "anyone"),)), 0, 0, 1, 1)
    stream = b"".join(S.serialize_snap_stream(db))
    wire = (
        encode_packet(P.leader_info(2))
        + encode_packet(P.snap(5))
        + stream
        + encode_packet(P.new_leader(2, "version=0"))
        + encode_packet(P.uptodate())
    )
    reader = QuorumPacketReader()
    first = reader.feed(wire)
    assert [p.type for p in first] == [T.LEADERINFO, T.SNAP] and reader.paused
    snap = S.SnapStreamReader()
    events = snap.feed(reader.take_buffered())
    assert snap.done and isinstance(events[-1], S.End)
    rest = reader.resume(snap.leftover)
    assert [p.type for p in rest] == [T.NEWLEADER, T.UPTODATE]
    assert P.decode_config(rest[0].data) == "version=0"


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x00\x00\x02" + b"\x00" * 8 + b"\x7f\xff\xff\xff",  # data length 2 GB
        b"\x00\x00\x00\x02" + b"\x00" * 8 + b"\xff\xff\xff\xfe",  # data length -2
        b"\x00\x00\x00\x05" + b"\x00" * 8 + b"\xff\xff\xff\xff" + b"\x00\x20\x00\x00",  # authinfo count
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
)
def test_reader_refuses_garbage_at_once(garbage):
    reader = QuorumPacketReader()
    with pytest.raises(QuorumStreamError, match="unreasonable length"):
        reader.feed(garbage)


def test_reader_cap_follows_jute_maxbuffer():
    big = R.QuorumPacket(T.PROPOSAL, 1, b"x" * 5000, None).to_bytes()
    assert len(QuorumPacketReader(max_buffer=4096).feed(big)) == 1  # 4096 + extra 4096
    with pytest.raises(QuorumStreamError, match="allows 8192"):
        QuorumPacketReader(max_buffer=4096).feed(R.QuorumPacket(T.PROPOSAL, 1, b"x" * 8193, None).to_bytes())


# ---------------------------------------------------------------------------- payloads
def test_learner_info_as_learner_handler_reads_it():
    qp = P.follower_info(accepted_epoch=1, sid=2, config_version=0)
    # the captured bytes of QUORUM_NOTES.md section 3
    assert encode_packet(qp).hex() == "0000000b" "0000000100000000" "00000014" "0000000000000002" "00010000" "0000000000000000" "ffffffff"
    assert P.decode_learner_info(qp.data) == R.LearnerInfo(2, 0x10000, 0)
    assert P.decode_learner_info(bytes.fromhex("0000000000000007")) == R.LearnerInfo(7, 0x1, -1)
    assert P.decode_learner_info(None) is None
    with pytest.raises(P.PayloadError):
        P.decode_learner_info(b"\x00" * 7)
    assert P.follower_info(3, 4, 0, observer=True).type == T.OBSERVERINFO


def test_epoch_packets():
    assert encode_packet(P.ack_epoch(make_zxid(1, 10), -1)).hex() == "00000012" "000000010000000a" "00000004" "ffffffff" "ffffffff"
    li = P.leader_info(5)
    assert li.zxid == 5 << 32 and P.decode_data(T.LEADERINFO, li.data, True) == 0x10000
    with pytest.raises(P.PayloadError):
        P.decode_data(T.ACKEPOCH, b"\x00\x00\x00", False)


def test_proposal_payload_uses_the_txn_log_codec():
    hdr = R.TxnHeader(0x0100002E9CA60000, 0, 0x100000001, 0x1A233636036, OpCode.createSession)
    qp = P.proposal(hdr, R.CreateSessionTxn(10000), R.TxnDigest(2, 0x51C6D660))
    # QUORUM_NOTES.md section 3's captured createSession proposal
    assert qp.data.hex() == (
        "0100002e9ca60000" "00000000" "0000000100000001" "000001a233636036" "fffffff6" "00002710" "00000002" "0000000051c6d660"
    )
    txn = P.TxnPayload.from_bytes(qp.data)
    assert txn.txn == R.CreateSessionTxn(10000) and txn.digest == R.TxnDigest(2, 0x51C6D660)
    no_digest = P.TxnPayload(hdr, R.CreateSessionTxn(10000))
    assert P.TxnPayload.from_bytes(no_digest.to_bytes()).digest is None
    assert P.inform(hdr, R.CreateSessionTxn(10000)).type == T.INFORM
    act = P.inform_and_activate(3, hdr, R.CreateSessionTxn(10000))
    back = P.decode_data(T.INFORMANDACTIVATE, act.data, True)
    assert back.designated_leader == 3 and back.txn.hdr == hdr
    caa = P.commit_and_activate(9, 2)
    assert caa.zxid == 9 and P.decode_data(T.COMMITANDACTIVATE, caa.data, True) == P.Activate(2)
    with pytest.raises(P.PayloadError):
        P.TxnPayload.from_bytes(b"\x00" * 10)


def test_request_ping_revalidate_sync():
    req = P.QuorumRequest(0x100, 7, OpCode.sync, b"\x00\x00\x00\x01/")
    qp = P.request(req, [R.Id("ip", "127.0.0.1")])
    assert qp.zxid == -1 and P.decode_data(T.REQUEST, qp.data, False) == req
    touches = P.learner_ping(P.leader_ping(0x10000000A), [(1, 30000), (2, 4000)])
    assert touches.zxid == 0x10000000A and len(touches.data) == 24
    assert P.decode_data(T.PING, touches.data, False).touches == [(1, 30000), (2, 4000)]
    assert P.learner_ping(P.leader_ping(1), []).data == b""  # empty, not null
    with pytest.raises(P.PayloadError):
        P.decode_data(T.PING, b"\x00" * 13, False)
    with pytest.raises(P.PayloadError):
        P.decode_data(T.PING, b"", True)  # the leader's PING has no data
    ask = P.revalidate(0x55, 30000)
    reply = P.revalidate_reply(ask, True)
    assert reply.zxid == -1 and P.decode_data(T.REVALIDATE, reply.data, True) == P.RevalidateReply(0x55, True)
    assert P.decode_data(T.REVALIDATE, ask.data, False) == P.RevalidateRequest(0x55, 30000)
    assert P.sync_done().zxid == 0 and P.uptodate().zxid == -1
    with pytest.raises(P.PayloadError):
        P.decode_data(T.COMMIT, b"x", True)


# ---------------------------------------------------------------------------- SNAP stream
def _db() -> ZKDatabase:
    db = ZKDatabase()
    tree = db.tree
    open_acl = tree.acl_cache.intern(((31, "world", "anyone"),))
    secret = tree.acl_cache.intern(((31, "digest", "u:abc"),))
    tree.create_node("/a", b"1", open_acl, 0, 0, 0x101, 1)
    tree.create_node("/a/b", None, secret, 0, 0, 0x102, 2)
    tree.create_node("/e", b"", open_acl, 0x77, 0, 0x103, 3)
    tree.last_processed_zxid = 0x103
    db.sessions_with_timeouts[0x77] = 30000
    return db


def test_snap_stream_round_trip_into_a_fresh_tree_in_small_pieces():
    src = _db()
    wire = b"".join(S.serialize_snap_stream(src, nodes_per_chunk=1)) + b"NEXT"
    db = ZKDatabase()
    loader = S.SnapStreamLoader(db, 0x103)
    done = False
    for i in range(0, len(wire), 3):
        done = loader.feed(wire[i : i + 3]) if not done else done
        if done:
            leftover = loader.reader.leftover + wire[i + 3 :]
            break
    assert done and leftover == b"NEXT"
    assert wire.endswith(b"\x00\x00\x00\x01/\x00\x00\x00\x0aBenWasHereNEXT")
    tree = db.tree
    assert tree.last_processed_zxid == 0x103 and db.sessions_with_timeouts == {0x77: 30000}
    for path in ("/a", "/a/b", "/e", "/zookeeper", "/zookeeper/quota"):
        a, b = src.tree.get_node(path), tree.get_node(path)
        assert (a.data, a.acl, a.czxid, a.ephemeral_owner) == (b.data, b.acl, b.czxid, b.ephemeral_owner), path
    assert tree.ephemerals_of(0x77) == {"/e"} and tree.digest() == src.tree.digest()
    # the root is the stream's first node, named ""; the open ACL is id -1, not in the map
    events = S.SnapStreamReader().feed(wire[:-4])
    assert events[2].path == "" and events[2].node.acl == -1
    assert [i for i, _ in events[1].entries] == sorted(i for i, _ in events[1].entries) and -1 not in dict(events[1].entries)


def test_snap_stream_leaves_out_nodes_created_after_its_zxid():
    src = _db()
    stream = b"".join(S.serialize_snap_stream(src, zxid=0x101))
    paths = [e.path for e in S.SnapStreamReader().feed(stream) if isinstance(e, S.Node)]
    assert "/a" in paths and "/a/b" not in paths and "/e" not in paths


def _load(wire: bytes, zxid: int) -> ZKDatabase:
    db = ZKDatabase()
    assert S.SnapStreamLoader(db, zxid).feed(wire)
    return db


def _nodes(db: ZKDatabase) -> dict:
    return {
        p: (n.data, n.acl, n.czxid, n.mzxid, n.version, n.cversion, n.aversion, n.pzxid, n.ephemeral_owner)
        for p, n in db.tree.nodes.items()
        if p != "/"
    }


CHANGES = st.lists(
    st.tuples(st.sampled_from(["set", "delete", "acl", "create", "kill"]), st.integers(0, 59), st.integers(0, 8)),
    max_size=40,
)


@given(CHANGES)
def test_snap_stream_is_exact_at_its_zxid_whatever_commits_meanwhile(changes):
    """The leader writes a SNAP a chunk at a time and commits between chunks: each node
    changed, deleted, re-ACLed or given a child before the walk reaches it is still
    written as it was at the SNAP zxid (3.8's stream is fuzzy there), so the learner's
    tree equals the leader's at that zxid, digest included."""
    open_acl = ((31, "world", "anyone"),)
    db = ZKDatabase()
    tree = db.tree
    z = 0x100
    for k in range(60):
        z += 1
        parent = "" if k < 10 else f"/p{k % 10}"
        tree.create_node(f"{parent}/p{k}", b"v%d" % k, open_acl, 0x77 if k >= 10 and k % 7 == 6 else 0, -1, z, z)
    db.sessions_with_timeouts[0x77] = 30000
    tree.last_processed_zxid = z
    at_snap = _nodes(db)
    digest_at_snap = tree.digest()
    stream = S.serialize_snap_stream(db, nodes_per_chunk=4)
    chunks = iter(stream)
    wire = [next(chunks)]
    paths = [p for p in tree.nodes if p not in ("", "/")]
    for i, (kind, k, arg) in enumerate(changes):
        z += 1
        live = [p for p in paths if p in tree.nodes]
        if live:
            path = live[k % len(live)]
            if kind == "set":
                tree.set_data(path, b"new%d" % arg, tree.nodes[path].version + 1, z, z)
            elif kind == "delete" and not tree.nodes[path].children and not path.startswith("/zookeeper"):
                tree.delete_node(path, z)
            elif kind == "acl":
                tree.set_acl(path, ((arg + 1, "digest", f"u{arg}:x"),), tree.nodes[path].aversion + 1)
            elif kind == "create":
                tree.create_node(f"{path}/c{i}", b"", open_acl, 0, -1, z, z)
            elif kind == "kill":
                tree.kill_session(0x77, z, None)
        tree.last_processed_zxid = z
        if arg % 3 == 0:
            wire.append(next(chunks, b""))
    wire += list(chunks)
    assert tree.views == []  # the stream let go of its view
    loaded = _load(b"".join(wire), 0x100 + 60)
    assert _nodes(loaded) == at_snap
    assert loaded.tree.digest() == digest_at_snap


def test_snap_stream_errors():
    good = b"".join(S.serialize_snap_stream(_db()))
    bad_sig = good[: -len("BenWasHere")] + b"BenWasThere"[:10]
    with pytest.raises(S.SnapStreamError, match="signature"):
        S.SnapStreamReader().feed(bad_sig)
    with pytest.raises(S.SnapStreamError, match="session count"):
        S.SnapStreamReader().feed(b"\xff\xff\xff\xfe")
    # a huge session count is not trusted to size a read: nothing is buffered ahead
    huge = S.SnapStreamReader()
    assert huge.feed(b"\x7f\xff\xff\xff" + b"\x00" * 12 * 5 + b"\x00" * 5) == []
    assert len(huge._buf) == 5 and huge._items == [(0, 0)] * 5
    with pytest.raises(S.SnapStreamError, match="node data length"):
        S.SnapStreamReader().feed(b"\x00\x00\x00\x00" b"\x00\x00\x00\x00" b"\x00\x00\x00\x00" b"\x7f\x00\x00\x00")
    # a node whose parent is missing
    orphan = b"\x00\x00\x00\x00" b"\x00\x00\x00\x00" + S.encode_events([S.Node("/x/y", S.SnapNode(b"", -1))])
    with pytest.raises(S.SnapStreamError, match="parent"):
        S.SnapStreamLoader(ZKDatabase(), 1).feed(orphan)


def test_snap_stream_dangling_acl_denies_instead_of_opening():
    events = [S.Sessions([]), S.AclEntries([]), S.Node("", S.SnapNode(b"", -1)), S.Node("/n", S.SnapNode(b"", 42)), S.End()]
    db = ZKDatabase()
    loader = S.SnapStreamLoader(db, 5)
    assert loader.feed(S.encode_events(events))
    assert loader.dangling_acls == 1 and db.tree.get_node("/n").acl == S.DENY_ALL


# ---------------------------------------------------------------------------- epoch files
def test_epoch_files_are_decimal_without_newline_and_atomic(tmp_path):
    files = EpochFiles(tmp_path)
    files.set_accepted_epoch(7)
    files.set_current_epoch(6)
    assert (tmp_path / ACCEPTED_EPOCH).read_bytes() == b"7"
    assert (tmp_path / CURRENT_EPOCH).read_bytes() == b"6"
    assert sorted(os.listdir(tmp_path)) == [ACCEPTED_EPOCH, CURRENT_EPOCH]  # no .tmp left
    assert EpochFiles(tmp_path).load(make_zxid(6, 3)) == (6, 7)


def test_missing_epoch_files_are_created_from_the_last_zxid(tmp_path):
    files = EpochFiles(tmp_path)
    assert files.load(make_zxid(4, 9)) == (4, 4)
    assert (tmp_path / CURRENT_EPOCH).read_bytes() == b"4" and (tmp_path / ACCEPTED_EPOCH).read_bytes() == b"4"


def test_current_epoch_behind_the_log(tmp_path):
    (tmp_path / CURRENT_EPOCH).write_bytes(b"2")
    (tmp_path / ACCEPTED_EPOCH).write_bytes(b"3")
    with pytest.raises(EpochFileError, match="currentEpoch: the current epoch, 0x2, is older than the last zxid"):
        EpochFiles(tmp_path).load(make_zxid(3, 1))
    # a crash between writing currentEpoch.tmp and the rename (ZOOKEEPER-1653)
    (tmp_path / "currentEpoch.tmp").write_bytes(b"3")
    files = EpochFiles(tmp_path)
    assert files.load(make_zxid(3, 1)) == (3, 3)
    assert (tmp_path / CURRENT_EPOCH).read_bytes() == b"3" and not (tmp_path / "currentEpoch.tmp").exists()


def test_accepted_epoch_below_current_and_garbage_name_the_file(tmp_path):
    (tmp_path / CURRENT_EPOCH).write_bytes(b"5")
    (tmp_path / ACCEPTED_EPOCH).write_bytes(b"4")
    with pytest.raises(EpochFileError, match=r"acceptedEpoch: the accepted epoch, 0x4, is less than the current"):
        EpochFiles(tmp_path).load(make_zxid(5, 0))
    for junk in (b"", b"five", b" 5", b"5_0", b"99999999999999999999"):
        (tmp_path / ACCEPTED_EPOCH).write_bytes(junk)
        with pytest.raises(EpochFileError, match="acceptedEpoch"):
            EpochFiles(tmp_path).load(make_zxid(5, 0))
    (tmp_path / ACCEPTED_EPOCH).write_bytes(b"6\n")  # Java reads the first line
    assert EpochFiles(tmp_path).load(make_zxid(5, 0)) == (5, 6)


@given(st.sampled_from(sorted(set(range(1, 20)))), st.booleans(), st.one_of(st.none(), st.binary(max_size=80)))
def test_any_payload_decodes_or_fails_with_payload_error(ptype, from_leader, data):
    """Garbage in a packet's data is a PayloadError (the connection closes), never a crash."""
    try:
        value = P.decode_data(ptype, data, from_leader)
    except P.PayloadError:
        return
    if ptype in (T.PROPOSAL, T.INFORM, T.INFORMANDACTIVATE):
        return  # a TxnDigest that does not parse is dropped, as 3.8 ignores it
    if ptype in (T.FOLLOWERINFO, T.OBSERVERINFO) and data is not None and len(data) != 20:
        return  # LearnerHandler's short forms: re-encoded in full
    again = P.encode_data(ptype, value)
    if ptype == T.PING and not from_leader and data is None:
        assert again == b""  # a learner's PING always carries a buffer
    elif ptype == T.REVALIDATE and from_leader:
        # 3.8 reads a long and a boolean (any non-zero byte is true) and ignores the rest
        assert again[:8] == data[:8] and again[8] == (data[8] != 0)
    elif ptype == T.REVALIDATE:
        assert data.startswith(again)  # a long and an int, the rest ignored
    else:
        assert again == data


@given(
    st.integers(-(1 << 63), (1 << 63) - 1),
    st.integers(-(1 << 31), (1 << 31) - 1),
    st.integers(-(1 << 31), (1 << 31) - 1),
    st.binary(max_size=40),
    st.lists(st.tuples(st.integers(-(1 << 63), (1 << 63) - 1), st.integers(-(1 << 31), (1 << 31) - 1)), max_size=5),
)
def test_payload_values_round_trip(sid, cxid, timeout, body, touches):
    for ptype, value, from_leader in (
        (T.REQUEST, P.QuorumRequest(sid, cxid, timeout, body), False),
        (T.PING, P.SessionTouches(touches), False),
        (T.REVALIDATE, P.RevalidateRequest(sid, timeout), False),
        (T.REVALIDATE, P.RevalidateReply(sid, cxid % 2 == 0), True),
        (T.COMMITANDACTIVATE, P.Activate(sid), True),
        (T.LEADERINFO, timeout, True),
        (T.FOLLOWERINFO, R.LearnerInfo(sid, timeout, sid), False),
    ):
        assert P.decode_data(ptype, P.encode_data(ptype, value), from_leader) == value


def test_a_snapshot_saved_before_current_epoch_is_recovered_by_the_updating_mark(tmp_path):
    """3.8's updatingEpoch: a learner saved the SNAP snapshot of epoch 2, then crashed before
    writing currentEpoch 2.  With the mark the data dir starts (currentEpoch taken from the
    snapshot's zxid, the mark removed); without it, it is refused, naming the file."""
    files = EpochFiles(tmp_path)
    files.set_accepted_epoch(2)
    files.set_current_epoch(1)
    files.begin_epoch_update()
    assert (tmp_path / "updatingEpoch").exists()
    assert EpochFiles(tmp_path).load(make_zxid(2, 0)) == (2, 2)
    assert not (tmp_path / "updatingEpoch").exists()
    assert (tmp_path / CURRENT_EPOCH).read_text() == "2"
    files.set_current_epoch(1)
    with pytest.raises(EpochFileError, match="currentEpoch"):
        EpochFiles(tmp_path).load(make_zxid(2, 0))
    files.begin_epoch_update()
    files.end_epoch_update()
    assert not (tmp_path / "updatingEpoch").exists()
