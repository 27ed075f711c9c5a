"""Watches end to end: one-shot, persistent, recursive, removal, reconnect, ordering.

kazoo (with ``kazoo_ext`` for addWatch and the events kazoo has no watcher for) and the
raw client drive zk_twisted; where the wire answer matters the same script runs against
Java ZooKeeper 3.8 and the transcripts are compared.  The Java client's own view of the
same features (addWatch, removeWatches, setWatches / setWatches2 after a reconnect) is in
test_compat_java.py.
"""

from __future__ import annotations

import threading

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState
from kazoo.recipe.watchers import ChildrenWatch, DataWatch
from kazoo_ext import AddWatch, CheckWatches, RemoveWatches, call, record_events
from rawclient import (
    Closed,
    RawClient,
    Reader,
    buffer,
    connected,
    create_body,
    i32,
    i64,
    path_watch,
    strings,
    ustring,
)
from tcpproxy import TCPProxy
from zkharness import server_pair, wait_for

EXTRA = {"maxClientCnxns": "0"}
CREATED, DELETED, CHANGED, CHILD = 1, 2, 3, 4
DATA_REMOVED, CHILD_REMOVED, PERSISTENT_REMOVED = 5, 6, 7


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    with server_pair(tmp_path_factory, EXTRA) as pair:
        yield pair


@pytest.fixture
def ours(servers):
    return servers["ours"]


def kazoo(hosts: str) -> KazooClient:
    c = KazooClient(hosts, timeout=10)
    c.start(timeout=15)
    return c


def both(servers, case) -> tuple:
    return case(servers["ours"]), case(servers["java"])


# ------------------------------------------------------------------------------------------
# one-shot watches through kazoo's recipes


def test_kazoo_data_and_children_watch_recipes(ours):
    """kazoo's DataWatch / ChildrenWatch (re-arm after each event) see every change, in order."""
    w, c = kazoo(ours.hosts), kazoo(ours.hosts)
    try:
        c.create("/recipes/node", b"v0", makepath=True)
        data, kids = [], []
        cond = threading.Condition()

        def on_data(value, stat):
            with cond:
                data.append(value)
                cond.notify_all()

        def on_kids(children):
            with cond:
                kids.append(sorted(children))
                cond.notify_all()

        DataWatch(w, "/recipes/node", on_data)
        ChildrenWatch(w, "/recipes", on_kids)
        with cond:
            assert cond.wait_for(lambda: data == [b"v0"] and kids == [["node"]], 10)
        for i in range(1, 6):
            c.set("/recipes/node", f"v{i}".encode())
            with cond:  # one change at a time: a one-shot watch sees the change after its re-arm
                assert cond.wait_for(lambda i=i: data[-1] == f"v{i}".encode(), 10), data
            c.create(f"/recipes/k{i}")
            with cond:
                assert cond.wait_for(lambda i=i: len(kids[-1]) == i + 1, 10), kids
        c.delete("/recipes/node")
        with cond:
            assert cond.wait_for(lambda: data[-1] is None and "node" not in kids[-1], 10)
        assert data == [b"v0", b"v1", b"v2", b"v3", b"v4", b"v5", None]
        assert kids[-1] == ["k1", "k2", "k3", "k4", "k5"]
    finally:
        for k in (w, c):
            k.stop()
            k.close()


# ------------------------------------------------------------------------------------------
# persistent and recursive watches (addWatch through kazoo's connection)


def test_persistent_and_recursive_watches(servers):
    """addWatch modes 0 and 1: persistent watches fire for the node and its children list and
    stay; recursive ones fire for the whole subtree, never with NodeChildrenChanged."""

    def case(srv):
        w, c = kazoo(srv.hosts), kazoo(srv.hosts)
        try:
            log = record_events(w)
            c.ensure_path("/pw")
            out = [call(w, AddWatch("/pw/p", 0)), call(w, AddWatch("/pw/r", 1)), call(w, AddWatch("/pw/nothing", 1))]
            c.create("/pw/p", b"0")
            for i in range(3):
                c.set("/pw/p", str(i).encode())
            c.create("/pw/p/c1")
            c.set("/pw/p/c1", b"x")  # a child's data: not an event for a plain persistent watch
            c.delete("/pw/p/c1")
            c.create("/pw/r/a/b/c", makepath=True)
            c.set("/pw/r/a/b", b"y")
            c.create("/pw/r/a/e", ephemeral=True)
            c.delete("/pw/r/a/e")
            c.delete("/pw/p")
            c.create("/pw/p", b"again")  # the persistent watch outlived the node
            c.create("/pw/r/sentinel")
            out.append(log.wait_for(lambda ev: (CREATED, "/pw/r/sentinel") in ev))
            return out
        finally:
            for k in (w, c):
                k.stop()
                k.close()

    ours, java = both(servers, case)
    assert ours == java
    assert ours[:3] == [0, 0, 0]  # addWatch answers an ErrorResponse(0) body
    assert ours[3] == [
        (CREATED, "/pw/p"),
        (CHANGED, "/pw/p"), (CHANGED, "/pw/p"), (CHANGED, "/pw/p"),
        (CHILD, "/pw/p"), (CHILD, "/pw/p"),
        (CREATED, "/pw/r"), (CREATED, "/pw/r/a"), (CREATED, "/pw/r/a/b"), (CREATED, "/pw/r/a/b/c"),
        (CHANGED, "/pw/r/a/b"), (CREATED, "/pw/r/a/e"), (DELETED, "/pw/r/a/e"),
        (DELETED, "/pw/p"), (CREATED, "/pw/p"),
        (CREATED, "/pw/r/sentinel"),
    ]  # fmt: skip


def test_recursive_watch_on_root_and_acl_filtering(servers):
    """A recursive watch on "/" sees every change in the tree the watcher may READ (CVE-2024-23944)."""

    def case(srv):
        w, c = kazoo(srv.hosts), kazoo(srv.hosts)
        try:
            log = record_events(w)
            call(w, AddWatch("/", 1))
            c.add_auth("digest", "alice:pw")
            from kazoo.security import make_digest_acl

            c.create("/acl-r/secret", b"", makepath=True, acl=[make_digest_acl("alice", "pw", all=True)])
            c.set("/acl-r/secret", b"s")
            c.create("/acl-r/secret/child")  # readable by anyone: its events are sent
            c.delete("/acl-r/secret/child")
            c.delete("/acl-r/secret")
            c.create("/acl-r/open")
            return log.wait_for(lambda ev: (CREATED, "/acl-r/open") in ev)
        finally:
            for k in (w, c):
                k.stop()
                k.close()

    ours, java = both(servers, case)
    assert ours == java
    assert (CHANGED, "/acl-r/secret") not in ours and (CREATED, "/acl-r/secret/child") in ours


# ------------------------------------------------------------------------------------------
# removal


def test_check_and_remove_watches(servers):
    """checkWatches (17) and removeWatches (18) by type: NOWATCHER when there is none, the removed
    watches fire no more; removing a persistent watch needs type Any or the matching manager."""

    def case(srv):
        w, c = kazoo(srv.hosts), kazoo(srv.hosts)
        out = []

        def step(label, request):
            try:
                out.append((label, call(w, request)))
            except Exception as e:  # noqa: BLE001 - the kazoo exception names the code
                out.append((label, type(e).__name__))

        try:
            log = record_events(w)
            c.ensure_path("/rm/a")
            step("check none", CheckWatches("/rm/a", 3))
            step("remove none", RemoveWatches("/rm/a", 3))
            w.get("/rm/a", watch=lambda e: None)
            step("check data", CheckWatches("/rm/a", 2))
            step("check children", CheckWatches("/rm/a", 1))
            step("check any", CheckWatches("/rm/a", 3))
            step("remove children", RemoveWatches("/rm/a", 1))
            step("remove data", RemoveWatches("/rm/a", 2))
            step("remove data again", RemoveWatches("/rm/a", 2))
            w.get_children("/rm/a", watch=lambda e: None)
            w.exists("/rm/missing", watch=lambda e: None)
            step("check exist watch (data)", CheckWatches("/rm/missing", 2))
            step("remove any", RemoveWatches("/rm/a", 3))
            step("remove exist", RemoveWatches("/rm/missing", 2))
            call(w, AddWatch("/rm/p", 0))
            call(w, AddWatch("/rm/r", 1))
            step("check persistent data", CheckWatches("/rm/p", 2))
            step("check persistent children", CheckWatches("/rm/p", 1))
            step("remove persistent data", RemoveWatches("/rm/p", 2))
            step("check persistent after data removal", CheckWatches("/rm/p", 1))
            step("remove persistent any", RemoveWatches("/rm/p", 3))
            step("remove recursive any", RemoveWatches("/rm/r", 3))
            step("check recursive gone", CheckWatches("/rm/r", 3))
            step("bad type", RemoveWatches("/rm/a", 9))
            # none of the removed watches fire any more
            c.set("/rm/a", b"1")
            c.create("/rm/a/k")
            c.create("/rm/missing")
            c.create("/rm/p")
            c.create("/rm/r")
            w.exists("/rm/sentinel", watch=lambda e: None)
            c.create("/rm/sentinel")
            out.append(("events", log.wait_for(lambda ev: (CREATED, "/rm/sentinel") in ev)))
            return out
        finally:
            for k in (w, c):
                k.stop()
                k.close()

    ours, java = both(servers, case)
    assert ours == java
    got = dict(ours)
    assert got["remove none"] == "NoWatcherError" and got["remove data"] is True
    assert got["events"] == [(CREATED, "/rm/sentinel")]


def test_check_watches_of_another_connection_differs_from_38(servers):
    """3.8's WatchManager.containsWatcher answers "found" when *any* connection watches the path
    (a 3.8 bug; its Java client then fails the removal locally anyway).  We answer for the asking
    connection only: NOWATCHER.  Raw clients see the difference; pinned here on both sides."""

    def case(srv):
        with connected(srv.port) as a, connected(srv.port) as b:
            a.call("create", create_body("/cw"))
            a.call("getData", path_watch("/cw", True))
            return [b.call("checkWatches", ustring("/cw") + i32(2)).err, b.call("removeWatches", ustring("/cw") + i32(2)).err]

    ours, java = both(servers, case)
    assert java == [0, -121]
    assert ours == [-121, -121]


# ------------------------------------------------------------------------------------------
# watches and connections: re-registration after a reconnect


def _session_watch_script(srv, set_watches_op: str):
    """A session watches, its TCP connection drops, things change, the session comes back on a new
    connection and re-registers with setWatches / setWatches2 relative to the last zxid it saw."""
    B = "/" + set_watches_op  # each script on its own subtree: the servers serve the whole module
    out = []
    with connected(srv.port) as m:  # the mutator
        m.call("create", create_body(B))
        for p in ("d", "kids", "gone", "same", "p", "r"):
            m.call("create", create_body(f"{B}/{p}", b"0"))
        a = connected(srv.port, timeout_ms=30000)
        sid, pw = a.session.session_id, a.session.passwd
        a.call("getData", path_watch(B + "/d", True))
        a.call("exists", path_watch(B + "/missing", True))
        a.call("getChildren", path_watch(B + "/kids", True))
        a.call("getData", path_watch(B + "/gone", True))
        a.call("getData", path_watch(B + "/same", True))
        last = a.call("exists", path_watch(B, False)).zxid  # the last zxid this client saw
        a.close()  # the connection drops; the session lives on
        m.call("setData", ustring(B + "/d") + buffer(b"1") + i32(-1))
        m.call("create", create_body(B + "/missing"))
        m.call("create", create_body(B + "/kids/k"))
        m.call("delete", ustring(B + "/gone") + i32(-1))
        m.call("setData", ustring(B + "/p") + buffer(b"x") + i32(-1))
        m.call("create", create_body(B + "/r/x"))
        b = connected(srv.port, session_id=sid, passwd=pw, timeout_ms=30000)
        out.append(("same session", b.session.session_id == sid))
        body = i64(last) + strings([B + "/d", B + "/gone", B + "/same"]) + strings([B + "/missing"]) + strings([B + "/kids"])
        if set_watches_op == "setWatches2":
            body += strings([B + "/p"]) + strings([B + "/r"])
        r = b.call(set_watches_op, body, xid=-8)
        out.append(("reply", r.xid, r.err, r.body))
        out.append(("missed", [(t, s, p) for t, s, p in b.events]))
        b.events.clear()
        m.call("setData", ustring(B + "/same") + buffer(b"s") + i32(-1))
        m.call("setData", ustring(B + "/d") + buffer(b"2") + i32(-1))  # its watch was spent
        m.call("setData", ustring(B + "/p") + buffer(b"y") + i32(-1))
        m.call("create", create_body(B + "/r/x/y"))
        m.call("create", create_body(B + "/sentinel"))
        b.call("exists", path_watch(B + "/sentinel2", True))
        m.call("create", create_body(B + "/sentinel2"))
        events = []
        while not events or events[-1] != (CREATED, B + "/sentinel2"):
            t, _s, p = b.wait_event()
            events.append((t, p))
        out.append(("after", events))
        b.call("closeSession")
        m.call("closeSession")
    return out


def test_set_watches_after_reconnect(servers):
    ours, java = both(servers, lambda s: _session_watch_script(s, "setWatches"))
    assert ours == java
    got = {x[0]: x[1:] for x in ours}
    assert got["reply"] == (-8, 0, b"")
    assert sorted(got["missed"][0]) == [
        (CREATED, 3, "/setWatches/missing"),
        (DELETED, 3, "/setWatches/gone"),
        (CHANGED, 3, "/setWatches/d"),
        (CHILD, 3, "/setWatches/kids"),
    ]
    assert got["after"][0] == [(CHANGED, "/setWatches/same"), (CREATED, "/setWatches/sentinel2")]


def test_set_watches2_after_reconnect(servers):
    """Persistent watches come back too; as in 3.8 their missed changes are not replayed."""
    ours, java = both(servers, lambda s: _session_watch_script(s, "setWatches2"))
    assert ours == java
    got = {x[0]: x[1:] for x in ours}
    assert got["after"][0] == [
        (CHANGED, "/setWatches2/same"),
        (CHANGED, "/setWatches2/p"),
        (CREATED, "/setWatches2/r/x/y"),
        (CREATED, "/setWatches2/sentinel2"),
    ]


def test_watches_die_with_the_connection(servers):
    """Without setWatches, a new connection of the same session has no watches."""

    def case(srv):
        with connected(srv.port) as m:
            m.call("create", create_body("/die"))
            a = connected(srv.port)
            sid, pw = a.session.session_id, a.session.passwd
            a.call("getData", path_watch("/die", True))
            a.close()
            b = connected(srv.port, session_id=sid, passwd=pw)
            b.call("ping", xid=-2)
            m.call("setData", ustring("/die") + buffer(b"1") + i32(-1))
            b.call("exists", path_watch("/die2", True))
            m.call("create", create_body("/die2"))
            ev = b.wait_event()
            b.call("closeSession")
            m.call("closeSession")
            return ev

    ours, java = both(servers, case)
    assert ours == java == (CREATED, 3, "/die2")


def test_kazoo_rereads_after_reconnect(ours):
    """kazoo never sends setWatches: after a reconnect its DataWatch re-reads and re-arms itself."""
    c = kazoo(ours.hosts)
    with TCPProxy(ours.port) as proxy:
        w = KazooClient(proxy.hosts, timeout=10)
        w.start(timeout=15)
        states = []
        w.add_listener(states.append)
        try:
            c.create("/reread", b"a")
            seen = []
            cond = threading.Condition()

            def on_data(value, stat):
                with cond:
                    seen.append(value)
                    cond.notify_all()

            DataWatch(w, "/reread", on_data)
            with cond:
                assert cond.wait_for(lambda: seen == [b"a"], 10)
            proxy.refuse = True
            assert proxy.cut() == 1
            wait_for(lambda: KazooState.SUSPENDED in states, 10, what="kazoo suspended")
            c.set("/reread", b"b")  # while the watcher is away
            proxy.refuse = False
            wait_for(lambda: states[-1] == KazooState.CONNECTED, 20, what="kazoo reconnected")
            c.set("/reread", b"c")
            with cond:
                assert cond.wait_for(lambda: seen[-1] == b"c", 10), seen
            assert seen[0] == b"a" and seen[-1] == b"c"
        finally:
            w.stop()
            w.close()
            c.stop()
            c.close()


# ------------------------------------------------------------------------------------------
# ordering: the event comes before any reply that shows the change


def test_watch_event_precedes_the_reply_showing_new_data(servers):
    """ZooKeeper's ordering guarantee, checked on the wire: a client that watches a node never
    receives a reply showing the node's new data before the watch event for that change."""

    def case(srv):
        with connected(srv.port) as w, connected(srv.port) as c:
            w.call("create", create_body("/order", b"0"))
            violations = 0
            for rnd in range(1, 31):
                w.log.clear()
                w.call("getData", path_watch("/order", True))
                new = str(rnd).encode()
                # the writer's request and a burst of the watcher's reads race each other
                c.send_request("setData", ustring("/order") + buffer(new) + i32(-1))
                xids = [w.send_request("getData", path_watch("/order")) for _ in range(20)]
                first_new = None
                for xid in xids:
                    r = w.read_reply(xid)
                    if first_new is None and Reader(r.body).buffer() == new:
                        first_new = len(w.log) - 1
                c.read_reply(c.xid)
                while not any(kind == "event" for kind, _ in w.log):
                    w.wait_event()
                    w.events.clear()
                ev_at = next(i for i, (kind, _) in enumerate(w.log) if kind == "event")
                if first_new is not None and ev_at > first_new:
                    violations += 1
                w.events.clear()
            # the writer's own watch: the event precedes its own setData reply
            w.call("getData", path_watch("/order", True))
            w.log.clear()
            w.call("setData", ustring("/order") + buffer(b"own") + i32(-1))
            own = [kind for kind, _ in w.log]
            return violations, own

    (v_ours, own_ours), (v_java, own_java) = both(servers, case)
    assert v_ours == 0 and v_java == 0
    assert own_ours == own_java == ["event", "reply"]


def test_many_watchers_all_notified(ours):
    """Fifty connections watch one node: each gets exactly one NodeDataChanged."""
    clients = [RawClient(ours.port) for _ in range(50)]
    try:
        for c in clients:
            c.connect()
        clients[0].call("create", create_body("/fan", b"0"))
        for c in clients:
            c.call("getData", path_watch("/fan", True))
            c.call("exists", path_watch("/fan", True))  # same path, data manager: still one event
        with connected(ours.port) as m:
            m.call("setData", ustring("/fan") + buffer(b"1") + i32(-1))
            m.call("setData", ustring("/fan") + buffer(b"2") + i32(-1))
        for c in clients:
            assert c.wait_event() == (CHANGED, 3, "/fan")
            assert c.call("ping", xid=-2).err == 0 and c.events == []  # nothing else came
    finally:
        for c in clients:
            try:
                c.call("closeSession")
            except (Closed, OSError):
                pass
            c.close()
