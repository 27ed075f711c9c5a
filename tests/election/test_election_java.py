"""Interop with Java ZooKeeper 3.8 (Debian's package): our election stack as server 3 beside
two Java QuorumPeers.  Java must accept our handshake and notifications (its log shows it
parsed our config), answer us with bytes our encoder reproduces exactly, and our election must
decide what the Java servers decide: joining their running leader, electing a Java leader
with them, and being elected by them."""

from __future__ import annotations

import re
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from electionproc import ElectionProc

from zk_twisted.config import load_config
from zk_twisted.election.messages import (
    InitialMessageReader,
    ServerState,
    decode_notification,
    encode_initial_message,
    encode_notification,
    frame,
)
from zk_twisted.quorum.verifier import QuorumHierarchical, QuorumMaj

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from zkharness import ZK_JAVA_SH, four_letter, free_port, wait_for  # noqa: E402


def zk_java(*args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ZK_JAVA_SH), *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def java_ensemble(tmp_path):
    if not Path("/usr/share/java/zookeeper.jar").exists():
        pytest.fail("Debian's zookeeper package is missing (make zookeeper installs it)")
    base = tmp_path / "java"
    for _ in range(3):
        bp = free_port() % 20000 + 20000  # client BP..BP+2, quorum BP+100.., election BP+200..
        ports = [bp + k for off in (0, 100, 200) for k in range(3)]
        if all(_port_free(p) for p in ports):
            break
    r = zk_java("ensemble", str(base), str(bp), "initLimit=3")
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        yield base, bp
    finally:
        zk_java("stop", str(base))


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _pid(base: Path, i: int) -> int:
    return int((base / f"zk{i}.pid").read_text())


def _mode(bp: int, i: int) -> str:
    m = re.search(r"Mode: (\w+)", four_letter(bp + i - 1, "srvr", timeout=2.0))
    return m.group(1) if m else ""


def _kill(base: Path, i: int) -> None:
    subprocess.run(["kill", "-9", str(_pid(base, i))])
    wait_for(lambda: not Path(f"/proc/{_pid(base, i)}").exists(), 10, what=f"java {i} gone")


def _read_frame(s: socket.socket) -> bytes:
    def exact(n):
        b = b""
        while len(b) < n:
            chunk = s.recv(n - len(b))
            if not chunk:
                raise EOFError
            b += chunk
        return b

    (length,) = struct.unpack(">i", exact(4))
    return exact(length)


def test_java_ensemble_and_our_election(java_ensemble, tmp_path):
    base, bp = java_ensemble
    # 1. make room for us as server 3: its Java process goes, 1 and 2 carry on (2 of 3)
    _kill(base, 3)
    wait_for(lambda: {_mode(bp, 1), _mode(bp, 2)} == {"leader", "follower"}, 30, what="java 1+2 serving")
    leader = 1 if _mode(bp, 1) == "leader" else 2
    cfg = load_config(base / "zk3.cfg")
    view = QuorumMaj(cfg.voting_members)

    # 2. bytes: a raw server 3 dials Java's leader; Java keeps the connection (3 > its sid)
    #    and answers our LOOKING notification with its vote; our encoder must rebuild it exactly
    addr3 = cfg.servers[3].election_addr
    with socket.create_connection(cfg.servers[leader].election_addr, timeout=10) as s:
        s.sendall(encode_initial_message(3, [addr3]))
        s.sendall(frame(encode_notification(0, 3, 0, 1, 0, view.to_string().encode())))
        frames = [_read_frame(s)]
        # the first may be the stale resend of what Java last sent to 3 (lastMessageSent)
        while decode_notification(frames[-1]).state != ServerState.LEADING and len(frames) < 3:
            frames.append(_read_frame(s))
    for payload in frames:
        n = decode_notification(payload, leader)
        assert n.version == 2 and n.config == view.to_string().encode()  # QuorumMaj.toString, byte for byte
        assert encode_notification(n.state, n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.config) == payload
    assert (n.state, n.leader) == (ServerState.LEADING, leader)

    # 3. Java's own dial to a server 3 (it answers a larger sid by dialling back): its
    #    initial message is what ours would be
    fake = socket.socket()
    fake.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    fake.bind(addr3)
    fake.listen(4)
    fake.settimeout(10)
    with socket.create_connection(cfg.servers[1].election_addr, timeout=10) as s:
        s.sendall(struct.pack(">q", 0))  # legacy header, sid 0 < 1: Java 1 closes and dials 0... (unknown)
    with socket.create_connection(cfg.servers[1].election_addr, timeout=10) as s:
        # a header from "server 0" makes Java 1 dial back the address in it: our fake server 3
        s.sendall(encode_initial_message(0, [addr3]))
        r = None
        for _ in range(5):  # Java 2 may dial "3" too (it answers what we sent it as 3)
            conn, _ = fake.accept()
            conn.settimeout(10)
            got = b""
            while (r := InitialMessageReader().feed(got)) is None:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                got += chunk
            conn.close()
            if r is not None and r[0].sid == 1:
                break
    fake.close()
    assert r[0].sid == 1 and got[: len(encode_initial_message(1, [cfg.servers[1].election_addr]))] == (
        encode_initial_message(1, [cfg.servers[1].election_addr])
    )

    # 4. our election as server 3 joins the running Java leader, without a new Java round
    #    (we claim an empty database: whatever epoch the Java pair is in, its vote is better)
    ours = ElectionProc(tmp_path, 3, (base / "zk3.cfg").read_text(), zxid=0, epoch=0)
    ours.cfg = base / "zk3.cfg"
    try:
        ours.start()
        d = ours.wait("decided", 30)
        assert (d["leader"], d["state"]) == (leader, "FOLLOWING")
        log = (base / f"zk{leader}.log").read_text()
        assert re.search(r"Notification: my state:LEADING; n\.sid:3, n\.state:LOOKING, .* n\.config version:0x0", log)
        assert "Skipping the processing of a partial / malformed response message sent by sid=3" not in log
        assert "Something went wrong while processing config received from 3" not in log
        assert {_mode(bp, 1), _mode(bp, 2)} == {"leader", "follower"}

        # 5. the Java leader dies; we and the Java survivor elect the survivor (its vote is better)
        survivor = 3 - leader
        mark = len((base / f"zk{survivor}.log").read_text())
        _kill(base, leader)
        decisions = []
        for _ in range(4):
            ours.command("look")
            d = ours.wait("decided", 60)
            decisions.append((d["leader"], d["state"]))
            if d["leader"] != leader:
                break
            # a LEADING vote the dead leader sent before it died can still be read after the
            # new round starts; a real follower then fails to connect and looks again
            time.sleep(0.5)
        assert decisions[-1] == (survivor, "FOLLOWING"), decisions
        wait_for(
            lambda: "LEADING - LEADER ELECTION TOOK" in (base / f"zk{survivor}.log").read_text()[mark:],
            30,
            what="java survivor LEADING",
        )
    finally:
        ours.stop()

    # 6. we come back with a newer epoch: once the Java survivor gives up leading (no quorum
    #    within initLimit) it looks again, adopts our vote, and follows us
    mark = len((base / f"zk{survivor}.log").read_text())
    ours = ElectionProc(tmp_path / "again", 3, (base / "zk3.cfg").read_text(), zxid=0x900000000, epoch=9)
    ours.cfg = base / "zk3.cfg"
    try:
        ours.start()
        d = ours.wait("decided", 60)
        assert (d["leader"], d["state"]) == (3, "LEADING")
        wait_for(
            lambda: re.search(
                r"FOLLOWING - LEADER ELECTION TOOK", (base / f"zk{survivor}.log").read_text()[mark:]
            ),
            30,
            what="java survivor FOLLOWING us",
        )
        assert re.search(r"n\.sid:3, n\.state:LOOKING, n\.leader:3, .*n\.peerEpoch:0x9, n\.zxid:0x900000000",
                         (base / f"zk{survivor}.log").read_text()[mark:])  # fmt: skip
    finally:
        ours.stop()


def test_hierarchical_config_text_matches_java(tmp_path):
    """QuorumHierarchical.toString, byte for byte: Java's notification carries its verifier's
    text, ours must be the same (HashMap order of servers, group members, weights)."""
    base = tmp_path / "java"
    bp = free_port() % 20000 + 20000
    extra = ["group.1=3:1", "group.2=2", "weight.1=2", "weight.2=1", "weight.3=0"]
    r = zk_java("ensemble", str(base), str(bp), *extra)
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        cfg = load_config(base / "zk1.cfg")
        ours = QuorumHierarchical.from_config(cfg).to_string().encode()
        with socket.create_connection(cfg.servers[1].election_addr, timeout=10) as s:
            s.sendall(encode_initial_message(3, [cfg.servers[3].election_addr]))
            s.sendall(frame(encode_notification(0, 3, 0, 1, 0, ours)))
            n = decode_notification(_read_frame(s), 1)
        assert n.config == ours, (n.config, ours)
        time.sleep(0.5)
        log = (base / "zk1.log").read_text()
        assert "Something went wrong while processing config received from 3" not in log
        assert re.search(r"n\.sid:3, n\.state:LOOKING, .*n\.config version:0x0", log)
    finally:
        zk_java("stop", str(base))
