"""Test harness: real servers on loopback ports.

``ZKProcess`` runs ``twistd -n zkserver -c zoo.cfg`` (our server) in a child process;
``JavaZK`` runs Apache ZooKeeper 3.8 from Debian's package through the shared
``zk_java.sh``; ``JavaProcess`` runs 3.8's QuorumPeerMain from a ZKProcess's zoo.cfg, so
``MixedEnsemble`` can make each ensemble member either kind ("JJZ").  Both write their zoo.cfg from the same key=value lines so that one client
script can be run against both and the answers compared.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from zk_twisted.testing.process import SERVER_PORTS, ServerProcess, four_letter, free_port

REPO = Path(__file__).resolve().parent.parent
SHARED_TOOLS = Path(os.environ.get("ZK_SHARED_TOOLS", REPO.parent / "shared" / "tools")).resolve()
ZK_JAVA_SH = SHARED_TOOLS / "zk_java.sh"
#: what zkServer.sh builds a server's JVM properties from (zk_twisted reads them too)
JVM_ENV = ("SERVER_JVMFLAGS", "JVMFLAGS", "ZOOCFGDIR")
#: twistd shuts down on SIGTERM, then ends itself with that signal (Twisted's convention, so a
#: supervisor sees how it ended; Java ZooKeeper exits 143 = 128 + SIGTERM the same way)
CLEAN_SIGTERM = (0, -signal.SIGTERM)


def wait_for(pred, timeout: float = 30.0, interval: float = 0.05, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class ZKProcess(ServerProcess):
    """The plugin's :class:`ServerProcess` as this suite starts it: ``start(wait=...)``, the
    zoo.cfg keys as ``extra``, none of the tests' own JVM settings inherited, every server
    started recorded (conftest checks their logs after each test)."""

    #: every server started in this test session
    started: list[ZKProcess] = []

    def __init__(
        self,
        base: Path,
        port: int | None = None,
        extra: dict | None = None,
        data_dir: Path | None = None,
        env: dict | None = None,
    ):
        """``env``: environment variables for the server (SERVER_JVMFLAGS, JVMFLAGS, ZOOCFGDIR,
        ...); those three are otherwise not inherited, so the tests' own environment cannot
        change a server's settings."""
        super().__init__(base, extra, port or free_port(), data_dir, env)
        self.write_config()

    @property
    def extra(self) -> dict:
        return self.config

    def process_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in JVM_ENV}
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        env.update(self.env)
        return env

    def start(self, wait: bool = True, timeout: float = 30.0) -> ZKProcess:
        if self not in ZKProcess.started:
            ZKProcess.started.append(self)
        self.launch()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            return four_letter(self.port, "ruok", timeout=1.0) == "imok"

        wait_for(ready, timeout, what=f"zk_twisted on port {self.port}")

    def log(self, limit: int = 6000, since: int = 0) -> str:
        return super().log(limit, since)


class ZKEnsemble:
    """zk_twisted ensemble members on 127.0.0.1, in zk_java.sh's port layout.

    Member i (1-based) listens for clients on ``base_port + i - 1``, for learners on
    ``base_port + 100 + i - 1`` and for elections on ``base_port + 200 + i - 1``; ``observers``
    are sids whose server.N line says ``:observer``.  Each member has its own dir (zoo.cfg,
    data with myid, server.log) under ``base``.
    """

    def __init__(self, base: Path, n: int = 3, observers=(), extra: dict | None = None, base_port: int | None = None):
        self.base = Path(base)
        self.base_port = base_port or free_port_range(width=max(n, 3))
        self.sids = list(range(1, n + 1))
        lines = {}
        for j in self.sids:
            kind = ":observer" if j in observers else ""
            lines[f"server.{j}"] = f"127.0.0.1:{self.base_port + 100 + j - 1}:{self.base_port + 200 + j - 1}{kind}"
        self.members: dict[int, ZKProcess] = {}
        for i in self.sids:
            data = self.base / f"zk{i}" / "data"
            data.mkdir(parents=True, exist_ok=True)
            (data / "myid").write_text(f"{i}\n")
            cfg = {**lines, **(extra or {})}
            if i in observers:
                cfg["peerType"] = "observer"
            self.members[i] = ZKProcess(self.base / f"zk{i}", self.base_port + i - 1, extra=cfg, data_dir=data)

    def start(self, sids=None, wait: bool = True, timeout: float = 60.0) -> ZKEnsemble:
        for i in sids or self.sids:
            self.members[i].start(wait=False)
        if wait:
            self.wait_serving(timeout)
        return self

    def mode(self, sid: int) -> str:
        for line in four_letter(self.members[sid].port, "srvr", timeout=1.0).splitlines():
            if line.startswith("Mode: "):
                return line[6:].strip()
        return ""

    def wait_serving(self, timeout: float = 60.0) -> int:
        """Wait until one live member leads and every live member serves; -> the leader's sid."""
        found: list[int] = []

        def ready() -> bool:
            modes = {}
            for i, m in self.members.items():
                if m.proc is not None and m.proc.poll() is not None:
                    if m.proc.returncode not in (-9, -15):
                        raise RuntimeError(f"member {i} exited with {m.proc.returncode}:\n{m.log()}")
                    continue
                if m.alive():
                    modes[i] = self.mode(i)
            leaders = [i for i, md in modes.items() if md == "leader"]
            if len(leaders) == 1 and all(md in ("leader", "follower", "observer") for md in modes.values()):
                found[:] = leaders
                return True
            return False

        wait_for(ready, timeout, what="an ensemble with one leader and every member serving")
        return found[0]

    @property
    def hosts(self) -> str:
        return ",".join(m.hosts for m in self.members.values())

    def stop(self) -> None:
        for m in self.members.values():
            m.stop()


#: log4j 1.2 config for Java members: everything at INFO into ``${zookeeper.log.file}``
JAVA_LOG4J = """log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=${zookeeper.log.dir}/${zookeeper.log.file}
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n
"""


class JavaProcess(ZKProcess):
    """Java ZooKeeper 3.8's QuorumPeerMain (Debian's package) run from the same zoo.cfg lines
    as a :class:`ZKProcess`, with the same methods; its log4j log is ``server.log``.  Started
    as tests/quorumcapture.py's JavaNode starts it (quick JVM flags that change nothing on
    the wire), so a member can be swapped for the other kind on the same dirs and ports."""

    def start(self, wait: bool = True, timeout: float = 60.0) -> JavaProcess:
        self.write_config()
        (self.base / "log4j.properties").write_text(JAVA_LOG4J)
        out = open(self.base / "java.out", "ab")
        env = {k: v for k, v in os.environ.items() if k not in JVM_ENV}
        self.proc = subprocess.Popen(
            [
                "java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx256m", "-cp", java_classpath(),
                f"-Dzookeeper.log.dir={self.base}", "-Dzookeeper.log.file=server.log",
                f"-Dlog4j.configuration=file:{self.base}/log4j.properties",
                "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(self.cfg_path),
            ],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(self.base),
            env=env, start_new_session=True,
        )  # fmt: skip
        out.close()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        # 3.8 answers ruok before its ZooKeeperServer runs: wait for srvr to serve
        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"java exited with {self.proc.returncode}:\n{self.log()}")
            return four_letter(self.port, "srvr", timeout=1.0).startswith("Zookeeper version")

        wait_for(ready, timeout, what=f"Java ZooKeeper on port {self.port}")


class MixedEnsemble(ZKEnsemble):
    """A :class:`ZKEnsemble` whose member i is Java 3.8 (``J``) or zk_twisted (``Z``) as
    ``mix[i-1]`` says ("JJZ": sids 1 and 2 Java, 3 ours), each from its own zoo.cfg and myid
    in the same port layout.  :meth:`replace` swaps one member for the other kind on the
    same data dir and ports (a rolling replacement)."""

    KINDS = {"J": JavaProcess, "Z": ZKProcess}

    def __init__(self, base: Path, mix: str, observers=(), extra: dict | None = None, base_port: int | None = None):
        if not mix or set(mix) - set(self.KINDS):
            raise ValueError(f"mix {mix!r}: one of J (Java) or Z (zk_twisted) per member")
        super().__init__(base, len(mix), observers=observers, extra=extra, base_port=base_port)
        self.mix = mix
        for i, kind in zip(self.sids, mix, strict=True):
            if kind == "J":
                self.members[i] = self._as(JavaProcess, self.members[i])

    @staticmethod
    def _as(cls, m: ZKProcess) -> ZKProcess:
        return cls(m.base, m.port, extra=m.extra, data_dir=m.data_dir, env=m.env)

    def kind(self, sid: int) -> str:
        return "J" if isinstance(self.members[sid], JavaProcess) else "Z"

    def replace(self, sid: int, kind: str) -> ZKProcess:
        """Stop member sid (if running) and put a ``kind`` member on its dirs and ports (not started)."""
        old = self.members[sid]
        old.stop()
        self.members[sid] = self._as(self.KINDS[kind], old)
        self.mix = "".join(self.kind(i) for i in self.sids)
        return self.members[sid]


class SetDataLoad:
    """A thread of pipelined setData (``depth`` outstanding) on random ``paths`` through
    ``client`` until :meth:`stop`; ``written`` is each path's last acknowledged data."""

    def __init__(self, client, paths: list[str], depth: int = 64, seed: int = 11) -> None:
        import random
        import threading

        self.client, self.paths, self.depth = client, paths, depth
        self.rng = random.Random(seed)
        self.written: dict[str, bytes] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        v = 0
        while not self._stop.is_set():
            batch = []
            for _ in range(self.depth):
                v += 1
                path = self.rng.choice(self.paths)
                data = b"%d" % v + b"y" * 150
                batch.append((path, data, self.client.set_async(path, data)))
            for path, data, a in batch:
                a.get(timeout=60)
                self.written[path] = data

    def stop(self) -> dict[str, bytes]:
        self._stop.set()
        self._thread.join(60)
        return self.written


def rejoin_under_set_data_load(ens, client, sid: int, nodes: int = 20000, timeout: float = 60.0) -> dict[str, bytes]:
    """Member ``sid`` misses ``nodes`` creates under /f (far behind: a SNAP, with
    forceSnapshotSync), then rejoins while :class:`SetDataLoad` runs on those nodes through
    ``client``; returns each node's last acknowledged data once ``sid`` follows."""
    paths = [f"/f/n{k:05d}" for k in range(nodes)]
    client.create("/f", b"")
    ens.members[sid].stop()
    for a in [client.create_async(p, b"x" * 200) for p in paths]:
        a.get(timeout=60)
    load = SetDataLoad(client, paths)
    try:
        time.sleep(0.3)
        ens.members[sid].start(wait=False)
        wait_for(lambda: ens.mode(sid) == "follower", timeout, what=f"member {sid} back as a follower")
        time.sleep(0.3)
    finally:
        written = load.stop()
    return written


@contextmanager
def ensemble_factory(base: Path, cls: type[ZKEnsemble] = ZKEnsemble):
    """``make(*args, **kw)``: a new ``cls`` under ``base`` (ens0, ens1, ...); every one made
    is stopped at the end (the tests' ensemble fixtures)."""
    made: list[ZKEnsemble] = []

    def make(*args, **kw) -> ZKEnsemble:
        e = cls(base / f"ens{len(made)}", *args, **kw)
        made.append(e)
        return e

    try:
        yield make
    finally:
        for e in made:
            e.stop()


@contextmanager
def started_clients(servers: dict, timeout: float = 20.0):
    """One started kazoo client per named server (``servers[name].hosts``), closed at the end."""
    from kazoo.client import KazooClient

    made = {}
    try:
        for name, server in servers.items():
            c = KazooClient(hosts=server.hosts, timeout=timeout)
            c.start(timeout=30)
            made[name] = c
        yield made
    finally:
        for c in made.values():
            c.stop()
            c.close()


def free_port_range(offsets=(0, 100, 200), width: int = 5) -> int:
    """A base port whose ``base + off + k`` (off in offsets, k < width) are free right now."""
    for _ in range(200):
        base = free_port()
        if base + max(offsets) + width > SERVER_PORTS.stop:
            continue
        socks = []
        try:
            for off in offsets:
                for k in range(width):
                    s = socket.socket()
                    socks.append(s)
                    s.bind(("127.0.0.1", base + off + k))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


class JavaZK:
    """Apache ZooKeeper 3.8 (Debian package) standalone, through ../shared/tools/zk_java.sh."""

    def __init__(self, base: Path, port: int | None = None, extra: dict | None = None, jvmflags: str = ""):
        """``jvmflags``: JVM system properties (ZK_JVMFLAGS), for the settings 3.8 reads only
        from there, e.g. ``-Dznode.container.checkIntervalMs=200 -Djute.maxbuffer=4096``."""
        self.base = Path(base)
        self.port = port or free_port()
        self.extra = dict(extra or {})
        self.jvmflags = jvmflags

    def start(self) -> JavaZK:
        lines = [f"{k}={v}" for k, v in self.extra.items()]
        env = dict(os.environ)
        if self.jvmflags:
            env["ZK_JVMFLAGS"] = self.jvmflags
        r = subprocess.run(
            ["bash", str(ZK_JAVA_SH), "standalone", str(self.base), str(self.port), *lines],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
        )
        if r.returncode != 0:
            raise RuntimeError(f"zk_java.sh failed ({r.returncode}): {r.stdout}\n{r.stderr}")
        # 3.8 answers ruok as soon as it listens, before its ZooKeeperServer runs (a session
        # attempt then is closed with "ZooKeeperServer not running"): wait until srvr serves
        wait_for(
            lambda: four_letter(self.port, "srvr", timeout=2.0).startswith("Zookeeper version"),
            60,
            what=f"Java ZooKeeper serving on port {self.port}",
        )
        return self

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    def stop(self) -> None:
        subprocess.run(["bash", str(ZK_JAVA_SH), "stop", str(self.base)], capture_output=True, timeout=60)


@contextmanager
def server_pair(tmp_path_factory, extra: dict, jvmflags: str = "", ours_extra: dict | None = None):
    """zk_twisted and Java ZooKeeper 3.8 started with the same zoo.cfg lines, stopped after:
    ``{"ours": ZKProcess, "java": JavaZK}``.  ``ours_extra`` is for what 3.8 takes only as a
    JVM property (``jvmflags``) and we read from zoo.cfg."""
    ours = ZKProcess(tmp_path_factory.mktemp("ours"), extra={**extra, **(ours_extra or {})})
    java = JavaZK(tmp_path_factory.mktemp("java"), extra=extra, jvmflags=jvmflags)
    try:
        ours.start()
        java.start()
        yield {"ours": ours, "java": java}
    finally:
        ours.stop()
        java.stop()


def java_classpath() -> str:
    """The classpath zk_java.sh runs Debian's ZooKeeper with (conf dir, zookeeper.jar, log4j binding)."""
    parts = ["/etc/zookeeper/conf", "/usr/share/java/zookeeper.jar"]
    parts += [j for j in ("/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar") if os.path.exists(j)]
    return ":".join(parts)


def run_java(main_class: str, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run one of ZooKeeper's command-line classes (SnapshotFormatter, TxnLogToolkit, ...)."""
    return subprocess.run(
        ["java", "-cp", java_classpath(), main_class, *args], capture_output=True, text=True, timeout=timeout
    )


def logged_txn_count(member) -> int:
    """Txns in a member's log files, Java's or ours (both write 3.8's format), read while it
    writes them: a half-written entry reads as corruption and counts as not there yet (-1)."""
    from zk_twisted.persistence.errors import CorruptFileError
    from zk_twisted.persistence.txnlog import LogFileReader

    n = 0
    for f in (member.data_dir / "version-2").glob("log.*"):
        try:
            n += sum(1 for _ in LogFileReader(f))
        except CorruptFileError:
            return -1
    return n
