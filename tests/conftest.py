"""Shared fixtures: a zk_twisted server per test, Java ZooKeeper 3.8 per module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corefakes  # noqa: E402
from zkharness import JavaZK, ZKProcess  # noqa: E402

#: what ZKDatabase logs when a txn's (or a snapshot's) digest differs from the tree's
DIGEST_MISMATCH = "Digests are not matching"
_log_checked: dict[int, int] = {}


@pytest.fixture(autouse=True)
def no_digest_mismatch():
    """After every test: no in-process core it made counted a digest mismatch, and no
    zk_twisted server it ran logged one (the log is the record that survives kill -9 and
    covers restore too; mntr's zk_digest_mismatches_count counts the same events)."""
    yield
    cores, corefakes.CHECKED_CORES[:] = list(corefakes.CHECKED_CORES), []
    assert all(zks.db.digest_mismatches == 0 for zks in cores), "an in-process core counted digest mismatches"
    found = []
    for server in ZKProcess.started:
        try:
            with open(server.log_path, "rb") as f:
                f.seek(_log_checked.get(id(server), 0))
                text = f.read()
                _log_checked[id(server)] = f.tell()
        except OSError:
            continue
        found += [line for line in text.decode("utf-8", "replace").splitlines() if DIGEST_MISMATCH in line]
    assert not found, "zk_twisted logged digest mismatches:\n" + "\n".join(found[:5])


@pytest.fixture
def zk_server_config():
    """``zk_server`` is the fixture of our pytest plugin (zk_twisted.testing.pytest_plugin):
    here with extended types on, as our shipped config."""
    return {"extendedTypesEnabled": "true"}


@pytest.fixture
def zk_factory(tmp_path):
    """Make servers with custom zoo.cfg keys: ``zk_factory(extra={...}, name='a')``."""
    made: list[ZKProcess] = []

    def make(extra: dict | None = None, name: str = "zk", start: bool = True, **kw) -> ZKProcess:
        server = ZKProcess(tmp_path / name, extra=extra, **kw)
        made.append(server)
        return server.start() if start else server

    yield make
    for s in made:
        s.stop()


@pytest.fixture(scope="module")
def java_zk(tmp_path_factory):
    """Java ZooKeeper 3.8 standalone on a loopback port, for side-by-side comparisons."""
    server = JavaZK(
        tmp_path_factory.mktemp("javazk"),
        extra={"extendedTypesEnabled": "true", "maxClientCnxns": "0"},
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def trace_corpus(tmp_path_factory) -> tuple[Path, dict]:
    """The 1,000 walks of depth 50 from spec/ZkSystemTraces.cfg (seed 7, 2 jobs), generated once
    per session by the CLI (its own JVM): the spec-side checks (tests/spec/test_traces.py) and the
    replay against the implementation (tests/conformance/test_replay_impl.py) read the same file.
    Returns the JSON-lines path and the CLI's summary (coverage included)."""
    import json
    import subprocess

    repo = Path(__file__).resolve().parent.parent
    out = tmp_path_factory.mktemp("corpus") / "traces.jsonl"
    r = subprocess.run(
        [sys.executable, "-m", "conformance", "traces", str(repo / "spec" / "ZkSystemTraces.cfg"),
         "-n", "1000", "--depth", "50", "--jobs", "2", "--seed", "7", "--progress", "0",
         "--require-coverage", "--json", "-o", str(out)],
        cwd=repo, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out, json.loads(r.stdout)
