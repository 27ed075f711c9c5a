"""Data directories across implementations: Java ZooKeeper 3.8 reads ours, we read its.

Both directions run the same kazoo workload (every kind of znode and txn: ACLs,
ephemerals of a live session, sequential, container, TTL, multi, failed multi, binary and
large data, enough txns for several snapshots and log files), record the tree as the
writing server serves it, then start the other implementation on a copy of the data dir
and compare what it serves.  Java's own SnapshotFormatter and TxnLogToolkit print exactly
what ``python -m zk_twisted.tools`` prints for the same files, and Java's log shows no
digest mismatch when it replays our files.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.protocol.serialization import Create2
from kazoo.security import OPEN_ACL_UNSAFE, make_acl
from zkharness import REPO, JavaZK, ZKProcess, run_java

CFG = {"extendedTypesEnabled": "true", "snapCount": "60"}
#: Java logs these when a replayed txn or a snapshot disagrees with its tree digest
DIGEST_TROUBLE = ("Digests are not matching", "First digest mismatch", "digest mismatch")


class CreateContainer(Create2):
    type = 19


class CreateTTL(Create2):
    """CreateTTLRequest: a Create2 body plus the ttl (kazoo has no TTL call)."""

    type = 21

    def __new__(cls, path, data, acl, flags, ttl):
        self = super().__new__(cls, path, data, acl, flags)
        self.ttl = ttl
        return self

    def serialize(self):
        return super().serialize() + self.ttl.to_bytes(8, "big")


def special_create(zk: KazooClient, request) -> None:
    async_result = zk.handler.async_result()
    zk._call(request, async_result)
    async_result.get(timeout=10)


def workload(zk: KazooClient, hosts: str, tag: str) -> KazooClient:
    """Writes of every kind; returns a second session left open (its ephemerals stay)."""
    extra_acl = [*OPEN_ACL_UNSAFE, make_acl("ip", "10.1.2.3", read=True)]
    zk.create(f"/{tag}", b"root of the workload")
    zk.create(f"/{tag}/acl", b"with two ACL entries", acl=extra_acl)
    zk.create(f"/{tag}/bin", bytes(range(256)) * 3)
    zk.create(f"/{tag}/big", b"x" * 60000)
    zk.create(f"/{tag}/caf\u00e9", "d\u00e9j\u00e0 vu".encode())
    for _ in range(3):
        zk.create(f"/{tag}/seq-", b"s", sequence=True)
    special_create(zk, CreateContainer(f"/{tag}/container", b"c", OPEN_ACL_UNSAFE, 4))
    zk.create(f"/{tag}/container/child", b"keeps the container")
    special_create(zk, CreateTTL(f"/{tag}/ttl", b"t", OPEN_ACL_UNSAFE, 5, 3_600_000))
    for i in range(4):
        zk.set(f"/{tag}/acl", f"version {i + 1}".encode())
    zk.set_acls(f"/{tag}/bin", [*OPEN_ACL_UNSAFE, make_acl("ip", "10.9.9.9", write=True)])
    t = zk.transaction()
    t.create(f"/{tag}/multi", b"m")
    t.set_data(f"/{tag}", b"changed in a multi")
    t.delete(f"/{tag}/seq-0000000000")
    t.commit()
    t = zk.transaction()  # fails as a whole: an error txn in the log
    t.create(f"/{tag}/never", b"n")
    t.check(f"/{tag}", 99)
    t.commit()
    for i in range(150):
        zk.create(f"/{tag}/bulk{i:03d}", f"{i}".encode() * 7)
    for i in range(0, 150, 3):
        zk.delete(f"/{tag}/bulk{i:03d}")
    holder = KazooClient(hosts=hosts, timeout=30)
    holder.start()
    holder.create(f"/{tag}/held", b"ephemeral of a session that stays", ephemeral=True)
    closed = KazooClient(hosts=hosts, timeout=30)
    closed.start()
    closed.create(f"/{tag}/gone", b"ephemeral of a closed session", ephemeral=True)
    closed.stop()
    closed.close()
    return holder


def read_tree(hosts: str) -> dict:
    """Every znode as served: data, all Stat fields, ACL."""
    zk = KazooClient(hosts=hosts, timeout=30)
    zk.start()
    out = {}
    stack = ["/"]
    while stack:
        path = stack.pop()
        try:
            data, stat = zk.get(path)
            acl, _ = zk.get_acls(path)
        except NoNodeError:
            continue
        out[path] = (data, tuple(stat), [(a.perms, a.id.scheme, a.id.id) for a in acl])
        prefix = path.rstrip("/")
        stack.extend(f"{prefix}/{c}" for c in zk.get_children(path))
    zk.stop()
    zk.close()
    return out


def our_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zk_twisted.tools", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def same_dump(files: list[Path]) -> None:
    """Java's formatter and ours print the same for each file."""
    assert files
    for f in files:
        if f.name.startswith("snapshot."):
            java = run_java("org.apache.zookeeper.server.SnapshotFormatter", str(f))
            ours = our_tool("snapshot", str(f))
        else:
            java = run_java("org.apache.zookeeper.server.persistence.TxnLogToolkit", str(f))
            ours = our_tool("txnlog", str(f))
        assert java.returncode == 0 and ours.returncode == 0, (java.stderr, ours.stderr)
        assert ours.stdout == java.stdout, f"{f.name} prints differently"


def sample(files: list[Path], n: int = 3) -> list[Path]:
    """The oldest and the newest few (each Java run costs a JVM start)."""
    return files if len(files) <= n else [files[0], *files[-(n - 1) :]]


def version2(d: Path, prefix: str) -> list[Path]:
    return sorted((d / "version-2").glob(f"{prefix}.*"), key=lambda p: int(p.name.split(".")[1], 16))


def java_on(data: Path, base: Path) -> JavaZK:
    return JavaZK(base, extra={**CFG, "dataDir": str(data)}).start()


def digest_trouble(java_base: Path) -> list[str]:
    """Lines of Java's log that report a digest mismatch."""
    text = (java_base / "zk.log").read_text(errors="replace")
    return [line for line in text.splitlines() if any(t in line for t in DIGEST_TROUBLE)]


@pytest.fixture
def at_end():
    """Register clean-ups (servers, clients) that run however the test ends."""
    calls: list = []
    yield calls.append
    for f in reversed(calls):
        f()


def client(hosts: str, at_end) -> KazooClient:
    zk = KazooClient(hosts=hosts, timeout=30)
    zk.start()
    at_end(zk.close)
    at_end(zk.stop)
    return zk


def test_java_reads_a_data_dir_zk_twisted_wrote(tmp_path, at_end):
    ours = ZKProcess(tmp_path / "ours", extra=CFG).start()
    at_end(ours.stop)
    holder = workload(client(ours.hosts, at_end), ours.hosts, "w")
    at_end(holder.close)
    at_end(holder.stop)
    expected = read_tree(ours.hosts)
    ours.kill()  # the session of ``holder`` is still open: it must live on in the files
    snaps, logs = version2(ours.data_dir, "snapshot"), version2(ours.data_dir, "log")
    assert len(snaps) >= 3 and len(logs) >= 3
    same_dump(sample(snaps) + sample(logs))
    copy = tmp_path / "copy"
    shutil.copytree(ours.data_dir, copy)
    java = java_on(copy, tmp_path / "java")
    at_end(java.stop)
    assert read_tree(java.hosts) == expected
    assert digest_trouble(tmp_path / "java") == []


def test_zk_twisted_serves_a_data_dir_java_wrote_and_java_reads_it_back(tmp_path, at_end):
    java = JavaZK(tmp_path / "java", extra=CFG).start()
    at_end(java.stop)
    holder = workload(client(java.hosts, at_end), java.hosts, "j")
    at_end(holder.close)
    at_end(holder.stop)
    expected = read_tree(java.hosts)
    java.stop()
    snaps, logs = version2(java.data_dir, "snapshot"), version2(java.data_dir, "log")
    same_dump(sample(snaps) + sample(logs))
    copy = tmp_path / "copy"
    shutil.copytree(java.data_dir, copy)
    ours = ZKProcess(tmp_path / "ours", extra=CFG, data_dir=copy).start()
    at_end(ours.stop)
    assert read_tree(ours.hosts) == expected
    # keep writing on top of Java's files, then hand the mixed dir back to Java
    zk = client(ours.hosts, at_end)
    zk.create("/j/from-zk_twisted", b"appended")
    zk.set("/j/acl", b"set by zk_twisted")
    zk.delete("/j/bulk001")
    expected = read_tree(ours.hosts)
    ours.stop()
    back = java_on(copy, tmp_path / "java2")
    at_end(back.stop)
    assert read_tree(back.hosts) == expected
    assert digest_trouble(tmp_path / "java2") == []


def written_dir(base: Path, snap_count: int, at_end) -> ZKProcess:
    """A stopped server whose data dir holds 100 creates."""
    server = ZKProcess(base, extra={"snapCount": str(snap_count)}).start()
    at_end(server.stop)
    zk = KazooClient(hosts=server.hosts, timeout=30)
    zk.start()
    for i in range(100):
        zk.create(f"/n{i}", f"{i}".encode() * 10)
    zk.stop()
    zk.close()
    server.stop()
    return server


def test_flipped_byte_mid_log_stops_startup_naming_file_and_offset(tmp_path, at_end):
    from zk_twisted.persistence.txnlog import LogFileReader

    server = written_dir(tmp_path / "zk", 100000, at_end)  # one snapshot (snapshot.0), one log
    (log,) = version2(server.data_dir, "log")
    offsets = [e.offset for e in LogFileReader(log)]
    bad = offsets[len(offsets) // 2]
    with open(log, "r+b") as f:
        f.seek(bad + 30)
        b = f.read(1)
        f.seek(bad + 30)
        f.write(bytes([b[0] ^ 0x40]))
    with pytest.raises(RuntimeError) as e:
        server.start()
    assert server.proc.returncode not in (0, None)
    assert f"{log} at offset {bad}: checksum mismatch" in str(e.value)


def test_corrupt_newest_snapshot_falls_back_and_serves_everything(tmp_path, at_end):
    server = written_dir(tmp_path / "zk", 40, at_end)
    before = read_tree(server.start().hosts)
    server.stop()
    snaps = version2(server.data_dir, "snapshot")
    assert len(snaps) >= 3
    newest = snaps[-1]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    server.start()
    assert read_tree(server.hosts) == before
    server.stop()
    assert f"problem reading snap file {newest}" in server.log_path.read_text()
