"""zk_twisted ensembles as processes: ``twistd -n zkserver`` members on loopback, kazoo clients.

Each test starts its own members (tests/zkharness.py ZKEnsemble, zk_java.sh's port layout)
and checks what an operator and a client would: one leader, writes through any member read
back everywhere after ``sync``, a leader killed with SIGKILL replaced with no acknowledged
write lost, and each way a restarted member catches up (DIFF, SNAP, TRUNC), asserted from
the leader's log line that names the sync, not assumed.
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError
from zkharness import (
    CLEAN_SIGTERM,
    ZKEnsemble,
    ensemble_factory,
    four_letter,
    logged_txn_count,
    rejoin_under_set_data_load,
    wait_for,
)

pytestmark = pytest.mark.timeout(240)


def client(ens: ZKEnsemble, sid: int, timeout: float = 15.0) -> KazooClient:
    c = KazooClient(hosts=ens.members[sid].hosts, timeout=10, connection_retry={"max_tries": -1, "max_delay": 0.5})
    c.start(timeout=timeout)
    return c


def leader_of(ens: ZKEnsemble) -> int:
    return ens.wait_serving(60)


def sync_lines(ens: ZKEnsemble, sid: int) -> list[tuple[int, str]]:
    """(learner sid, DIFF|TRUNC|SNAP) for each 'Synchronizing learner' line of member sid."""
    text = (ens.members[sid].base / "server.log").read_text(errors="replace")
    return [(int(a), b) for a, b in re.findall(r"Synchronizing learner (\d+) \(peer zxid 0x[0-9a-f]+\) by (\w+)", text)]


def no_digest_mismatch(ens: ZKEnsemble) -> None:
    for i, m in ens.members.items():
        if m.alive():
            mntr = four_letter(m.port, "mntr")
            assert "zk_digest_mismatches_count\t0" in mntr, f"member {i}: {mntr[-500:]}"


@pytest.fixture
def ensemble(tmp_path):
    with ensemble_factory(tmp_path) as make:
        yield make


def test_three_members_elect_one_leader_and_serve_writes_through_every_member(ensemble):
    ens = ensemble(3).start()
    leader = leader_of(ens)
    modes = {i: ens.mode(i) for i in ens.sids}
    assert sorted(modes.values()) == ["follower", "follower", "leader"] and modes[leader] == "leader"
    clients = {i: client(ens, i) for i in ens.sids}
    try:
        for i, c in clients.items():
            c.create(f"/w{i}", f"v{i}".encode())
            c.create(f"/w{i}/e", b"", ephemeral=True)
            c.set(f"/w{i}", f"x{i}".encode())
        # pipelined through a follower
        follower = next(i for i in ens.sids if i != leader)
        asyncs = [clients[follower].create_async(f"/w{follower}/p", b"", sequence=True) for _ in range(300)]
        names = [a.get(timeout=30) for a in asyncs]
        assert names == [f"/w{follower}/p{k:010d}" for k in range(1, 301)]
        for c in clients.values():
            c.sync("/")
            assert sorted(c.get_children("/")) == ["w1", "w2", "w3", "zookeeper"]
            assert [c.get(f"/w{j}")[0] for j in ens.sids] == [b"x1", b"x2", b"x3"]
            assert len(c.get_children(f"/w{follower}")) == 301
        # a session's ephemeral is seen, and goes with it, everywhere
        clients[1].stop()
        clients[1].close()
        for i in (2, 3):
            wait_for(lambda i=i: clients[i].exists("/w1/e") is None, 30, what="the ephemeral of a closed session gone")
        srvr = four_letter(ens.members[leader].port, "srvr")
        assert "Mode: leader" in srvr
        no_digest_mismatch(ens)
    finally:
        for c in clients.values():
            c.stop()
            c.close()


def test_leader_killed_gives_a_new_leader_and_no_acknowledged_write_is_lost(ensemble):
    ens = ensemble(3).start()
    leader = leader_of(ens)
    survivors = [i for i in ens.sids if i != leader]
    c = client(ens, survivors[0])
    acked = []
    try:
        for k in range(200):
            c.create(f"/k{k}", b"d")
            acked.append(f"k{k}")
        ens.members[leader].kill()
        new_leader = ens.wait_serving(60)
        assert new_leader in survivors
        # writes resume through the survivors
        deadline = time.monotonic() + 30
        while True:
            try:
                c.create("/after", b"")
                break
            except (KazooException, KazooTimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        for i in survivors:
            d = client(ens, i)
            d.sync("/")
            have = set(d.get_children("/"))
            assert set(acked) <= have and "after" in have
            d.stop()
            d.close()
        # the old leader comes back as a follower and catches up
        ens.members[leader].start(wait=False)
        ens.wait_serving(60)
        assert ens.mode(leader) == "follower"
        back = client(ens, leader)
        back.sync("/")
        assert set(acked) | {"after"} <= set(back.get_children("/"))
        back.stop()
        back.close()
        no_digest_mismatch(ens)
    finally:
        c.stop()
        c.close()


def test_restarted_follower_syncs_by_diff_and_one_far_behind_by_snap(ensemble):
    # snapCount=100: the log rolls every 50-100 txns (3.8 reads the txn log for a learner
    # only if the files after the one holding its zxid are under a third of the snapshot)
    ens = ensemble(3, extra={"snapCount": "100"}).start()
    leader = leader_of(ens)
    f1, f2 = [i for i in ens.sids if i != leader]
    c = client(ens, leader)
    try:
        c.create("/base", b"")
        ens.members[f1].stop()
        for k in range(5):
            c.create(f"/base/few{k}", b"")
        ens.members[f1].start(wait=False)
        wait_for(lambda: ens.mode(f1) == "follower", 60, what="the restarted follower serving")
        assert sync_lines(ens, leader)[-1] == (f1, "DIFF")
        # more than the committed-log window (501) behind: 3.8 would read the txn log only if
        # its files after the first (64 MB preallocated) were under a third of the snapshot's
        # size, so a SNAP
        ens.members[f2].stop()
        asyncs = [c.create_async(f"/base/many{k}", b"") for k in range(700)]
        for a in asyncs:
            a.get(timeout=60)
        ens.members[f2].start(wait=False)
        wait_for(lambda: ens.mode(f2) == "follower", 60, what="the far-behind follower serving")
        assert sync_lines(ens, leader)[-1] == (f2, "SNAP")
        d = client(ens, f2)
        d.sync("/")
        assert len(d.get_children("/base")) == 705
        d.stop()
        d.close()
        no_digest_mismatch(ens)
    finally:
        c.stop()
        c.close()


def test_snap_streamed_while_setdata_commits_replays_without_a_digest_mismatch(ensemble):
    """The leader writes a SNAP's stream over many reactor turns while it goes on
    committing; the stream is exact at the SNAP's zxid (a copy-on-write view), so the
    learner's replay of the txns after it compares every digest against the right tree
    (3.8's fuzzy stream, and ours before, logged false "Digests are not matching": seen on
    CI in the mixed kill -9 test).  setData on nodes all over a 20,000-node tree, 64
    outstanding, while the far-behind follower syncs; conftest fails the test on any
    logged mismatch, and every member ends with the same data."""
    ens = ensemble(3, extra={"forceSnapshotSync": "true"}).start()  # zookeeper.forceSnapshotSync
    leader = leader_of(ens)
    f1, f2 = [i for i in ens.sids if i != leader]
    c = client(ens, leader)
    try:
        written = rejoin_under_set_data_load(ens, c, f2)
        assert sync_lines(ens, leader)[-1] == (f2, "SNAP")
        assert len(written) > 500
        for sid in (f1, f2):
            d = client(ens, sid)
            d.sync("/")
            for path, data in written.items():
                assert d.get(path)[0] == data, (sid, path)
            d.stop()
            d.close()
        no_digest_mismatch(ens)
    finally:
        c.stop()
        c.close()


def test_member_holding_a_dead_leaders_uncommitted_txn_syncs_by_trunc(ensemble):
    ens = ensemble(3).start()
    leader = leader_of(ens)
    followers = [i for i in ens.sids if i != leader]
    c = client(ens, leader)
    c.create("/t", b"committed")
    c.sync("/")
    # freeze the followers: the next write reaches only the leader's own log
    for f in followers:
        os.kill(ens.members[f].proc.pid, signal.SIGSTOP)
    before = logged_txn_count(ens.members[leader])
    pending = c.create_async("/t/never", b"")
    wait_for(lambda: logged_txn_count(ens.members[leader]) > before, 20, what="the leader logging the uncommitted txn")
    ens.members[leader].kill()
    for f in followers:
        os.kill(ens.members[f].proc.pid, signal.SIGKILL)
        ens.members[f].proc.wait(10)
    c.stop()
    c.close()
    del pending
    for f in followers:
        ens.members[f].start(wait=False)
    new_leader = ens.wait_serving(60)
    # back before the new leader commits anything of its own epoch: its last committed txn
    # is below the returning member's, so 3.8's rule is TRUNC to it (with a txn of the new
    # epoch committed first, 3.8 sends a SNAP instead: the first entry past the learner's
    # zxid is of another epoch)
    ens.members[leader].start(wait=False)
    wait_for(lambda: ens.mode(leader) == "follower", 60, what="the old leader back as a follower")
    assert sync_lines(ens, new_leader)[-1] == (leader, "TRUNC")
    d = client(ens, new_leader)
    d.create("/t/new", b"")
    e = client(ens, leader)
    e.sync("/")
    assert sorted(e.get_children("/t")) == ["new"]
    for x in (d, e):
        x.stop()
        x.close()
    no_digest_mismatch(ens)



def test_observer_is_told_every_commit_and_serves_reads(ensemble):
    ens = ensemble(4, observers=(4,)).start()
    leader = leader_of(ens)
    assert leader != 4 and ens.mode(4) == "observer"
    c = client(ens, leader)
    o = client(ens, 4)
    try:
        c.create("/seen", b"by all")
        o.sync("/")
        assert o.get("/seen")[0] == b"by all"
        o.create("/from-observer", b"")  # forwarded to the leader like a follower's
        c.sync("/")
        assert c.exists("/from-observer") is not None
        no_digest_mismatch(ens)
    finally:
        for x in (c, o):
            x.stop()
            x.close()


def test_five_members_serve_with_two_down_and_refuse_writes_with_three_down(ensemble):
    ens = ensemble(5).start()
    leader_of(ens)
    down = [2, 4]
    for i in down:
        ens.members[i].kill()
    ens.wait_serving(60)
    c = client(ens, 1)
    c.create("/two-down", b"")
    c.stop()
    c.close()
    ens.members[5].kill()
    # no quorum: whoever is left stops serving (its leader steps down, its followers look)
    wait_for(lambda: all(ens.mode(i) not in ("leader", "follower") for i in (1, 3)), 60, what="members to stop serving")
    for i in (1, 3):
        assert "not currently serving" in four_letter(ens.members[i].port, "srvr")
    with pytest.raises(KazooTimeoutError):
        KazooClient(hosts=ens.members[1].hosts, timeout=2).start(timeout=3)


def test_hierarchical_quorum_needs_a_majority_in_a_majority_of_groups(ensemble):
    # three groups of two: a quorum is a majority of groups (two), each with more than half
    # of its weight (both members)
    extra = {"group.1": "1:2", "group.2": "3:4", "group.3": "5:6"}
    extra.update({f"weight.{i}": "1" for i in range(1, 7)})
    ens = ensemble(6, extra=extra).start()
    leader_of(ens)
    # 1, 3 and 5 down: no group keeps a weighted majority (1 of 2 is not more than half)
    for i in (1, 3, 5):
        ens.members[i].kill()
    wait_for(lambda: all(ens.mode(i) not in ("leader", "follower") for i in (2, 4, 6)), 60, what="no quorum of groups")
    # 1 and 3 back: groups 1 and 2 are whole again, a quorum of groups
    for i in (1, 3):
        ens.members[i].start(wait=False)
    ens.wait_serving(60)
    c = client(ens, 2)
    c.create("/groups", b"")
    c.stop()
    c.close()


def test_operator_views_name_the_roles_as_3_8_does(ensemble):
    ens = ensemble(3, extra={"admin.enableServer": "false"}).start()
    leader = leader_of(ens)
    follower = next(i for i in ens.sids if i != leader)
    mntr = {
        i: dict(line.split("\t", 1) for line in four_letter(ens.members[i].port, "mntr").splitlines() if "\t" in line)
        for i in (leader, follower)
    }
    assert mntr[leader]["zk_server_state"] == "leader"
    assert mntr[leader]["zk_peer_state"] == "leading - broadcast"
    assert mntr[leader]["zk_learners"] == "2" and mntr[leader]["zk_synced_followers"] == "2"
    assert mntr[leader]["zk_quorum_size"] == "3"
    assert mntr[follower]["zk_peer_state"] == "following - broadcast"
    assert "zk_learners" not in mntr[follower]
    assert "Mode: follower" in four_letter(ens.members[follower].port, "srvr")


def test_garbage_on_the_quorum_and_election_ports_closes_only_that_connection(ensemble):
    import socket

    ens = ensemble(3).start()
    leader = leader_of(ens)
    quorum_port = ens.base_port + 100 + leader - 1
    election_port = ens.base_port + 200 + leader - 1
    bad = [
        (quorum_port, b"\x00\x00\x00\x0b" + b"\x00" * 8 + b"\x7f\xff\xff\xff"),  # 2 GB of data announced
        (quorum_port, b"\x00\x00\x00\x03" + b"\x00" * 12 + b"\xff\xff\xff\xff"),  # ACK before FOLLOWERINFO
        (election_port, b"\x00" * 8 + b"\xff" * 8),  # a legacy header naming sid 0 (unknown), then garbage
        # protocol version 1, sid 9, an address length of 4096 (3.8 allows 2048)
        (election_port, (-65536).to_bytes(8, "big", signed=True) + (9).to_bytes(8, "big") + b"\x00\x00\x10\x00"),
    ]
    for port, data in bad:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(data)
            s.settimeout(20)
            try:
                closed = s.recv(1024) == b""
            except ConnectionResetError:
                closed = True
            assert closed, f"port {port} kept a connection that sent {data!r}"
    assert ens.wait_serving(30) == leader
    c = client(ens, leader)
    c.create("/still-serving", b"")
    c.stop()
    c.close()


def test_member_cut_off_serves_read_only_clients_and_rejoins(ensemble):
    from kazoo.exceptions import NotReadOnlyCallError

    ens = ensemble(3, extra={"readonlymode.enabled": "true"}).start()
    leader = leader_of(ens)
    c = client(ens, leader)
    c.create("/ro", b"before")
    c.stop()
    c.close()
    survivor = next(i for i in ens.sids if i != leader)
    for i in ens.sids:
        if i != survivor:
            ens.members[i].kill()
    wait_for(lambda: four_letter(ens.members[survivor].port, "isro") == "ro", 60, what="read-only mode")
    assert "Mode: read-only" in four_letter(ens.members[survivor].port, "srvr")
    ro = KazooClient(hosts=ens.members[survivor].hosts, timeout=10, read_only=True)
    ro.start(timeout=20)
    try:
        assert ro.get("/ro")[0] == b"before"
        with pytest.raises(NotReadOnlyCallError):
            ro.create("/ro/write", b"")
    finally:
        ro.stop()
        ro.close()
    # a client that did not ask for read-only is refused
    with pytest.raises(KazooTimeoutError):
        KazooClient(hosts=ens.members[survivor].hosts, timeout=2).start(timeout=4)
    for i in ens.sids:
        if i != survivor:
            ens.members[i].start(wait=False)
    ens.wait_serving(60)
    assert four_letter(ens.members[survivor].port, "isro") == "rw"
    c = client(ens, survivor)
    c.create("/ro/after", b"")
    c.stop()
    c.close()


def test_leader_serves_no_clients_with_leader_serves_no(ensemble):
    ens = ensemble(3, extra={"leaderServes": "no"}).start(wait=False)

    def settled() -> bool:
        modes = [ens.mode(i) for i in ens.sids]
        return sorted(m for m in modes if m) == ["follower", "follower"]

    wait_for(settled, 60, what="two serving followers and a leader that serves no clients")
    leader = next(i for i in ens.sids if not ens.mode(i))
    assert "not currently serving" in four_letter(ens.members[leader].port, "srvr")
    with pytest.raises(KazooTimeoutError):
        KazooClient(hosts=ens.members[leader].hosts, timeout=2).start(timeout=4)
    follower = next(i for i in ens.sids if i != leader)
    c = client(ens, follower)
    c.create("/through-a-follower", b"")
    c.stop()
    c.close()


def _session_moved_script(port_a: int, port_b: int) -> dict:
    """One session on member A, then the same session opened on member B; A's old connection
    writes again.  What each step answered, for comparison with 3.8."""
    from rawclient import Closed, RawClient, create_body, i32

    a = RawClient(port_a)
    s = a.connect()
    out = {"create": a.call("create", create_body("/moved", b"a")).err}
    b = RawClient(port_b)
    # a real client numbers its requests on, across the move: committed txns are matched to
    # a member's waiting requests by (session, cxid), in 3.8 as here
    b.xid = 100
    rsp = b.connect(session_id=s.session_id, passwd=s.passwd)
    out["reopened"] = rsp.session_id == s.session_id
    out["sync_b"] = b.call("sync", i32(len(b"/")) + b"/").err
    body = i32(len(b"/moved")) + b"/moved" + i32(1) + b"b" + i32(-1)
    try:
        out["stale_write"] = a.call("setData", body).err
        out["stale_connection"] = "open" if a.is_open(0.5) else "closed"
    except Closed:
        out["stale_write"] = "connection closed"
    out["b_write"] = b.call("setData", i32(len(b"/moved")) + b"/moved" + i32(1) + b"c" + i32(-1)).err
    a.close()
    b.close()
    return out


def test_request_on_a_moved_sessions_old_connection_gets_sessionmoved_as_in_3_8(ensemble, tmp_path):
    import subprocess

    from zkharness import ZK_JAVA_SH, free_port_range

    ens = ensemble(3).start()
    leader = leader_of(ens)
    fa, fb = [ens.members[i].port for i in ens.sids if i != leader]
    ours = _session_moved_script(fa, fb)
    base = free_port_range(width=3)
    jdir = tmp_path / "java"
    r = subprocess.run(["bash", str(ZK_JAVA_SH), "ensemble", str(jdir), str(base)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    try:
        jl = int(subprocess.run(["bash", str(ZK_JAVA_SH), "leader", str(jdir)], capture_output=True, text=True).stdout.split()[0])
        ja, jb = [base + i - 1 for i in (1, 2, 3) if i != jl]
        java = _session_moved_script(ja, jb)
    finally:
        subprocess.run(["bash", str(ZK_JAVA_SH), "stop", str(jdir)], capture_output=True)
    assert ours == java, (ours, java)


def test_prometheus_metrics_of_a_quorum_member(ensemble):
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families
    from zkharness import free_port

    ports = {i: free_port() for i in (1, 2, 3)}
    ens = ensemble(3, extra={"metricsProvider.className": "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"})
    for i, m in ens.members.items():
        m.extra["metricsProvider.httpPort"] = str(ports[i])
        m.extra["metricsProvider.httpHost"] = "127.0.0.1"
    ens.start()
    leader = leader_of(ens)
    text = urllib.request.urlopen(f"http://127.0.0.1:{ports[leader]}/metrics", timeout=10).read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["quorum_size"].samples[0].value == 3.0
    assert families["synced_followers"].samples[0].value == 2.0
    assert families["learners"].samples[0].value == 2.0


def _connect_answer(port: int, timeout: float = 10.0) -> str:
    """What a ConnectRequest to a member gets: 'refused', 'closed' or 'session' (an answer);
    a member that keeps the connection open without answering fails the test (a hang)."""
    import socket

    from rawclient import connect_request, frame

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(frame(connect_request()))
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                return "closed"
            except TimeoutError:
                pytest.fail(f"member on {port} neither answered nor closed in {timeout}s: hung")
            return "session" if data else "closed"
    except ConnectionRefusedError:
        return "refused"


def _stopped_in_order(ens: ZKEnsemble, sid: int, kind: str) -> None:
    """SIGTERM: a clean exit, the running role ended (and torn down) before the peer stopped."""
    m = ens.members[sid]
    assert m.stop() in CLEAN_SIGTERM, m.log()
    text = (m.base / "server.log").read_text(errors="replace")
    ended = text.rfind(f"{kind} role ended: the server is shutting down")
    stopped = text.rfind(f"zk_twisted quorum peer {sid} stopped")
    assert 0 <= ended < stopped, text[-3000:]


def test_sigterm_of_a_follower_and_the_leader_stops_their_roles_and_never_hangs_clients(ensemble):
    """Roles are child services of the peer (issue 11): twistd's SIGTERM stops the running
    role first, then the peer; the member left without a quorum is between roles, and its
    clients get what 3.8 gives them: the connection closed, not hung."""
    ens = ensemble(3).start()
    leader = leader_of(ens)
    follower, survivor = [i for i in ens.sids if i != leader]
    c = client(ens, survivor)
    states: list = []
    c.add_listener(states.append)
    try:
        c.create("/before", b"1")
        _stopped_in_order(ens, follower, "follower")
        # two of three still serve
        c.create("/after-follower", b"2")
        assert ens.mode(leader) == "leader" and ens.mode(survivor) == "follower"
        _stopped_in_order(ens, leader, "leader")
        # the survivor's role ended with its leader: it closed its clients and is LOOKING
        wait_for(lambda: "SUSPENDED" in states or "LOST" in states, 10, what="the client's connection closed")
        wait_for(lambda: ens.mode(survivor) == "", 10, what="the survivor between roles")
        assert "not currently serving" in four_letter(ens.members[survivor].port, "srvr")
        for _ in range(3):
            assert _connect_answer(ens.members[survivor].port) in ("refused", "closed")
    finally:
        c.stop()
        c.close()
    # the stopped members start again and the ensemble serves every write
    ens.start([follower, leader])
    with_all = client(ens, leader)
    try:
        with_all.sync("/")
        assert with_all.get("/after-follower")[0] == b"2"
    finally:
        with_all.stop()
        with_all.close()
