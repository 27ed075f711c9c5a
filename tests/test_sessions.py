"""Sessions end to end: negotiated timeouts, reconnect with the right and the wrong password,
expiry removing ephemerals and notifying watchers.

One raw-socket script runs against zk_twisted and Java ZooKeeper 3.8 with the same zoo.cfg
lines and the transcripts must be equal; kazoo shows the same from a client library's side.
"""

from __future__ import annotations

import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState
from rawclient import Closed, RawClient, connected, create_body, path_watch, strings
from tcpproxy import TCPProxy
from zkharness import server_pair, wait_for

#: tickTime 100 ms: minSessionTimeout 200 ms; maxSessionTimeout set explicitly
EXTRA = {"tickTime": "100", "maxSessionTimeout": "30000", "maxClientCnxns": "0"}
CREATED, DELETED, CHANGED, CHILD = 1, 2, 3, 4
EPHEMERAL = 1


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    with server_pair(tmp_path_factory, EXTRA) as pair:
        yield pair


def _refused(port: int, sid: int, passwd: bytes) -> tuple:
    """A reconnect attempt: what the server answered, and whether it then closed the connection."""
    c = RawClient(port)
    try:
        rsp = c.connect(session_id=sid, passwd=passwd, timeout_ms=300)
        try:
            c.read_frame(2.0)
            closed = False
        except Closed:
            closed = True
        except TimeoutError:
            closed = False
        return rsp.session_id == 0, rsp.timeout, rsp.passwd == bytes(16), closed
    finally:
        c.close()


def _session_script(port: int) -> list:
    out = []
    # negotiated timeouts are clamped to [2*tickTime, maxSessionTimeout]
    for asked in (50, 300, 10**6):
        with connected(port, timeout_ms=asked) as c:
            out.append(("timeout", asked, c.session.timeout))
            c.call("closeSession")
    with connected(port, timeout_ms=30000) as w:  # the watcher, long-lived
        w.call("create", create_body("/sess"))
        a = connected(port, timeout_ms=300)
        sid, pw = a.session.session_id, a.session.passwd
        out.append(("create eph", a.call("create", create_body("/sess/eph", b"e", flags=EPHEMERAL)).err))
        w.call("exists", path_watch("/sess/eph", True))
        w.call("getChildren", path_watch("/sess", True))
        # a second connection with the wrong password is refused and closed ...
        bad = bytes((b ^ 0xFF) for b in pw)
        out.append(("wrong password", _refused(port, sid, bad)))
        # ... the right one takes the session over (the old connection is closed)
        b = connected(port, session_id=sid, passwd=pw, timeout_ms=300)
        out.append(("right password", b.session.session_id == sid, b.session.timeout))
        out.append(("takeover owner", b.call("exists", path_watch("/sess/eph")).err))
        a.close()
        b.close()  # the session's last connection drops; nothing pings any more
        t0 = time.monotonic()
        events = sorted(w.wait_event(15.0) for _ in range(2))
        out.append(("expiry events", events))
        out.append(("expired within", time.monotonic() - t0 < 5.0))
        r = w.call("getChildren", path_watch("/sess"))
        out.append(("children after expiry", r.err, r.body))
        out.append(("reconnect after expiry", _refused(port, sid, pw)))
        w.call("delete", b"\x00\x00\x00\x05/sess\xff\xff\xff\xff")
        w.call("closeSession")
    return out


def test_session_lifecycle_matches_38(servers):
    ours = _session_script(servers["ours"].port)
    java = _session_script(servers["java"].port)
    assert ours == java
    got = {x[0]: x[1:] for x in ours}
    assert [x[1:] for x in ours if x[0] == "timeout"] == [(50, 200), (300, 300), (10**6, 30000)]
    assert got["create eph"] == (0,)
    assert got["wrong password"] == ((True, 0, True, True),)  # expired answer, then closed
    assert got["right password"] == (True, 300)
    assert got["expiry events"] == ([(DELETED, 3, "/sess/eph"), (CHILD, 3, "/sess")],)
    assert got["children after expiry"] == (0, strings([]))
    assert got["reconnect after expiry"] == ((True, 0, True, True),)


def test_kazoo_sees_its_session_expire_and_its_ephemerals_go(servers):
    """kazoo's view: kept away from the server longer than its session timeout, its session
    expires (LOST), its ephemerals are removed, a watcher on another session is told, and
    kazoo comes back with a new session."""
    srv = servers["ours"]
    proxy = TCPProxy(srv.port)
    watcher = KazooClient(srv.hosts, timeout=10)
    victim = KazooClient(proxy.hosts, timeout=1.0)
    watcher.start(timeout=15)
    victim.start(timeout=15)
    try:
        states, seen, gone = [], [], threading.Event()
        victim.add_listener(states.append)
        watcher.ensure_path("/kz")
        victim.create("/kz/e", b"v", ephemeral=True)
        old_sid = victim.client_id[0]

        def on_event(event):
            seen.append((event.type, event.path))
            gone.set()

        assert watcher.exists("/kz/e", watch=on_event) is not None
        proxy.refuse = True
        proxy.cut()
        assert gone.wait(15), "the watcher was not told about the expired session's ephemeral"
        assert seen == [("DELETED", "/kz/e")]
        assert watcher.exists("/kz/e") is None
        proxy.refuse = False
        wait_for(lambda: KazooState.LOST in states, 15, what="kazoo to report LOST")
        wait_for(lambda: victim.connected and victim.client_id[0] != old_sid, 15, what="a new session")
        assert victim.exists("/kz/e") is None
    finally:
        victim.stop()
        watcher.stop()
        victim.close()
        watcher.close()
        proxy.close()
