"""The server as an operator meets it: ``twistd -n zkserver -c zoo.cfg`` started for real.

Exit status 2 with the key named for a bad zoo.cfg, a missing file said so, SIGTERM a clean
stop, the shipped conf/zoo.cfg serving, maxClientCnxns per client IP, jute.maxbuffer from
zoo.cfg: each checked on a real process over real sockets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from urllib.request import urlopen

from kazoo.client import KazooClient
from rawclient import Closed, RawClient, connected, create_body, frame, i32, path_watch
from zkharness import CLEAN_SIGTERM, REPO, ZKProcess, four_letter, free_port, wait_for

from zk_twisted.testing.process import TWISTD


def _twistd(cfg: str, cwd, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [*TWISTD, "--pidfile=", "-n", "zkserver", "-c", cfg],
        capture_output=True, text=True, timeout=timeout, cwd=str(cwd), env=env,
    )  # fmt: skip


def test_bad_value_names_the_key_and_exits_2(tmp_path):
    (tmp_path / "zoo.cfg").write_text(f"dataDir={tmp_path}/data\nclientPort={free_port()}\ntickTime=often\n")
    p = _twistd("zoo.cfg", tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "tickTime" in p.stderr and "often" in p.stderr


def test_missing_config_file_exits_2(tmp_path):
    p = _twistd(str(tmp_path / "nowhere.cfg"), tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "nowhere.cfg" in p.stderr and ("does not exist" in p.stderr or "not found" in p.stderr.lower())


def _stopped_cleanly(zk: ZKProcess) -> bool:
    return zk.stop() in CLEAN_SIGTERM and "zk_twisted stopped" in zk.log() and "Server Shut Down" in zk.log()


def test_sigterm_stops_cleanly_and_data_survives(tmp_path):
    zk = ZKProcess(tmp_path / "srv").start()
    c = KazooClient(zk.hosts, timeout=10)
    c.start(timeout=15)
    c.create("/kept", b"v")
    c.stop()
    c.close()
    assert _stopped_cleanly(zk), zk.log()
    assert four_letter(zk.port, "ruok", timeout=1) == ""  # the port is closed
    zk.start()
    try:
        c = KazooClient(zk.hosts, timeout=10)
        c.start(timeout=15)
        assert c.get("/kept")[0] == b"v"
        c.stop()
        c.close()
    finally:
        assert _stopped_cleanly(zk), zk.log()


def test_shipped_conf_serves(tmp_path):
    """`make run`'s config, with only the ports moved off 2181 and 8080, starts from a fresh directory."""
    port, admin_port = free_port(), free_port()
    text = (REPO / "conf" / "zoo.cfg").read_text()
    assert "clientPort=2181" in text and "dataDir=./data" in text
    text = text.replace("clientPort=2181", f"clientPort={port}")
    (tmp_path / "zoo.cfg").write_text(text.replace("#admin.serverPort=8080", f"admin.serverPort={admin_port}"))
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [*TWISTD, "--pidfile=", "-n", "zkserver", "-c", "zoo.cfg"],
        cwd=str(tmp_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: four_letter(port, "ruok", timeout=1) == "imok", 30, what="the shipped config serving")
        c = KazooClient(f"127.0.0.1:{port}", timeout=10)
        c.start(timeout=15)
        c.create("/made", b"x")
        assert c.get("/made")[0] == b"x"
        c.stop()
        c.close()
        assert (tmp_path / "data" / "version-2").is_dir()  # dataDir=./data, relative to the cwd
        assert b'"command" : "ruok"' in urlopen(f"http://127.0.0.1:{admin_port}/commands/ruok", timeout=10).read()
    finally:
        proc.terminate()
        assert proc.wait(15) in CLEAN_SIGTERM
        shutil.rmtree(tmp_path / "data", ignore_errors=True)


def test_max_client_cnxns_per_ip(tmp_path):
    zk = ZKProcess(tmp_path, extra={"maxClientCnxns": "2"}).start()
    try:
        a, b = connected(zk.port), connected(zk.port)
        assert not _connects(zk.port), "a third connection from 127.0.0.1 was served"
        # the two served connections are unaffected and a freed slot is usable again
        assert a.call("create", create_body("/a")).err == 0
        assert b.call("exists", path_watch("/a")).err == 0
        a.close()
        wait_for(lambda: _connects(zk.port), 10, what="a slot freed by a closed connection")
        b.close()
    finally:
        zk.stop()


def _connects(port: int) -> bool:
    """A session could be set up (the server may refuse by closing, even before connect returns)."""
    try:
        c = RawClient(port)
    except ConnectionError:
        return False
    try:
        c.connect()
        return True
    except (Closed, ConnectionError):
        return False
    finally:
        c.close()


def test_jute_maxbuffer_from_zoo_cfg(tmp_path):
    """A request frame longer than jute.maxbuffer closes that connection; others serve on."""
    zk = ZKProcess(tmp_path, extra={"jute.maxbuffer": "4096"}).start()
    try:
        other = connected(zk.port)
        big = connected(zk.port)
        assert big.call("create", create_body("/small", b"s" * 3000)).err == 0
        big.send(frame(i32(1) + i32(1) + create_body("/big", b"b" * 5000)))
        try:
            big.read_frame(5.0)
            closed = False
        except Closed:
            closed = True
        assert closed, "a 5 kB frame was accepted under jute.maxbuffer=4096"
        assert other.call("exists", path_watch("/small")).err == 0
        assert other.call("exists", path_watch("/big")).err == -101  # NONODE
        other.close()
    finally:
        zk.stop()
