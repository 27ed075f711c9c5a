"""QuorumCnxManager's core: the connection rule, queues, resend, limits, bad input (3.8's rules)."""

from __future__ import annotations

import struct

from twisted.internet.task import Clock

from zk_twisted.config import QuorumServer
from zk_twisted.election.cnxmanager import RECV_CAPACITY, QuorumCnxManager
from zk_twisted.election.messages import OBSERVER_ID, encode_initial_message, frame


class FakeTransport:
    def __init__(self):
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data):
        assert not self.closed, "write after close"
        self.written.append(data)

    def close(self):
        self.closed = True


class FakeDialer:
    def __init__(self):
        self.dials = []

    def dial(self, manager, sid, host, port, timeout):
        self.dials.append((sid, host, port, timeout))


VIEW = {i: QuorumServer(i, ("127.0.0.1", 2000 + i), ("127.0.0.1", 3000 + i)) for i in (1, 2, 3)}


def manager(sid=2, view=VIEW):
    clock, dialer = Clock(), FakeDialer()
    m = QuorumCnxManager(sid, view, [view[sid].election_addr], clock, dialer, socket_timeout_ms=10000)
    got = []
    m.set_receiver(lambda s, p: got.append((s, p)))
    return m, clock, dialer, got


def hello(sid):
    return encode_initial_message(sid, [("127.0.0.1", 3000 + sid)])


def test_dial_to_a_larger_sid_sends_the_header_then_closes():
    m, _, dialer, _ = manager(2)
    m.send(3, b"vote")
    assert dialer.dials == [(3, "127.0.0.1", 3003, 5.0)]
    t = FakeTransport()
    m.outgoing_connected(3, t)
    assert t.written == [hello(2)] and t.closed and not m.connected_to(3)
    assert list(m.send_queues[3]) == [b"vote"]  # still queued: 3 will dial us


def test_dial_to_a_smaller_sid_is_kept_and_sends_the_queue():
    m, _, _, got = manager(2)
    m.send(1, b"old")
    m.send(1, b"new")  # queue of one: newest wins
    t = FakeTransport()
    ch = m.outgoing_connected(1, t)
    assert t.written == [hello(2), frame(b"new")] and not t.closed and m.connected_to(1)
    ch.data_received(frame(b"from1"))
    assert got == [(1, b"from1")]


def test_incoming_from_a_smaller_sid_is_closed_and_dialled_back():
    m, _, dialer, _ = manager(2)
    t = FakeTransport()
    ch = m.incoming_connected(t)
    ch.data_received(encode_initial_message(1, [("127.0.0.5", 4444)]))
    assert t.closed and dialer.dials == [(1, "127.0.0.5", 4444, 5.0)]  # the address in the message


def test_incoming_from_a_larger_sid_becomes_the_connection():
    m, _, _, got = manager(2)
    m.send(3, b"queued")
    t = FakeTransport()
    ch = m.incoming_connected(t)
    ch.data_received(hello(3) + frame(b"a") + frame(b"b")[:3])
    ch.data_received(frame(b"b")[3:])
    assert got == [(3, b"a"), (3, b"b")] and t.written == [frame(b"queued")] and m.connected_to(3)
    # a second connection from 3 replaces the first
    t2 = FakeTransport()
    m.incoming_connected(t2).data_received(hello(3))
    assert t.closed and not t2.closed and m.workers[3].transport is t2


def test_reconnect_resends_the_last_message():
    m, _, _, _ = manager(2)
    t = FakeTransport()
    ch = m.incoming_connected(t)
    ch.data_received(hello(3))
    m.send(3, b"v1")
    ch.connection_lost("gone")
    assert not m.connected_to(3)
    t2 = FakeTransport()
    m.incoming_connected(t2).data_received(hello(3))
    assert t2.written == [frame(b"v1")]  # the stale resend 3.8 makes on every reconnect


def test_own_sid_is_left_open_and_unread():
    m, _, _, got = manager(2)
    t = FakeTransport()
    ch = m.incoming_connected(t)
    ch.data_received(hello(2) + frame(b"x"))
    ch.data_received(b"\x00\x00\x00\x00 garbage")
    assert not t.closed and got == [] and not m.connected_to(2)


def test_unknown_sid_is_closed():
    m, _, dialer, got = manager(2)
    for sid in (1000, 0):
        t = FakeTransport()
        m.incoming_connected(t).data_received(hello(sid) + frame(b"x"))
        assert t.closed
    assert got == [] and dialer.dials == [] and m.stats["bad_input"] == 2


def test_observer_id_gets_a_negative_counter_and_is_dialled_back():
    m, _, dialer, _ = manager(2)
    t = FakeTransport()
    m.incoming_connected(t).data_received(encode_initial_message(OBSERVER_ID, [("127.0.0.9", 3999)]))
    assert t.closed and dialer.dials == [(-1, "127.0.0.9", 3999, 5.0)]  # 3.8: -1 < our sid


def test_bad_frames_close_only_their_connection():
    m, _, _, got = manager(2)
    good, bad = FakeTransport(), FakeTransport()
    m.incoming_connected(good).data_received(hello(3))
    m.outgoing_connected(1, bad)
    m.workers[1].data_received(struct.pack(">i", 524289))
    assert bad.closed and not good.closed and not m.connected_to(1) and m.connected_to(3)
    m.workers[3].data_received(frame(b"still"))
    assert got == [(3, b"still")]


def test_handshake_timeout_closes():
    m, clock, _, _ = manager(2)
    t = FakeTransport()
    ch = m.incoming_connected(t)
    ch.data_received(hello(3)[:10])
    clock.advance(9.9)
    assert not t.closed
    clock.advance(0.2)
    assert t.closed and m.stats["bad_input"] == 1
    t2 = FakeTransport()
    m.incoming_connected(t2).data_received(hello(3))
    clock.advance(20)
    assert not t2.closed  # no timeout once the header is in (RecvWorker sets soTimeout 0)


def test_loopback_and_recv_queue_cap():
    m, _, _, got = manager(2)
    m.send(2, b"me")
    assert got == [(2, b"me")]
    m.set_receiver(None)
    for i in range(RECV_CAPACITY + 5):
        m.send(2, b"%d" % i)
    assert len(m.recv_queue) == RECV_CAPACITY and m.recv_queue[0] == (2, b"5")  # oldest dropped
    m.set_receiver(lambda s, p: got.append(p))
    assert got[1] == b"5" and len(got) == RECV_CAPACITY + 1


def test_dials_are_not_duplicated_and_failures_allow_a_new_one():
    m, _, dialer, _ = manager(2)
    m.send(3, b"a")
    m.send(3, b"b")
    m.connect_all()
    assert len(dialer.dials) == 1
    m.dial_failed(3, "refused")
    m.connect_all()
    assert len(dialer.dials) == 2
    m.send(99, b"x")  # no such server: 3.8 warns "Invalid server id"
    assert len(dialer.dials) == 2


def test_have_delivered_is_true_when_any_queue_is_empty():
    m, _, _, _ = manager(2)
    assert not m.have_delivered()
    m.send(3, b"a")
    assert not m.have_delivered()
    m.incoming_connected(FakeTransport()).data_received(hello(3))
    assert m.have_delivered()
    m.send(1, b"x")
    assert m.have_delivered()  # 3's queue is empty: 3.8 answers True


def test_halt_closes_everything():
    m, _, dialer, _ = manager(2)
    t = FakeTransport()
    m.incoming_connected(t).data_received(hello(3))
    m.halt()
    assert t.closed and not m.workers
    m.send(1, b"x")
    assert dialer.dials == []
