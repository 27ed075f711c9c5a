"""bench/client_ops.py keeps working: a tiny run against zk_twisted only (``--no-java``).

Checks the JSON document's shape, not speeds (no timed asserts in the suite).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from zkharness import REPO, SHARED_TOOLS

BENCH = REPO / "bench" / "client_ops.py"
CASES = ["getData", "exists", "create", "setData", "ephemeral", "connect", "getData_1x1", "create_1x1"]
PER_SERVER = {"ops_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_op", "rounds"}

pytestmark = pytest.mark.skipif(
    not (SHARED_TOOLS / "zkload.py").is_file(), reason=f"no zkload.py in {SHARED_TOOLS}"
)


def test_client_ops_no_java(tmp_path: Path):
    out_file = tmp_path / "out.json"
    r = subprocess.run(
        [
            sys.executable, str(BENCH), "--no-java", "--seconds", "0.3", "--warmup", "0.1",
            "--rounds", "1", "--startup-samples", "1", "--settle", "0.1",
            "--json-out", str(out_file), "--workdir", str(tmp_path),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, f"rc={r.returncode}\nstdout:\n{r.stdout[-3000:]}\nstderr:\n{r.stderr[-3000:]}"
    doc = json.loads(r.stdout)
    assert json.loads(out_file.read_text()) == doc
    assert doc["problems"] == []
    assert doc["settings"]["servers"] == ["zk_twisted"]
    assert "client_ops" in r.stderr                                 # progress lines

    assert set(doc["ops"]) == set(CASES)
    for name, entry in doc["ops"].items():
        assert entry["ratio"] is None, name                         # no Java to compare with
        assert "java" not in entry
        ours = entry["zk_twisted"]
        assert PER_SERVER <= set(ours), name
        assert len(ours["rounds"]) == 1
        assert ours["rounds"][0]["errors"] == 0
        assert isinstance(ours["ops_per_s"], (int, float)) and ours["ops_per_s"] > 0, name
        assert isinstance(ours["server_cpu_us_per_op"], (int, float)), name
    assert (doc["ops"]["getData_1x1"]["conns"], doc["ops"]["getData_1x1"]["depth"]) == (1, 1)
    assert (doc["ops"]["create"]["conns"], doc["ops"]["create"]["depth"]) == (8, 64)

    st = doc["startup_s"]["zk_twisted"]
    assert len(st["samples"]) == 1 and st["median"] > 0
    rss = doc["rss_mb"]["zk_twisted"]
    assert rss["idle"] > 0 and rss["after_load"] > 0

    t = doc["targets"]
    assert set(t) == {"reads_ratio", "connect_ratio", "startup_under_1s", "rss_after_load_below_java"}
    assert t["reads_ratio"]["met"] is None and t["connect_ratio"]["met"] is None
    assert t["rss_after_load_below_java"]["met"] is None
    assert isinstance(t["startup_under_1s"]["met"], bool)
    assert list(tmp_path.iterdir()) == [out_file]                   # the servers' dirs are removed


def test_testing_startup_no_java(tmp_path: Path):
    r = subprocess.run(
        [sys.executable, str(REPO / "bench" / "testing_startup.py"), "--no-java", "--rounds", "1",
         "--test-seconds", "0", "--json-out", str(tmp_path / "out.json")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, f"rc={r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    doc = json.loads(r.stdout)
    assert len(doc["zk_twisted"]["start_s"]["samples"]) == 1
    assert doc["zk_twisted"]["server_cpu_at_ready_s"]["median"] > 0
    waits = doc["zk_server_fixture_wait_s"]
    assert len(waits["with_spare"]["samples"]) == len(waits["no_spare"]["samples"]) == 1
    assert isinstance(doc["target"]["met"], bool) and "java" not in doc
