"""Mixed ensembles: Java ZooKeeper 3.8 (Debian's package) and zk_twisted members in one quorum.

Each member is started by its own zoo.cfg and myid in zk_java.sh's port layout
(tests/zkharness.py MixedEnsemble: "JJZ" = sids 1 and 2 Java, sid 3 ours).  The leader is
forced as FastLeaderElection chooses it: with every member at the same (epoch, zxid), the
highest sid wins, so the member meant to lead gets the highest sid and is started first.

What is checked is what an operator and a client see: every member names the same leader
(3.8's ``srvr`` Mode and ours), kazoo writes through every member and reads them back
through every member after ``sync``, a session and its ephemerals move between a Java and a
zk_twisted member, kill -9 of any one member loses no acknowledged write, each sync path
(DIFF, TRUNC, SNAP) in both directions (asserted from the receiving server's log), and
``mntr``'s ``zk_digest_mismatches_count 0`` on every member after every test: 3.8 followers
check the digest carried in each of our leader's txns, and we check the Java leader's.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import time

import pytest
from crashload import ROOT, EnsembleTarget, check, checker_ready, crash_round, start_writers, stop_writers
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError
from tcpproxy import TCPProxy
from zkharness import (
    MixedEnsemble,
    ensemble_factory,
    four_letter,
    logged_txn_count,
    rejoin_under_set_data_load,
    wait_for,
)

pytestmark = pytest.mark.timeout(300)

#: what the receiving learner logs for each sync: 3.8's Learner.syncWithLeader lines, and
#: ours (zk_twisted/quorum/learner.py says the same words)
LEARNER_SAYS = {
    "DIFF": "Getting a diff from the leader",
    "TRUNC": "Truncating log to get in sync with the leader",
    "SNAP": "Getting a snapshot from leader",
}


@pytest.fixture
def mixed(tmp_path):
    with ensemble_factory(tmp_path, MixedEnsemble) as make:
        yield make


def start_led_by(ens: MixedEnsemble, leader: int, timeout: float = 90.0) -> None:
    """Start ``leader`` first (until its election port listens), then the others: it has
    the highest sid of the voters, so FastLeaderElection elects it."""
    ens.members[leader].start(wait=False)
    eport = ens.base_port + 200 + leader - 1

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", eport), timeout=1).close()
            return True
        except OSError:
            return False

    wait_for(listening, 60, interval=0.1, what=f"member {leader}'s election port")
    ens.start([i for i in ens.sids if i != leader], wait=False)
    got = ens.wait_serving(timeout)
    assert got == leader, f"{ens.mix}: member {got} leads, not {leader}"


def modes(ens: MixedEnsemble) -> dict[int, str]:
    return {i: ens.mode(i) for i in ens.sids if ens.members[i].alive()}


def client(ens: MixedEnsemble, sid: int, timeout: float = 10.0) -> KazooClient:
    c = KazooClient(hosts=ens.members[sid].hosts, timeout=timeout, connection_retry={"max_tries": -1, "max_delay": 0.5})
    c.start(timeout=30)
    return c


def close(*clients: KazooClient) -> None:
    for c in clients:
        c.stop()
        c.close()


def log_text(ens: MixedEnsemble, sid: int) -> str:
    try:
        return ens.members[sid].log_path.read_text(errors="replace")
    except OSError:
        return ""


def says(ens: MixedEnsemble, sid: int, how: str) -> int:
    return log_text(ens, sid).count(LEARNER_SAYS[how])


def our_leader_synced(ens: MixedEnsemble, leader: int) -> list[tuple[int, str]]:
    """(learner sid, DIFF|TRUNC|SNAP) for each 'Synchronizing learner' line of our leader."""
    return [
        (int(a), b)
        for a, b in re.findall(r"Synchronizing learner (\d+) \(peer zxid 0x[0-9a-f]+\) by (\w+)", log_text(ens, leader))
    ]


#: ZOOKEEPER-4394's NullPointerException in a 3.8.0 learner's syncWithLeader
JAVA_4394 = 'Cannot read field "hdr" because "pif" is null'
JAVA_MISMATCH = "Digests are not matching"


def no_digest_mismatch(ens: MixedEnsemble) -> None:
    """Every live member's ``mntr`` counts no digest mismatch.  One exception, Java's own:
    after ZOOKEEPER-4394 throws a 3.8.0 learner out of a sync, the SyncThread of the
    abandoned sync goes on logging its txns ("Current zxid ... is <= ... for setData") and
    the learner's next sync reports mismatches (seen on CI, with a leader of ours); a Java
    member whose log shows that exception before its first mismatch is let off, and only
    for that.  The acknowledged writes are still checked on every member."""
    for i, m in ens.members.items():
        if m.alive():
            mntr = four_letter(m.port, "mntr")
            if "zk_digest_mismatches_count\t0" in mntr:
                continue
            text = log_text(ens, i)
            if ens.kind(i) == "J" and -1 < text.find(JAVA_4394) < text.find(JAVA_MISMATCH):
                continue
            raise AssertionError(f"member {i} ({ens.kind(i)}): {mntr[-600:]}")


def retry_write(c: KazooClient, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            c.create(path, b"")
            return
        except (KazooException, KazooTimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def writes_and_reads_through_every_member(ens: MixedEnsemble, tag: str) -> None:
    clients = {i: client(ens, i) for i in ens.sids}
    try:
        for i, c in clients.items():
            c.create(f"/{tag}{i}", f"v{i}".encode())
            c.set(f"/{tag}{i}", f"x{i}".encode())
        asyncs = [c.create_async(f"/{tag}{i}/p", b"", sequence=True) for i, c in clients.items() for _ in range(50)]
        for a in asyncs:
            a.get(timeout=30)
        for i, c in clients.items():
            c.sync("/")
            assert sorted(x for x in c.get_children("/") if x.startswith(tag)) == [f"{tag}{j}" for j in ens.sids], i
            assert [c.get(f"/{tag}{j}")[0] for j in ens.sids] == [f"x{j}".encode() for j in ens.sids], i
            assert [len(c.get_children(f"/{tag}{j}")) for j in ens.sids] == [50] * len(ens.sids), i
    finally:
        close(*clients.values())


def session_moves_between_kinds(ens: MixedEnsemble, java: int, ours: int) -> None:
    """One kazoo session on the Java member, moved to ours (the first cut off), and back:
    same session id, its ephemerals still there, and gone everywhere when it closes."""
    pj, pz = TCPProxy(ens.members[java].port), TCPProxy(ens.members[ours].port)
    c = KazooClient(hosts=f"{pj.hosts},{pz.hosts}", randomize_hosts=False, timeout=10,
                    connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 0.5})  # fmt: skip
    others = {i: client(ens, i) for i in ens.sids}
    try:
        c.start(timeout=30)
        assert pj.accepted == 1 and pz.accepted == 0
        session = c.client_id[0]
        c.create("/moving", b"")
        c.create("/moving/on-java", b"", ephemeral=True)
        for here, there in ((pj, pz), (pz, pj)):
            before = there.accepted
            here.refuse = True
            there.refuse = False
            here.cut()
            wait_for(lambda there=there, before=before: there.accepted > before, 30, what="the client's move")
            retry_write(c, f"/moving/e{there.port}")  # after a move: through the other kind
            assert c.client_id[0] == session
            c.sync("/")
            kids = c.get_children("/moving")
            assert "on-java" in kids and c.get("/moving/on-java")[1].ephemeralOwner == session
        c.create("/moving/last", b"", ephemeral=True)
        for i, o in others.items():
            o.sync("/")
            assert o.get("/moving/last")[1].ephemeralOwner == session, i
        c.stop()
        left = {f"e{pj.port}", f"e{pz.port}"}  # the persistent ones
        for i, o in others.items():
            wait_for(lambda o=o: set(o.get_children("/moving")) == left, 30, what=f"member {i}: the ephemerals gone")
    finally:
        close(c, *others.values())
        pj.close()
        pz.close()



def leave_leader_an_uncommitted_txn(ens: MixedEnsemble, leader: int) -> None:
    """The TRUNC recipe: followers frozen, one write reaches only the leader's log; the
    leader killed, the frozen followers killed and restarted (they elect among themselves).
    The caller brings the old leader back before the new epoch commits anything."""
    followers = [i for i in ens.sids if i != leader]
    # a long session: its expiry would be a txn of the new epoch (then 3.8 says SNAP)
    c = client(ens, leader, timeout=40)
    c.create("/t", b"committed")
    c.sync("/")
    for f in followers:
        os.kill(ens.members[f].proc.pid, signal.SIGSTOP)
    before = logged_txn_count(ens.members[leader])
    c.create_async("/t/never", b"")
    wait_for(lambda: logged_txn_count(ens.members[leader]) > before, 20, what="the leader logging the uncommitted txn")
    ens.members[leader].kill()
    for f in followers:
        os.kill(ens.members[f].proc.pid, signal.SIGKILL)
        ens.members[f].proc.wait(10)
    close(c)
    ens.start(followers, wait=False)


def diff_then_snap(ens: MixedEnsemble, leader: int, learner: int) -> None:
    """Member ``learner`` stopped; a few writes: DIFF on its return; stopped again, more
    than the committed-log window (500) of writes: SNAP (the 64 MB preallocated log files
    are over the third of the snapshot's size at which 3.8 would read the txn log)."""
    c = client(ens, leader)
    try:
        c.ensure_path("/base")
        for how, n in (("DIFF", 5), ("SNAP", 700)):
            ens.members[learner].stop()
            seen = says(ens, learner, how)
            asyncs = [c.create_async(f"/base/{how}{k}", b"") for k in range(n)]
            for a in asyncs:
                a.get(timeout=60)
            ens.members[learner].start(wait=False)
            wait_for(lambda: ens.mode(learner) == "follower", 90, what=f"member {learner} back after {how}")
            assert says(ens, learner, how) == seen + 1, f"member {learner} did not sync by {how}"
            if ens.kind(leader) == "Z":
                assert our_leader_synced(ens, leader)[-1] == (learner, how)
        d = client(ens, learner)
        d.sync("/")
        assert len(d.get_children("/base")) == 705
        assert len([x for x in d.get_children("/") if x.startswith("far")]) == 600
        close(d)
    finally:
        close(c)


def far_behind_within_one_log_file_gets_a_diff(ens: MixedEnsemble, leader: int, learner: int) -> None:
    """Past the committedLog window (500) but inside the leader's current log file: 3.8
    serves the learner from the txn log (FileTxnIterator.getStorageSize counts only the
    files after the open one, none here), a DIFF, not a SNAP."""
    c = client(ens, leader)
    try:
        ens.members[learner].stop()
        seen = says(ens, learner, "DIFF")
        for a in [c.create_async(f"/far{k}", b"") for k in range(600)]:
            a.get(timeout=60)
        ens.members[learner].start(wait=False)
        wait_for(lambda: ens.mode(learner) == "follower", 90, what=f"member {learner} back")
        assert says(ens, learner, "DIFF") == seen + 1, f"member {learner} was not sent a DIFF"
        if ens.kind(leader) == "Z":
            assert re.search(rf"Synchronizing learner {learner} .* by DIFF .*\(rule e\)", log_text(ens, leader))
    finally:
        close(c)


@pytest.mark.parametrize(
    "mix",
    [
        # 2 Java + ours: ours leads first, then (after the TRUNC) follows a Java leader
        "JJZ",
        # ours + 1 Java: a Java leader first, then ours leads a Java follower
        "ZZJ",
    ],
)
def test_mixed_roles_agree_serve_and_sync_each_way(mixed, mix):
    ens = mixed(mix)
    first = 3
    other_kind = next(i for i in ens.sids if ens.kind(i) != ens.kind(first))
    start_led_by(ens, first)
    m = modes(ens)
    assert m == {1: "follower", 2: "follower", 3: "leader"}, m
    writes_and_reads_through_every_member(ens, "a")
    java, ours = (first, other_kind) if ens.kind(first) == "J" else (other_kind, first)
    session_moves_between_kinds(ens, java, ours)
    far_behind_within_one_log_file_gets_a_diff(ens, first, 1)
    no_digest_mismatch(ens)

    # TRUNC: the first leader (sid 3) comes back holding a txn no one else has; the new
    # leader is sid 1 or 2, of the other kind.  A 3.8.0 learner writes currentEpoch and ACKs
    # NEWLEADER before the synced txns are on disk (ZOOKEEPER-4643/4646, fixed after 3.8.0
    # by ZOOKEEPER-4785): harmless here, nothing crashes between NEWLEADER and the fsync.
    # Its SyncThread's ACKs of those txns may overtake the NEWLEADER ACK; our leader ignores
    # them while it waits for the NEWLEADER ACK (3.8.0's, once established, takes the first
    # ACK for it).
    seen = says(ens, first, "TRUNC")
    # from their restart in the TRUNC recipe on, sids 1 and 2 (the next leader is one of
    # them) roll their logs every 50-100 txns, so that a learner 700 txns behind gets a
    # SNAP: 3.8 reads the txn log for it only if the files after the one holding its zxid
    # are under a third of the snapshot's size.  Not on sid 3, which truncates: 3.8's
    # truncateLog reloads the newest snapshot even if it is past the truncation point (the
    # txn would come back).  Not before: a 3.8.0 follower that snapshotted while a DIFF of
    # ours was being applied once reported a digest mismatch on loading that snapshot
    # after a restart (zk_digest_mismatches_count 1; not reproduced since)
    for i in (1, 2):
        ens.members[i].extra["snapCount"] = "100"
    leave_leader_an_uncommitted_txn(ens, first)
    # sid 2 unless sid 1 logged more before the freeze (the same kind either way)
    new = ens.wait_serving(90)
    assert new in (1, 2) and ens.kind(new) != ens.kind(first)
    ens.members[first].start(wait=False)
    wait_for(lambda: ens.mode(first) == "follower", 90, what="the old leader back as a follower")
    assert says(ens, first, "TRUNC") == seen + 1, log_text(ens, first)[-3000:]
    if ens.kind(new) == "Z":
        assert (first, "TRUNC") in our_leader_synced(ens, new)
    d = client(ens, new)
    d.create("/t/new", b"")
    e = client(ens, first)
    e.sync("/")
    assert sorted(e.get_children("/t")) == ["new"]
    close(d, e)
    m = modes(ens)
    assert m == {i: "leader" if i == new else "follower" for i in ens.sids}, m
    # everything acknowledged before the kills is still there, everywhere
    writes_and_reads_through_every_member(ens, "b")
    for i in ens.sids:
        c = client(ens, i)
        c.sync("/")
        assert {"a1", "a2", "a3", "b1", "b2", "b3", "t", "moving"} <= set(c.get_children("/")), i
        close(c)
    # DIFF and SNAP from the new leader to the first one (of the other kind)
    diff_then_snap(ens, new, first)
    no_digest_mismatch(ens)


class TwoServeWhileOneIsDown(EnsembleTarget):
    """crashload's ensemble target, killing each member in turn (``order``), and before
    the killed one comes back: the two left have one leader and serve, and the writers'
    writes are acknowledged through them."""

    def __init__(self, ensemble, rng, writers, order) -> None:
        super().__init__(ensemble, rng)
        self.writers = writers
        self.order = list(order)

    def kill(self) -> None:
        ens = self.ensemble
        leader = ens.wait_serving(60)
        self.victim = self.order[len(self.kills)]
        self.kills.append((self.victim, "leader" if self.victim == leader else "follower"))
        ens.members[self.victim].kill()
        ens.wait_serving(90)
        before = sum(w.confirmed_writes for w in self.writers)
        wait_for(
            lambda: sum(w.confirmed_writes for w in self.writers) > before + 10, 60,
            what=f"writes acknowledged with member {self.victim} ({ens.kind(self.victim)}) down",
        )  # fmt: skip


@pytest.mark.parametrize(
    "mix,leader",
    [
        ("ZJJ", 3),  # 2 Java + ours as a follower of a Java leader
        ("JZZ", 3),  # 1 Java + 2 ours, ours leading
    ],
)
def test_kill_9_of_any_one_member_loses_no_acknowledged_write(mixed, mix, leader):
    """kazoo writers on every member's address (their sessions move between the kinds when
    their member dies) while each member in turn, the leader first, is killed with SIGKILL
    and restarted: the two left serve meanwhile, every acknowledged write is there, every
    session's ephemeral still owned by it.

    Tolerates ZOOKEEPER-4394 (3.8.0's Learner.syncWithLeader): a COMMIT that reaches a Java
    learner between NEWLEADER and UPTODATE for a proposal sent before NEWLEADER finds
    packetsNotCommitted emptied at NEWLEADER and throws a NullPointerException ("Cannot read
    field hdr because pif is null"); under write load this happens with a leader of either
    kind.  The learner goes back to LOOKING and joins again by a DIFF, losing nothing."""
    ens = mixed(mix)
    start_led_by(ens, leader)
    rng = random.Random(14)
    writers, checker = start_writers(ens.hosts, 3, seed=14)
    # the first leader, then the others; the second is a follower, the third whoever
    target = TwoServeWhileOneIsDown(ens, rng, writers, order=(leader, 1, 2))
    try:
        for _ in range(3):
            r = crash_round(target, writers, checker, rng)
            assert not r.problems, (target.kills, r.problems[:10])
            assert r.exact > 0
        assert [s for s, _ in target.kills] == [leader, 1, 2] and target.kills[0][1] == "leader"
        assert sum(w.confirmed_writes for w in writers) > 0
    finally:
        stop_writers(writers, checker)
    assert len({ens.mode(i) for i in ens.sids} - {"follower"}) == 1  # one leader, the rest follow
    no_digest_mismatch(ens)


def test_our_follower_replays_a_java_leaders_fuzzy_snap_without_a_digest_mismatch(mixed):
    """A Java 3.8 leader serializes a SNAP while it commits (fuzzy: a node may be written
    in a state some txns after the SNAP zxid), so those txns' digests describe trees our
    learner's is already past when it replays them at UPTODATE; it does not compare them
    (ZKDatabase.fuzzy_until), and compares every txn after.  setData on nodes all over a
    20,000-node tree while our far-behind member syncs from the Java leader by SNAP."""
    ens = mixed("JZJ", extra={"forceSnapshotSync": "true"})  # zookeeper.forceSnapshotSync
    start_led_by(ens, 3)
    c = client(ens, 3)
    try:
        seen = says(ens, 2, "SNAP")
        written = rejoin_under_set_data_load(ens, c, 2, timeout=90)
        assert says(ens, 2, "SNAP") == seen + 1 and len(written) > 500
        d = client(ens, 2)
        d.sync("/")
        for path, data in written.items():
            assert d.get(path)[0] == data, path
        close(d)
        no_digest_mismatch(ens)
    finally:
        close(c)


@pytest.mark.parametrize(
    "mix",
    [
        "JJJZ",  # our observer beside Java voters: INFORMs from a Java leader
        "ZZZJ",  # a Java observer beside ours: INFORMs, its REQUESTs and REVALIDATE to ours
    ],
)
def test_observer_of_one_kind_beside_voters_of_the_other(mixed, mix):
    """The observer (member 4) serves what the voters commit, forwards its clients' writes
    and sessions to the leader, and follows the next leader after a kill -9 of the first."""
    ens = mixed(mix, observers=(4,))
    ens.start(wait=False)
    leader = ens.wait_serving(90)
    assert leader != 4 and ens.mode(4) == "observer"
    c = client(ens, leader)
    o = client(ens, 4)
    try:
        c.create("/seen", b"by all")
        o.sync("/")
        assert o.get("/seen")[0] == b"by all"
        o.create("/from-observer", b"")  # forwarded to the leader as a REQUEST
        o.create("/from-observer/e", b"", ephemeral=True)  # a session of an observer
        for i in (1, 2, 3):
            x = client(ens, i)
            x.sync("/")
            assert x.exists("/from-observer/e").ephemeralOwner == o.client_id[0], i
            close(x)
        # the leader killed: the observer follows whoever the voters elect
        ens.members[leader].kill()
        new = ens.wait_serving(90)
        assert new != leader
        wait_for(lambda: ens.mode(4) == "observer", 60, what="the observer back under the new leader")
        retry_write(o, "/after-failover")
        c2 = client(ens, new)
        c2.sync("/")
        assert c2.exists("/after-failover") is not None and c2.exists("/from-observer/e") is not None
        close(c2)
        no_digest_mismatch(ens)
    finally:
        close(c, o)


def test_rolling_replacement_java_to_ours_and_back_under_write_load(mixed):
    """A Java 3.8 ensemble under kazoo write load has each member in turn stopped and
    replaced by a zk_twisted node on the same data dir and ports (3.8's on-disk format:
    myid, currentEpoch/acceptedEpoch, log.* and snapshot.* as Java left them), then each
    zk_twisted member by a Java one again.  After every step: every acknowledged write is
    there and every writer's session (and its ephemeral) is the one it started with, so a
    client saw only reconnects.  Java learners may leave a sync once with ZOOKEEPER-4394
    (see the kill -9 test) and join again: still only a reconnect for the clients."""
    ens = mixed("JJJ")
    ens.start(wait=False)
    ens.wait_serving(90)
    writers, checker = start_writers(ens.hosts, 3, seed=41)
    steps: list[str] = []
    try:
        for kind in ("Z", "J"):
            for sid in ens.sids:
                for w in writers:
                    w.resume()
                time.sleep(0.5)
                ens.replace(sid, kind).start(wait=False)
                ens.wait_serving(90)
                wait_for(lambda sid=sid: ens.mode(sid) in ("leader", "follower"), 90, what=f"member {sid} serving")
                time.sleep(0.5)
                for w in writers:
                    w.pause()
                checker_ready(checker)
                checker.sync(ROOT)
                exact, _, problems = check(checker, writers)
                steps.append(ens.mix)
                assert not problems, (ens.mix, problems[:10])
                assert exact > 0
                for w in writers:
                    assert w.client.client_id[0] == w.session_id, f"{w.name}: a new session after {ens.mix}"
        assert steps == ["ZJJ", "ZZJ", "ZZZ", "JZZ", "JJZ", "JJJ"]
        assert all(w.confirmed_writes > 0 for w in writers)
    finally:
        stop_writers(writers, checker)
    no_digest_mismatch(ens)
