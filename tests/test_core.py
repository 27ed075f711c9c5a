"""Unit tests of the sans-IO core (Prep -> Final, DataTree, sessions, watches, ACLs).

The same facts are checked end to end against real servers (and Java ZooKeeper) in the
acceptance tests; here each rule of ZooKeeper 3.8 is pinned down in isolation.
"""

from __future__ import annotations

import struct

from corefakes import OPEN_ACL, CoreClient, FakeCnxn, flush, make_core, recomputed_digest

from zk_twisted.constants import Code, CreateMode, EventType, OpCode, Perms
from zk_twisted.jute import records as R
from zk_twisted.jute.multi import decode_multi_response, encode_multi_request
from zk_twisted.server.acl import generate_digest
from zk_twisted.server.final import LARGE_REPLY
from zk_twisted.server.sessions import generate_passwd


def test_stat_fields_and_cversion_counts_creates_and_deletes():
    zks, _ = make_core()
    c = CoreClient(zks)
    err, rsp = c.create("/p", b"data")
    assert err == 0 and rsp.path == "/p"
    st = rsp.stat
    assert st.czxid == st.mzxid == st.pzxid and st.version == 0 and st.dataLength == 4 and st.numChildren == 0
    c.create("/p/a")
    assert c.delete("/p/a") == 0
    err, st = c.exists("/p")
    assert (st.cversion, st.numChildren) == (2, 0)  # one create + one delete
    # the sequence number is the parent's count of creations (stored cversion), not the client's cversion
    err, rsp = c.create("/p/s-", flags=CreateMode.PERSISTENT_SEQUENTIAL)
    assert rsp.path == "/p/s-0000000001"
    err, st = c.exists("/p")
    assert (st.cversion, st.numChildren) == (3, 1)


def test_failed_write_consumes_a_zxid():
    zks, _ = make_core()
    c = CoreClient(zks)
    _, a = c.create("/x")
    err, _ = c.create("/x")
    assert err == Code.NODEEXISTS
    _, b = c.create("/y")
    assert b.stat.czxid == a.stat.czxid + 2


def test_multi_is_all_or_nothing_with_per_op_results():
    zks, _ = make_core()
    c = CoreClient(zks)
    c.create("/m", b"0")
    ops = [
        (OpCode.create, R.CreateRequest("/m/a", b"", OPEN_ACL, 0)),
        (OpCode.check, R.CheckVersionRequest("/m", 5)),
        (OpCode.setData, R.SetDataRequest("/m", b"1", -1)),
    ]
    err, _, body = c.call(OpCode.multi, raw=encode_multi_request(ops))
    assert err == 0  # the header is OK; the results carry the failure, as 3.8
    results = decode_multi_response(body)
    assert [(t, e) for t, e, _ in results] == [
        (OpCode.error, 0),
        (OpCode.error, Code.BADVERSION),
        (OpCode.error, Code.RUNTIMEINCONSISTENCY),
    ]
    assert c.exists("/m/a")[0] == Code.NONODE
    ops[1] = (OpCode.check, R.CheckVersionRequest("/m", 0))
    err, _, body = c.call(OpCode.multi, raw=encode_multi_request(ops))
    assert [t for t, _, _ in decode_multi_response(body)] == [OpCode.create, OpCode.check, OpCode.setData]
    assert c.get("/m")[1].data == b"1"


def test_ephemeral_rules():
    zks, _ = make_core()
    c = CoreClient(zks)
    err, rsp = c.create("/e", flags=CreateMode.EPHEMERAL)
    assert rsp.stat.ephemeralOwner == c.session_id
    assert c.create("/e/child")[0] == Code.NOCHILDRENFOREPHEMERALS
    err, _, body = c.call(OpCode.getEphemerals, R.GetEphemeralsRequest("/"))
    assert R.GetEphemeralsResponse.from_bytes(body).ephemerals == ["/e"]


def test_acl_digest_auth_and_getacl_masking():
    zks, _ = make_core(super_digest=generate_digest("super:secret"))
    owner, other = CoreClient(zks), CoreClient(zks)
    owner.call(OpCode.auth, R.AuthPacket(0, "digest", b"alice:pw"))
    digest = generate_digest("alice:pw")
    acl = [R.ACL(Perms.READ | Perms.ADMIN, R.Id("digest", digest)), R.ACL(Perms.READ, R.Id("world", "anyone"))]
    assert owner.create("/s", b"x", acl=acl)[0] == 0
    assert other.set("/s", b"y")[0] == Code.NOAUTH
    err, _, body = other.call(OpCode.getACL, R.GetACLRequest("/s"))
    masked = R.GetACLResponse.from_bytes(body).acl
    assert masked[0].id.id == "alice:x"  # CVE-2019-0201
    err, _, body = owner.call(OpCode.getACL, R.GetACLRequest("/s"))
    assert R.GetACLResponse.from_bytes(body).acl[0].id.id == digest
    root = CoreClient(zks)
    root.call(OpCode.auth, R.AuthPacket(0, "digest", b"super:secret"))
    assert root.set("/s", b"z")[0] == 0
    # "auth" expands to the creator's authenticated ids; without any it is INVALIDACL
    assert other.create("/t", acl=[R.ACL(31, R.Id("auth", ""))])[0] == Code.INVALIDACL
    assert owner.create("/t", acl=[R.ACL(31, R.Id("auth", ""))])[0] == 0
    err, _, body = owner.call(OpCode.getACL, R.GetACLRequest("/t"))
    assert [(a.id.scheme, a.id.id) for a in R.GetACLResponse.from_bytes(body).acl] == [("digest", digest)]


def test_ip_acl_with_cidr():
    zks, _ = make_core()
    inside, outside = CoreClient(zks, ip="10.1.2.3"), CoreClient(zks, ip="10.2.0.1")
    assert inside.create("/ip", acl=[R.ACL(31, R.Id("ip", "10.1.0.0/16"))])[0] == 0
    assert inside.get("/ip")[0] == 0
    assert outside.get("/ip")[0] == Code.NOAUTH
    assert inside.create("/bad", acl=[R.ACL(31, R.Id("ip", "10.1.0.0/40"))])[0] == Code.INVALIDACL


def test_watch_event_is_written_before_the_reply_that_shows_the_change():
    zks, _ = make_core()
    c = CoreClient(zks)
    c.create("/w", b"1")
    c.get("/w", watch=True)
    c.xid += 1
    zks.process_packet(c.cnxn, struct.pack(">ii", c.xid, OpCode.setData) + R.SetDataRequest("/w", b"2", -1).to_bytes())
    assert c.cnxn.frames == []  # held until durable
    flush(zks)
    frames = c.cnxn.pop()
    xids = [struct.unpack_from(">i", f, 4)[0] for f in frames]
    assert xids == [-1, c.xid]
    # one-shot: a second change fires nothing
    c.set("/w", b"3")
    assert c.events == []


def test_persistent_and_recursive_watches():
    zks, _ = make_core()
    c, w = CoreClient(zks), CoreClient(zks)
    c.create("/r")
    w.call(OpCode.addWatch, R.AddWatchRequest("/r", 1))  # persistent recursive
    w.call(OpCode.addWatch, R.AddWatchRequest("/r", 0))  # and persistent on the same path: both kept
    c.create("/r/a")
    c.create("/r/a/b")
    c.set("/r/a/b", b"x")
    c.delete("/r/a/b")
    w.call(OpCode.ping)
    assert w.events == [
        (EventType.NodeCreated, "/r/a"),
        (EventType.NodeChildrenChanged, "/r"),
        (EventType.NodeCreated, "/r/a/b"),
        (EventType.NodeDataChanged, "/r/a/b"),
        (EventType.NodeDeleted, "/r/a/b"),
    ]
    err, _, _ = w.call(OpCode.removeWatches, R.RemoveWatchesRequest("/r", 3))
    assert err == 0
    assert w.call(OpCode.removeWatches, R.RemoveWatchesRequest("/r", 3))[0] == Code.NOWATCHER


def test_persistent_watch_events_respect_read_acl():
    zks, _ = make_core()
    owner, spy = CoreClient(zks), CoreClient(zks)
    owner.call(OpCode.auth, R.AuthPacket(0, "digest", b"bob:pw"))
    owner.create("/sec")
    spy.call(OpCode.addWatch, R.AddWatchRequest("/sec", 1))
    owner.create("/sec/open")
    owner.create("/sec/hidden", acl=[R.ACL(31, R.Id("digest", generate_digest("bob:pw")))])
    spy.call(OpCode.ping)
    assert spy.events == [(EventType.NodeCreated, "/sec/open")]  # CVE-2024-23944


def test_set_watches_reports_missed_changes():
    zks, _ = make_core()
    c = CoreClient(zks)
    c.create("/a", b"1")
    c.create("/b")
    zxid = zks.db.last_processed_zxid
    c.set("/a", b"2")
    c.create("/b/c")
    other = CoreClient(zks)
    req = R.SetWatches2(zxid, ["/a", "/gone"], ["/b"], ["/b"], [], [])
    assert other.call(OpCode.setWatches2, req)[0] == 0
    assert sorted(other.events) == sorted(
        [
            (EventType.NodeDataChanged, "/a"),
            (EventType.NodeDeleted, "/gone"),
            (EventType.NodeCreated, "/b"),
            (EventType.NodeChildrenChanged, "/b"),
        ]
    )


def test_session_expiry_removes_ephemerals_and_notifies():
    zks, clock = make_core(tick_time=2000, min_session_timeout=4000)
    victim, watcher = CoreClient(zks, timeout=4000), CoreClient(zks, timeout=40000)
    victim.create("/eph", flags=CreateMode.EPHEMERAL)
    watcher.exists("/eph", watch=True)
    for _ in range(4):
        clock.advance(2)
        zks.expire_sessions()
        flush(zks)
        watcher.call(OpCode.ping)  # keeps the watcher's session alive
    assert victim.cnxn.closed
    assert watcher.exists("/eph")[0] == Code.NONODE
    assert (EventType.NodeDeleted, "/eph") in watcher.events
    assert victim.session_id not in zks.sessions


def test_reconnect_password_rules():
    zks, _ = make_core()
    c = CoreClient(zks)
    good = FakeCnxn(zks)
    zks.process_connect(good, R.ConnectRequest(0, 0, 30000, c.session_id, c.passwd).to_bytes())
    rsp, _ = R.ConnectResponse._read(good.pop()[0], 4)
    assert rsp.sessionId == c.session_id and rsp.timeOut == 30000 and not good.closed
    assert c.cnxn.closed  # the old connection of the session is dropped
    bad = FakeCnxn(zks)
    zks.process_connect(bad, R.ConnectRequest(0, 0, 30000, c.session_id, bytes(16)).to_bytes())
    rsp, _ = R.ConnectResponse._read(bad.pop()[0], 4)
    assert (rsp.sessionId, rsp.timeOut, rsp.passwd) == (0, 0, bytes(16)) and bad.closed
    assert generate_passwd(c.session_id) == c.passwd


def test_timeout_is_clamped_and_session_id_has_server_id_on_top():
    zks, _ = make_core(tick_time=2000, min_session_timeout=4000, max_session_timeout=40000)
    assert CoreClient(zks, timeout=10).timeout == 4000
    c = CoreClient(zks, timeout=10**6)
    assert c.timeout == 40000
    assert (c.session_id >> 56) & 0xFF == 1


def test_unknown_opcode_and_bad_paths():
    zks, _ = make_core()
    c = CoreClient(zks)
    assert c.call(999)[0] == Code.UNIMPLEMENTED
    assert not c.cnxn.closed
    assert c.set("/a//b", b"")[0] == Code.BADARGUMENTS
    assert c.get("no-slash")[0] == Code.NONODE  # 3.8 does not validate read paths
    assert c.create("/bad/")[0] == Code.NONODE  # 3.8 looks the parent up before validating
    c.create("/ok")
    assert c.create("/ok/")[0] == Code.BADARGUMENTS
    assert c.delete("/zookeeper") == Code.BADARGUMENTS
    assert c.call(OpCode.reconfig, R.ReconfigRequest(None, None, None, -1))[0] == Code.RECONFIGDISABLED
    assert c.call(OpCode.create, raw=b"\x00\x00")[0] == Code.MARSHALLINGERROR


def test_containers_and_ttl_nodes_are_reaped():
    zks, clock = make_core()
    c = CoreClient(zks)
    err, _, _ = c.call(OpCode.createContainer, R.CreateRequest("/box", b"", OPEN_ACL, CreateMode.CONTAINER))
    assert err == 0
    zks.check_containers()
    assert c.exists("/box")[0] == 0  # never used: kept
    c.create("/box/x")
    c.delete("/box/x")
    zks.check_containers()
    assert c.exists("/box")[0] == 0  # its deleteContainer is not durable yet
    flush(zks)
    assert c.exists("/box")[0] == Code.NONODE
    req = R.CreateTTLRequest("/ttl", b"", OPEN_ACL, CreateMode.PERSISTENT_WITH_TTL, 500)
    assert c.call(OpCode.createTTL, req)[0] == 0
    clock.advance(0.6)
    zks.check_containers()
    flush(zks)
    assert c.exists("/ttl")[0] == Code.NONODE


def test_ttl_needs_extended_types():
    zks, _ = make_core(extended=False)
    c = CoreClient(zks)
    req = R.CreateTTLRequest("/ttl", b"", OPEN_ACL, CreateMode.PERSISTENT_WITH_TTL, 500)
    assert c.call(OpCode.createTTL, req)[0] == Code.UNIMPLEMENTED


def test_whoami_and_children_counts():
    zks, _ = make_core()
    c = CoreClient(zks)
    c.call(OpCode.auth, R.AuthPacket(0, "digest", b"carol:pw"))
    err, _, body = c.call(OpCode.whoAmI)
    infos = R.WhoAmIResponse.from_bytes(body).clientInfo
    # in the order 3.8's ConcurrentHashMap of ids yields them (checked against Java 3.8)
    assert [(i.authScheme, i.user) for i in infos] == [("digest", "carol"), ("ip", "127.0.0.1")]
    c.create("/n")
    c.create("/n/a")
    c.create("/n/a/b")
    err, _, body = c.call(OpCode.getAllChildrenNumber, R.GetAllChildrenNumberRequest("/n"))
    assert struct.unpack(">i", body)[0] == 2
    err, _, body = c.call(OpCode.getAllChildrenNumber, R.GetAllChildrenNumberRequest("/"))
    assert struct.unpack(">i", body)[0] == 6  # /n, /n/a, /n/a/b and /zookeeper{,/quota,/config}


def test_incremental_digest_matches_recomputation():
    zks, clock = make_core()
    c = CoreClient(zks)
    c.create("/d", b"1")
    c.create("/d/e", b"2", flags=CreateMode.EPHEMERAL)
    c.set("/d", b"3")
    c.delete("/d/e")
    c.call(OpCode.setACL, R.SetACLRequest("/d", [R.ACL(1, R.Id("world", "anyone"))], -1))
    tree = zks.db.tree
    assert recomputed_digest(tree) == tree.tree_digest
    assert zks.db.digest_mismatches == 0


def test_digest_of_nodes_changed_many_times_between_reads():
    """The tree adds a changed node's digest when the digest is next read: the root under
    both of its paths, a node set, deleted and created again in one batch, all still sum up."""
    zks, _ = make_core()
    c = CoreClient(zks)
    c.set("/", b"root data")  # the root changed through "/", then through "" by a create
    c.create("/h", b"0")
    tree = zks.db.tree
    tree.tree_digest  # noqa: B018 - a read settles the pending nodes
    for i in range(5):
        tree.set_data("/h", bytes([i]), i + 1, 1000 + i, 0)
    tree.create_node("/h/x", b"", (), 0, -1, 1010, 0)
    tree.delete_node("/h/x", 1011)
    tree.create_node("/h/x", b"again", (), 0, -1, 1012, 0)
    tree.set_data("/", b"root again", 2, 1013, 0)
    assert recomputed_digest(tree) == tree.tree_digest


def test_a_txn_digest_that_disagrees_with_the_tree_is_counted():
    zks, _ = make_core(check_digest=False)
    c = CoreClient(zks)
    c.create("/m", b"1")
    db = zks.db
    assert db.digest_mismatches == 0
    hdr = R.TxnHeader(0, 0, zks.next_zxid(), 0, OpCode.setData)
    good = R.TxnDigest(2, 0)
    db.process_txn(hdr, R.SetDataTxn("/m", b"2", 1), good)
    # a txn without a digest settles the previous one before it is applied
    db.process_txn(R.TxnHeader(0, 0, zks.next_zxid(), 0, OpCode.error), R.ErrorTxn(Code.NONODE))
    assert db.digest_mismatches == 1
    hdr = R.TxnHeader(0, 0, zks.next_zxid(), 0, OpCode.setData)
    db.process_txn(hdr, R.SetDataTxn("/m", b"3", 2), R.TxnDigest(2, db.tree.digest()))
    db.verify_digest()
    assert db.digest_mismatches == 2  # the tree changed after the digest was taken
    c.set("/m", b"4")  # a live write: Prep's digest, checked once its batch is applied
    assert db.digest_mismatches == 2


def test_quota_stats_follow_the_subtree_and_hard_limits_refuse():
    zks, _ = make_core(enforce_quota=True)
    c = CoreClient(zks)
    c.create("/q", b"12")
    c.create("/q/a", b"345")
    # what zkCli's setquota writes
    c.create("/zookeeper/quota/q")
    c.create("/zookeeper/quota/q/zookeeper_limits", b"count=-1,bytes=-1=;countHardLimit=3")
    c.create("/zookeeper/quota/q/zookeeper_stats", b"count=0,bytes=0")
    assert c.get("/zookeeper/quota/q/zookeeper_stats")[1].data == b"count=2,bytes=5"
    c.create("/q/b", b"6")
    assert c.get("/zookeeper/quota/q/zookeeper_stats")[1].data == b"count=3,bytes=6"
    assert c.create("/q/c")[0] == Code.QUOTAEXCEEDED
    c.set("/q/a", b"")
    c.delete("/q/b")
    assert c.get("/zookeeper/quota/q/zookeeper_stats")[1].data == b"count=2,bytes=2"


def test_approximate_data_size_is_kept_incrementally():
    zks, _ = make_core()
    c = CoreClient(zks)
    c.create("/s", b"abc")
    c.create("/s/t", b"de", flags=CreateMode.EPHEMERAL)
    c.set("/s", b"x")
    c.delete("/s/t")
    tree = zks.db.tree
    assert tree.approximate_data_size() == sum(len(p) + len(n.data or b"") for p, n in tree.nodes.items())


def test_reply_beyond_jute_maxbuffer_is_sent_whole():
    """3.8 sends a reply of any size (jute.maxbuffer bounds what the server reads; each client
    bounds what it reads), so a big child list is a normal reply, counted in the stats."""
    zks, _ = make_core(max_buffer=4096)
    c = CoreClient(zks)
    c.create("/big")
    names = [f"child-with-a-long-name-{i:04d}" for i in range(2500)]  # 80 kB: sent in pieces
    for n in names:
        c.create(f"/big/{n}")
    err, rsp = c.children("/big")  # getChildren2: pieces + Stat
    assert err == 0 and sorted(rsp.children) == names
    size = 4 + sum(4 + len(n) for n in names) + 68 + 16  # count, names, Stat, reply header
    assert size > LARGE_REPLY > 4096 and zks.stats.response_sizes.last == size
    err, _, body = c.call(OpCode.getChildren, R.GetChildrenRequest("/big", False))
    assert err == 0 and sorted(R.GetChildrenResponse.from_bytes(body, exact=True).children) == names
    assert zks.stats.response_sizes.last == size - 68


def test_create_flags_that_disagree_with_the_opcode():
    zks, _ = make_core()
    c = CoreClient(zks)
    # create2 with the CONTAINER flag makes a plain node (the txn is a CreateTxn), digest intact
    err, rsp = c.create("/c", b"x", flags=CreateMode.CONTAINER)
    assert err == 0 and "/c" not in zks.db.tree.containers
    req = R.CreateTTLRequest("/t", b"", OPEN_ACL, CreateMode.PERSISTENT, -1)
    assert c.call(OpCode.createTTL, req)[0] == Code.BADARGUMENTS
    assert zks.db.digest_mismatches == 0


def _multi(ops) -> bytes:
    from zk_twisted.jute.multi import encode_multi_request

    return encode_multi_request(ops)


def test_pipelined_failed_multi_gives_the_parent_its_in_flight_change_back():
    """ZOOKEEPER-1624: a failed multi's rollback restores the parent's record of an
    in-flight create, so the next sequential name counts that create."""
    zks, _ = make_core()
    c = CoreClient(zks)
    c.create("/t")
    c.send(OpCode.create2, R.CreateRequest("/t/x", b"", OPEN_ACL, 0))
    failing = [(OpCode.create2, R.CreateRequest("/t/m", b"", OPEN_ACL, 0)), (OpCode.check, R.CheckVersionRequest("/", 99))]
    c.send(OpCode.multi, raw=_multi(failing))
    seq = c.send(OpCode.create2, R.CreateRequest("/t/s-", b"", OPEN_ACL, CreateMode.PERSISTENT_SEQUENTIAL))
    assert len(zks.prep.outstanding) > 2  # all three are in flight
    flush(zks)
    err, _, body = c.receive()[seq]
    assert err == 0 and R.Create2Response.from_bytes(body).path == "/t/s-0000000001"
    assert zks.db.digest_mismatches == 0


def test_mixed_multi_is_refused_before_any_change_record(caplog):
    """3.8 refuses a read op inside a write multi while decoding it: MARSHALLINGERROR, an
    error txn, no change record; a create of the multi's path right after it succeeds."""
    zks, _ = make_core()
    c = CoreClient(zks)
    c.send(OpCode.create2, R.CreateRequest("/busy", b"", OPEN_ACL, 0))  # something in flight
    mixed = [(OpCode.create2, R.CreateRequest("/m", b"", OPEN_ACL, 0)), (OpCode.getData, R.GetDataRequest("/", False))]
    with caplog.at_level("WARNING"):
        bad = c.send(OpCode.multi, raw=_multi(mixed))
    assert "Failed to process" in caplog.text and "Mixing different kind of ops" in caplog.text
    assert "/m" not in zks.prep.outstanding_for_path
    create = c.send(OpCode.create2, R.CreateRequest("/m", b"", OPEN_ACL, 0))
    flush(zks)
    replies = c.receive()
    assert replies[bad][0] == Code.MARSHALLINGERROR and replies[create][0] == 0
    assert not zks.prep.outstanding and zks.db.digest_mismatches == 0


def test_sessions_expire_on_the_monotonic_clock_and_txns_carry_the_wall_clock():
    """Two injected clocks: a wall-clock step of a day expires nothing and shows in ctime;
    only the monotonic clock running past the timeout expires the session."""
    from twisted.internet.task import Clock

    from zk_twisted.server.datatree import DataTree
    from zk_twisted.server.zkdatabase import ZKDatabase
    from zk_twisted.server.zkserver import ServerSettings, ZooKeeperServer

    mono, wall = Clock(), Clock()
    wall.advance(1_700_000_000)
    zks = ZooKeeperServer(ServerSettings(), ZKDatabase(DataTree()), mono, wall_clock=wall.seconds)
    c = CoreClient(zks, timeout=10000)
    c.create("/e", flags=CreateMode.EPHEMERAL)
    wall.advance(86400)
    zks.expire_sessions()
    assert c.session_id in zks.sessions
    err, rsp = c.create("/after")
    assert err == 0 and c.exists("/after")[1].ctime == (1_700_000_000 + 86400) * 1000
    mono.advance(30)
    zks.expire_sessions()
    assert c.session_id not in zks.sessions


def test_an_exception_mid_multi_rolls_back_what_the_multi_had_changed(caplog):
    """Not a KeeperError (a create with a null path, found only when that op is reached):
    MARSHALLINGERROR, logged with the request, and the ops before it leave nothing behind."""
    zks, _ = make_core()
    c = CoreClient(zks)
    c.send(OpCode.create2, R.CreateRequest("/busy", b"", OPEN_ACL, 0))  # something in flight
    ops = [(OpCode.create2, R.CreateRequest("/a", b"", OPEN_ACL, 0)), (OpCode.create2, R.CreateRequest(None, b"", OPEN_ACL, 0))]
    with caplog.at_level("WARNING"):
        bad = c.send(OpCode.multi, raw=encode_multi_request(ops))
    assert "Failed to process" in caplog.text
    assert "/a" not in zks.prep.outstanding_for_path
    again = c.send(OpCode.create2, R.CreateRequest("/a", b"", OPEN_ACL, 0))
    flush(zks)
    replies = c.receive()
    assert replies[bad][0] == Code.MARSHALLINGERROR and replies[again][0] == 0
    assert zks.db.digest_mismatches == 0
