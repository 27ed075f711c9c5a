"""Progress of long storage work: log lines while a big snapshot is read or written, and a
terminal progress bar in ``python -m zk_twisted.tools`` (never when stderr is piped)."""

from __future__ import annotations

import logging
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from zk_twisted.persistence import progress as progress_mod
from zk_twisted.persistence.filetxnsnaplog import FileTxnSnapLog
from zk_twisted.persistence.progress import ProgressLog
from zk_twisted.persistence.snapshot import load_snapshot, write_snapshot
from zk_twisted.server.datatree import DataNode, DataTree
from zk_twisted.server.zkdatabase import ZKDatabase
from zk_twisted.tools.progressbar import BIG_FILE

OPEN = ((31, "world", "anyone"),)


class Ticks:
    """A clock that moves one second per read: every check is 'a few seconds later'."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def big_db(n: int, size: int = 16) -> ZKDatabase:
    tree = DataTree()
    acl = tree.acl_cache.intern(OPEN)
    tree.add_restored_node("", DataNode(b"", acl))
    tree.add_restored_node("/big", DataNode(b"", acl))
    for i in range(n):
        tree.add_restored_node(f"/big/n{i:07d}", DataNode(b"v" * size, acl, i + 1, i + 1))
    tree.finish_restore()
    tree.last_processed_zxid = n
    return ZKDatabase(tree)


@pytest.fixture(scope="module")
def big_snapshot(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("snap") / "version-2"
    d.mkdir()
    path = write_snapshot(big_db(40_000, 24), d, fsync=False)
    assert path.stat().st_size > BIG_FILE
    return path


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    """Over the tools' 'big file' size with few nodes: printing them is the slow part."""
    d = tmp_path_factory.mktemp("bigfile") / "version-2"
    d.mkdir()
    path = write_snapshot(big_db(5_000, 256), d, fsync=False)
    assert path.stat().st_size > BIG_FILE
    return path


def test_progress_log_line_and_interval():
    lines: list[str] = []
    clock = iter([0.0, 1.0, 6.0, 7.0, 12.0]).__next__
    p = ProgressLog("Reading snapshot x", interval=5.0, clock=clock, emit=lines.append)
    p.update(100, 0.01)  # t=1: too soon
    assert lines == []
    p.update(6000, 0.5)  # t=6: 6000 nodes in 6 s, half done -> 6 s to go
    assert lines == ["Reading snapshot x: 6,000 nodes (50%), 1,000 nodes/s, ETA 6s"]
    p.update(7000, 0.6)  # t=7: within the next interval
    p.update(12000, 0.99)
    assert len(lines) == 2 and "ETA 0s" in lines[1]


def test_reading_a_big_snapshot_reports_nodes_rate_and_eta(big_snapshot):
    lines: list[str] = []
    db = ZKDatabase(DataTree())
    loaded = load_snapshot(big_snapshot, db, ProgressLog("Reading", interval=1.0, clock=Ticks(), emit=lines.append))
    assert loaded.node_count > 40_000
    assert len(lines) == 40_000 // progress_mod.NODES_PER_CHECK
    done = [int(line.split(": ")[1].split(" nodes")[0].replace(",", "")) for line in lines]
    assert done == sorted(done) and done[-1] <= loaded.node_count
    assert all("nodes/s" in line and "ETA" in line for line in lines)


def test_writing_a_big_snapshot_reports_progress(tmp_path):
    from zk_twisted.persistence.snapshot import SnapshotFileWriter, SnapshotSerializer

    lines: list[str] = []
    db = big_db(10_000)
    ser = SnapshotSerializer(db, progress=ProgressLog("Writing", interval=1.0, clock=Ticks(), emit=lines.append))
    writer = SnapshotFileWriter(tmp_path, ser.zxid, fsync=False)
    for chunk in ser.node_chunks(1000):
        writer.write_nodes(chunk)
    writer.finish(ser.prefix(), ser.digest_trailer())
    chunks = -(-len(db.tree.nodes) // 1000)  # paths include "/" and "" (the root's two names)
    assert len(lines) == chunks  # once per chunk with this clock
    assert lines[-1].startswith("Writing: 10,00") and "(100%)" in lines[-1]


def test_restore_logs_progress_to_the_server_log(big_snapshot, tmp_path, caplog, monkeypatch):
    # the real sink and interval, the interval shortened so that every check logs
    monkeypatch.setattr(progress_mod, "DEFAULT_INTERVAL_S", 0.0)
    data = tmp_path / "data" / "version-2"
    data.mkdir(parents=True)
    os.link(big_snapshot, data / big_snapshot.name)
    caplog.set_level(logging.INFO, logger="zk_twisted.persistence.progress")
    FileTxnSnapLog(tmp_path / "data", tmp_path / "data").restore(ZKDatabase(DataTree()))
    lines = [r.getMessage() for r in caplog.records if r.name == "zk_twisted.persistence.progress"]
    assert lines and all(line.startswith(f"Reading snapshot {data / big_snapshot.name}: ") for line in lines)


def _tool(args: list[str], stderr) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zk_twisted.tools", *args],
        stdout=subprocess.DEVNULL, stderr=stderr, timeout=120, check=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def big_log(tmp_path_factory) -> Path:
    from zk_twisted.constants import OpCode
    from zk_twisted.jute import records as R
    from zk_twisted.persistence.files import make_log_name
    from zk_twisted.persistence.txnlog import FileTxnLog

    d = tmp_path_factory.mktemp("biglog")
    tl = FileTxnLog(d, 64 * 1024)
    acl = [R.ACL(31, R.Id("world", "anyone"))]
    for z in range(1, 5001):
        hdr = R.TxnHeader(0x100, z, z, 1000 + z, OpCode.create)
        tl.append(hdr, R.CreateTxn(f"/n{z}", b"v" * 256, acl, False, z), R.TxnDigest(2, z))
    tl.commit()
    tl.close()
    path = d / make_log_name(1)
    assert path.stat().st_size > BIG_FILE
    return path


def _on_a_pty(args: list[str]) -> str:
    """Run the tool with stderr on a terminal; what the terminal received (read while it runs,
    so a slow run cannot fill the pty and block)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "zk_twisted.tools", *args], stdout=subprocess.DEVNULL, stderr=slave
        )
        os.close(slave)
        slave = -1
        out = b""
        while True:
            try:
                d = os.read(master, 65536)
            except OSError:  # EIO: the tool exited and the pty is drained
                break
            if not d:
                break
            out += d
        assert proc.wait(120) == 0
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)
    return out.decode()


def test_tool_shows_a_bar_on_a_terminal(big_file, big_log):
    text = _on_a_pty(["snapshot", str(big_file)])
    assert f"reading {big_file.name}: [" in text
    assert "100%" in text and "5,00" in text and "nodes" in text
    text = _on_a_pty(["txnlog", str(big_log)])
    assert f"reading {big_log.name}: [" in text and "100%  5,000 txns" in text


def test_tool_is_quiet_when_piped(big_file, big_log):
    for args in (["snapshot", str(big_file)], ["txnlog", str(big_log)]):
        assert _tool(args, subprocess.PIPE).stderr == b""
