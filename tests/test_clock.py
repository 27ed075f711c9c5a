"""A step of the wall clock expires no session; ctime / mtime still follow the wall clock.

3.8 times sessions on Time.currentElapsedTime (monotonic) and stamps txns with
Time.currentWallTime.  The server here runs with ``tests/wallstep/sitecustomize.py``, which
moves ``time.time()`` an hour ahead when the test says so (the machine's clock is shared and
cannot be stepped); the reactor's timers then all fall due at once, as they would live.
"""

from __future__ import annotations

import time
from pathlib import Path

from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState
from rawclient import RawClient, create_body
from zkharness import ZKProcess, wait_for

STEP_S = 3600
TICK_MS = 1000


def test_wall_clock_step_expires_no_session(tmp_path, monkeypatch):
    step_file = tmp_path / "wall-step"
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent / "wallstep"))
    monkeypatch.setenv("ZK_TEST_WALL_STEP_FILE", str(step_file))
    server = ZKProcess(tmp_path / "zk", extra={"tickTime": str(TICK_MS)}).start()
    zk = KazooClient(server.hosts, timeout=15)
    idle = RawClient(server.port)  # sends nothing after its create: not even a ping
    try:
        idle.connect(timeout_ms=20 * TICK_MS)
        assert idle.call("create", create_body("/idle", flags=1)).err == 0
        zk.start(timeout=30)
        session = zk.client_id[0]
        zk.create("/eph", b"", ephemeral=True)
        before = zk.create("/before", b"", include_data=True)[1]
        assert abs(before.ctime / 1000 - time.time()) < 600

        step_file.write_text(str(STEP_S))

        def stepped() -> bool:  # a txn stamped an hour ahead: the server's wall clock moved
            stat = zk.set("/before", b"x")
            return stat.mtime / 1000 > time.time() + STEP_S - 600

        wait_for(stepped, 30, what="the server to see the wall-clock step")
        # the expiry check runs every tick: let a few pass (both sessions' timeouts are far off)
        for _ in range(4):
            zk.exists("/eph")
            time.sleep(TICK_MS / 1000)
        assert zk.state == KazooState.CONNECTED and zk.client_id[0] == session
        assert zk.exists("/eph") is not None
        assert zk.exists("/idle") is not None and idle.is_open()
        created = zk.create("/after", b"", include_data=True)[1]
        assert created.ctime / 1000 > time.time() + STEP_S - 600  # ctime: the wall clock
        assert "Expiring session" not in server.log()
    finally:
        idle.close()
        zk.stop()
        zk.close()
        server.stop()
