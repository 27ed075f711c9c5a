"""A reply far beyond jute.maxbuffer is sent whole, as 3.8 sends it.

jute.maxbuffer bounds what a ZooKeeper 3.8 server *reads*; what it sends has no limit and
each client enforces its own (kazoo has none; Java clients set their own jute.maxbuffer).
10,000 children with 2,000-character names make one getChildren reply of about 20 MB.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
import rawclient as raw
from corefakes import make_core
from kazoo.client import KazooClient
from twisted.internet.testing import StringTransport
from zkharness import JavaZK, ZKProcess

from zk_twisted.network.client_port import ClientFactory

N = 10_000
NAME_LEN = 2_000
CFG = {"forceSync": "no", "maxClientCnxns": "0"}


def names() -> list[str]:
    return [f"{i:05d}-" + "n" * (NAME_LEN - 6) for i in range(N)]


def proc_kb(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1))


def reset_peak_rss(pid: int) -> bool:
    """Linux: writing 5 to clear_refs resets VmHWM to the current RSS."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def fill_and_list(hosts: str, on_listed=None) -> list[str]:
    c = KazooClient(hosts, timeout=30)
    c.start(timeout=30)
    try:
        c.create("/big")
        # pipelined: every create is sent before the first answer is awaited
        pending = [c.create_async(f"/big/{n}") for n in names()]
        for p in pending:
            p.get(timeout=120)
        before = on_listed() if on_listed else None
        got = c.get_children("/big")
        if on_listed:
            on_listed(before)
        # getChildren2: the Stat follows the streamed names
        again, stat = c.get_children("/big", include_data=True)
        assert again == got and stat.numChildren == N and stat.cversion == N
        # the connection serves on after the big replies
        assert c.exists("/big").numChildren == N
        return got
    finally:
        c.stop()
        c.close()


@pytest.mark.parametrize("server", ["ours", "java"])
def test_ten_thousand_long_children_in_one_reply(server, tmp_path):
    """The reply is 10,000 x (4 + 2,000) bytes + 20 = 20,040,020 bytes, 19x the default
    jute.maxbuffer; the creates are 2 kB each, so neither server needs a raised limit.

    Memory cost of the reply, as the server's peak RSS during the listing over its RSS just
    before (VmHWM reset through /proc/PID/clear_refs), measured on this machine:
    zk_twisted streams it (encoded 256 kB at a time as the socket drains): +0 to +0.8 MB.
    Built whole, as before (the encoded names, their join, the header prepended): +41 MB.
    Java 3.8 (serializes into a growing byte array, then queues it): +85 MB of RSS.
    """
    if server == "ours":
        srv = ZKProcess(tmp_path / "ours", extra=CFG).start()
        pid = srv.proc.pid
    else:
        srv = JavaZK(tmp_path / "java", extra=CFG).start()
        pid = int((srv.base / "zk.pid").read_text())
    measured = {}

    def on_listed(before=None):
        if before is None:
            return (proc_kb(pid, "VmRSS"), reset_peak_rss(pid))
        rss, reset = before
        if reset:
            measured["peak_extra_kb"] = proc_kb(pid, "VmHWM") - rss
        return None

    try:
        got = fill_and_list(srv.hosts, on_listed)
    finally:
        srv.stop()
    assert len(got) == N and sorted(got) == names()
    reply_kb = (N * (4 + NAME_LEN) + 20) // 1024
    if "peak_extra_kb" in measured:
        print(
            f"{server}: peak RSS over the listing +{measured['peak_extra_kb']} kB for a {reply_kb} kB reply"
        )
    if server == "ours" and "peak_extra_kb" in measured:
        # streamed, the reply costs a few chunks; built whole it cost twice its size
        assert measured["peak_extra_kb"] < reply_kb // 2


@pytest.mark.parametrize("server", ["ours", "java"])
def test_a_small_jute_maxbuffer_bounds_requests_not_replies(server, tmp_path):
    """-Djute.maxbuffer=4096 in SERVER_JVMFLAGS: a 10 kB child list is answered whole (we used
    to answer MARSHALLINGERROR), a 5 kB request frame closes the connection, on both."""
    flags = "-Djute.maxbuffer=4096"
    if server == "ours":
        srv = ZKProcess(tmp_path / "ours", extra=CFG, env={"SERVER_JVMFLAGS": flags}).start()
    else:
        srv = JavaZK(tmp_path / "java", extra=CFG, jvmflags=flags).start()
    kids = [f"{i:03d}-" + "c" * 96 for i in range(100)]
    try:
        with raw.RawClient(srv.port) as c:
            c.connect()
            assert c.call("create", raw.create_body("/big")).err == 0
            for k in kids:
                assert c.call("create", raw.create_body(f"/big/{k}")).err == 0
            r = c.call("getChildren", raw.path_watch("/big"))
            assert r.err == 0 and len(r.body) > 10_000
            assert sorted(r.reader().strings()) == kids
            c.send_request("create", raw.create_body("/big/x", b"d" * 5000))
            c.wait_closed()
    finally:
        srv.stop()


@pytest.mark.parametrize("server", ["ours", "java"])
def test_close_session_right_after_a_large_listing(server, tmp_path):
    """closeSession sent behind a 2 MB getChildren: the whole listing, then the close reply,
    then the server closes the connection (ours: the close waits for the stream to end)."""
    if server == "ours":
        srv = ZKProcess(tmp_path / "ours", extra=CFG).start()
    else:
        srv = JavaZK(tmp_path / "java", extra=CFG).start()
    kids = [f"{i:04d}-" + "c" * 995 for i in range(2000)]
    try:
        with raw.RawClient(srv.port, timeout=30) as c:
            c.connect()
            c.call("create", raw.create_body("/big"))
            for k in kids:
                c.send_request("create", raw.create_body(f"/big/{k}"))
            for _ in kids:
                assert raw.Reader(c.read_frame(), 12).int() == 0
            listed = c.send_request("getChildren", raw.path_watch("/big"))
            closed = c.send_request("closeSession")
            r = c.read_reply(listed)
            assert r.err == 0 and sorted(r.reader().strings()) == kids
            assert c.read_reply(closed).err == 0
            assert c.wait_closed() == b""
    finally:
        srv.stop()


# ------------------------------------------------------------------ the streaming itself
def _frames(data: bytes) -> list[bytes]:
    out, off = [], 0
    while off < len(data):
        n = struct.unpack_from(">i", data, off)[0]
        out.append(data[off + 4 : off + 4 + n])
        off += 4 + n
    assert off == len(data)
    return out


def test_frames_written_while_a_reply_streams_queue_behind_it():
    """The real client-port protocol on an in-memory transport that drains only when told:
    a 2 MB child list goes out one chunk per drain, and the watch event and the reply that
    a later request produces meanwhile arrive after it, whole and in order."""
    zks, clock = make_core(held=False)  # each write applied at once: the stream is the subject
    t = StringTransport()
    p = ClientFactory(zks, clock).buildProtocol(None)
    p.makeConnection(t)
    p.dataReceived(raw.frame(raw.connect_request()))
    kids = [f"{i:04d}-" + "k" * 195 for i in range(10_000)]  # 2 MB of names
    xid = 0

    def send(op: str, body: bytes) -> int:
        nonlocal xid
        xid += 1
        p.dataReceived(raw.frame(raw.i32(xid) + raw.i32(raw.OP[op]) + body))
        return xid

    send("create", raw.create_body("/big"))
    send("create", raw.create_body("/w"))
    for k in kids:
        send("create", raw.create_body(f"/big/{k}"))
    send("exists", raw.path_watch("/w", True))
    t.clear()
    listed = send("getChildren", raw.path_watch("/big"))
    assert t.producer is p and len(t.value()) < 600_000  # header and the first chunk only
    updated = send("setData", raw.ustring("/w") + raw.buffer(b"x") + raw.i32(-1))  # fires /w's watch
    drains = 0
    while t.producer is not None:
        p.resumeProducing()
        drains += 1
    assert drains > 4  # 2 MB in chunks of about 256 kB
    frames = _frames(t.value())
    assert [struct.unpack_from(">i", f)[0] for f in frames] == [listed, -1, updated]
    r = raw.Reader(frames[0], 16)
    assert r.strings() == kids and r.left == 0  # kept in the tree's order (sorted here)
    assert raw.Reader(frames[1], 16).int() == 3  # NodeDataChanged
    assert struct.unpack_from(">i", frames[2], 12)[0] == 0
    assert zks.stats.response_sizes.max == len(frames[0])


def test_a_connection_lost_while_streaming_stops_the_stream():
    zks, clock = make_core(held=False)  # each write applied at once: the stream is the subject
    t = StringTransport()
    p = ClientFactory(zks, clock).buildProtocol(None)
    p.makeConnection(t)
    p.dataReceived(raw.frame(raw.connect_request()))
    p.dataReceived(raw.frame(raw.i32(1) + raw.i32(raw.OP["create"]) + raw.create_body("/big")))
    for i in range(1000):
        body = raw.create_body(f"/big/{i:04d}-" + "k" * 995)
        p.dataReceived(raw.frame(raw.i32(2 + i) + raw.i32(raw.OP["create"]) + body))
    p.dataReceived(raw.frame(raw.i32(5000) + raw.i32(raw.OP["getChildren"]) + raw.path_watch("/big")))
    assert t.producer is p
    p.connectionLost(None)
    p.stopProducing()  # what the transport does on connection loss
    p.write(b"late")  # nothing queued anywhere, nothing raised
    assert p._queued is None and p._chunks is None
