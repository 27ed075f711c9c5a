"""Our election stack on real sockets: processes on loopback elect a leader, a restarted
server joins it, and every kind of bad input on the election port closes that one
connection while the election goes on."""

from __future__ import annotations

import socket
import struct
import time

import pytest
from electionproc import ElectionProc, client_port_line, ensemble_config

from zk_twisted.election.messages import (
    PROTOCOL_VERSION_V1,
    encode_initial_message,
    encode_notification,
    frame,
)


@pytest.fixture
def procs():
    made: list[ElectionProc] = []
    yield made
    for p in made:
        p.stop()


def make(tmp_path, procs, n, votes, observers=()):
    text, ports = ensemble_config(n, observers)
    out = {}
    for sid in range(1, n + 1):
        epoch, zxid = votes.get(sid, (0, 0))
        p = ElectionProc(tmp_path, sid, text + client_port_line(ports, sid), zxid=zxid, epoch=epoch)
        procs.append(p)
        out[sid] = p
    return out, ports


def test_three_processes_elect_the_best_vote_and_a_restarted_one_rejoins(tmp_path, procs):
    nodes, _ = make(tmp_path, procs, 3, {1: (1, 0x100000004), 2: (2, 0x200000001), 3: (1, 0x100000009)})
    for p in nodes.values():
        p.start()
    decided = {sid: p.wait("decided") for sid, p in nodes.items()}
    assert {d["leader"] for d in decided.values()} == {2}  # epoch 2 beats the larger zxid
    assert decided[2]["state"] == "LEADING" and decided[1]["state"] == decided[3]["state"] == "FOLLOWING"
    rounds = {sid: nodes[sid].stats()["round"] for sid in (1, 2)}
    nodes[3].kill()
    nodes[3].start()
    again = nodes[3].wait("decided")
    assert (again["leader"], again["state"]) == (2, "FOLLOWING")
    assert {sid: nodes[sid].stats()["round"] for sid in (1, 2)} == rounds  # no new election


def test_observer_learns_the_leader(tmp_path, procs):
    nodes, _ = make(tmp_path, procs, 4, {1: (0, 5), 2: (0, 3), 3: (0, 4), 4: (0, 99)}, observers=(4,))
    for p in nodes.values():
        p.start()
    decided = {sid: p.wait("decided") for sid, p in nodes.items()}
    assert {d["leader"] for d in decided.values()} == {1}  # the observer's zxid never counts
    assert decided[4]["state"] == "OBSERVING"


def _closed_by_peer(sock: socket.socket, timeout: float = 10.0) -> bool:
    sock.settimeout(timeout)
    try:
        while True:
            if sock.recv(65536) == b"":
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


HDR3 = encode_initial_message(3, [("127.0.0.1", 9)])
BAD_INPUTS = {
    "wrong protocol version": struct.pack(">qqi", -65537, 3, 11) + b"127.0.0.1:9",
    "garbage": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "address length 0": struct.pack(">qqi", PROTOCOL_VERSION_V1, 3, 0),
    "address length 2049": struct.pack(">qqi", PROTOCOL_VERSION_V1, 3, 2049) + b"x" * 2049,
    "address not host:port": struct.pack(">qqi", PROTOCOL_VERSION_V1, 3, 6) + b"nohost",
    "unknown sid": encode_initial_message(77, [("127.0.0.1", 9)]),
    "oversized frame": HDR3 + struct.pack(">i", 524289),
    "frame length 0": HDR3 + struct.pack(">i", 0),
    "negative frame length": HDR3 + struct.pack(">i", -5),
    "truncated notification": HDR3 + frame(encode_notification(0, 3, 0, 1, 0, b"version=0")[:30]),
    "bad config length": HDR3 + frame(struct.pack(">iqqqqii", 0, 3, 0, 1, 0, 2, 9999)),
    "silent (handshake timeout)": b"",
    "half a header (handshake timeout)": HDR3[:13],
}


def test_bad_input_closes_that_connection_and_the_election_goes_on(tmp_path, procs):
    nodes, ports = make(tmp_path, procs, 3, {1: (0, 0), 2: (0, 0), 3: (0, 0)})
    nodes[1].start()
    nodes[2].start()
    assert nodes[1].wait("decided")["leader"] == 2 and nodes[2].wait("decided")["state"] == "LEADING"
    port = ports[1][2]
    held = socket.create_connection(("127.0.0.1", port))  # a silent connection held open throughout
    for name, data in BAD_INPUTS.items():
        with socket.create_connection(("127.0.0.1", port)) as s:
            if data:
                s.sendall(data)
            assert _closed_by_peer(s), f"{name}: connection left open"
        st = nodes[1].stats()
        assert st["connected"] == [2], f"{name}: the connection to server 2 was disturbed: {st}"
    log = nodes[1].log()
    for what in ("unrecognized protocol version -65537", "unknown server id 77", "invalid packet: 524289",
                 "Unreasonable buffer length: 2049", "Badly formed address: nohost", "partial notification",
                 "Invalid configLength", "no complete initial message"):  # fmt: skip
        assert what in log, what
    assert nodes[1].stats()["bad_input"] >= len(BAD_INPUTS)
    # still electing: server 3 joins the running leader through server 1 and 2's answers
    nodes[3].start()
    assert (nodes[3].wait("decided")["leader"], nodes[1].stats()["leader"]) == (2, 2)
    held.close()


def test_smaller_sid_dialler_sends_its_header_then_closes(tmp_path, procs):
    """The connection rule as 3.8 captured: a fake server 3 listening where 3 should be sees
    server 1 and 2 send their full initial message and close; it dials back and is kept."""
    nodes, ports = make(tmp_path, procs, 3, {})
    fake = socket.socket()
    fake.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    fake.bind(("127.0.0.1", ports[3][2]))
    fake.listen(8)
    fake.settimeout(20)
    nodes[1].start()
    conn, _ = fake.accept()
    got = b""
    conn.settimeout(10)
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            break
        got += chunk
    assert got == encode_initial_message(1, [("127.0.0.1", ports[1][2])])  # then closed by 1
    conn.close()
    # fake 3 dials 1: kept (3 > 1), and 1 sends its vote as a framed notification
    with socket.create_connection(("127.0.0.1", ports[1][2])) as s:
        s.sendall(encode_initial_message(3, [("127.0.0.1", ports[3][2])]))
        s.settimeout(10)
        head = b""
        while len(head) < 4:
            head += s.recv(4 - len(head))
        (length,) = struct.unpack(">i", head)
        assert 44 < length < 1000
        time.sleep(0.1)
    fake.close()


def test_hierarchical_quorum_processes(tmp_path, procs):
    """group.1=1:2:3 with weight.3=0: 3 has the best zxid but can never lead; 1 and 2 are
    the only weight there is, so both are needed (2 alone is no majority of weight 2)."""
    text, ports = ensemble_config(3)
    text += "group.1=1:2:3\nweight.1=1\nweight.2=1\nweight.3=0\n"
    votes = {1: (1, 0x100000001), 2: (1, 0x100000002), 3: (1, 0x100000009)}
    nodes = {}
    for sid in (1, 2, 3):
        epoch, zxid = votes[sid]
        nodes[sid] = ElectionProc(tmp_path, sid, text + client_port_line(ports, sid), zxid=zxid, epoch=epoch)
        procs.append(nodes[sid])
    nodes[2].start()
    nodes[3].start()
    time.sleep(1.0)  # 2 and 3 are no quorum: weight 1 of 2
    assert not [e for p in (nodes[2], nodes[3]) for e in p.seen if e["event"] == "decided"]
    nodes[1].start()
    decided = {sid: p.wait("decided") for sid, p in nodes.items()}
    assert {d["leader"] for d in decided.values()} == {2}
    assert decided[3]["state"] == "FOLLOWING"


def test_ipv6_loopback(tmp_path, procs):
    """server.N=[::1]:...: headers carry Java's "[0:0:0:0:0:0:0:1]:port" form and the
    dial-back to that address works."""
    text, ports = ensemble_config(3)
    text = text.replace("=127.0.0.1:", "=[::1]:")
    nodes = {}
    for sid in (1, 2, 3):
        # 1 (started first) has the best vote: whoever is up when, all elect 1
        nodes[sid] = ElectionProc(tmp_path, sid, text + client_port_line(ports, sid), zxid=10 - sid, epoch=1)
        procs.append(nodes[sid])
        nodes[sid].start()
    decided = {sid: p.wait("decided") for sid, p in nodes.items()}
    assert {d["leader"] for d in decided.values()} == {1}
    assert nodes[1].stats()["bad_input"] == 0
