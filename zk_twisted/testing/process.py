"""One zk_twisted server as a child ``twistd`` process, for test suites of client code.

Shared by :func:`zk_twisted.testing.server`, :class:`~zk_twisted.testing.ensemble.Ensemble`
(one per member, with the quorum's ``server.N`` lines in ``config``) and the pytest plugin's
fixtures.  Only loopback addresses.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

#: ``twistd`` of this interpreter, whatever scripts directory it was installed with
TWISTD = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
#: the lines every test server gets (each can be overridden through ``config``)
BASE_CONFIG = {
    "tickTime": "2000",
    "initLimit": "10",
    "syncLimit": "5",
    "clientPortAddress": "127.0.0.1",
    "4lw.commands.whitelist": "*",
    "admin.enableServer": "false",
}


class ServerStartError(RuntimeError):
    """The server exited or did not serve in time; the message ends with its log."""


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


#: server ports come from below the kernel's ephemeral range: a member down between a kill
#: and its restart must find its port free again, while every outgoing connection (a
#: client's, a peer's) takes its local port from the ephemeral range
SERVER_PORTS = range(10000, max(12000, _ephemeral_low() - 300))
_port_rng = random.Random()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port below the ephemeral range that is free on ``host`` right now."""
    for _ in range(500):
        port = _port_rng.randrange(SERVER_PORTS.start, SERVER_PORTS.stop)
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port in {SERVER_PORTS}")


def four_letter(port: int, word: str, timeout: float = 2.0, host: str = "127.0.0.1") -> str:
    """A four-letter word's whole answer ('' when nothing answers)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                d = s.recv(65536)
                if not d:
                    return b"".join(chunks).decode("utf-8", "replace")
                chunks.append(d)
    except OSError:
        return ""


class ServerProcess:
    """A standalone zk_twisted server: ``start()``, ``stop()`` (SIGTERM), ``kill()`` (SIGKILL),
    ``restart()``; ``hosts`` is the connect string, ``log()`` the server's output so far."""

    def __init__(
        self,
        base: str | os.PathLike,
        config: dict | None = None,
        port: int | None = None,
        data_dir: str | os.PathLike | None = None,
        env: dict | None = None,
    ) -> None:
        """``env``: variables set for the server over this process's environment (say
        ``SERVER_JVMFLAGS``, read as zkServer.sh's JVM flags)."""
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        #: a port of our choosing may be taken by someone else before the server binds it
        self._own_port = port is None
        self.port = port or free_port()
        self.data_dir = Path(data_dir) if data_dir else self.base / "data"
        self.cfg_path = self.base / "zoo.cfg"
        self.log_path = self.base / "server.log"
        self.config = dict(config or {})
        self.env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self._log_offset = 0

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def config_lines(self) -> list[str]:
        lines = {**BASE_CONFIG, "dataDir": str(self.data_dir), "clientPort": str(self.port)}
        lines.update({k: str(v) for k, v in self.config.items()})
        return [f"{k}={v}" for k, v in lines.items()]

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Launch and wait until the server answers ``ruok`` (raises ServerStartError)."""
        return self.launch().finish_start(timeout)

    def write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.cfg_path.write_text("\n".join(self.config_lines()) + "\n")

    def process_env(self) -> dict[str, str]:
        """The server's environment: this process's, with :attr:`env` over it."""
        return {**os.environ, **self.env}

    def launch(self) -> ServerProcess:
        """Start the process and return at once (:meth:`finish_start` waits for it)."""
        self.write_config()
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*TWISTD, "--pidfile=", "-n", "zkserver", "-c", str(self.cfg_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=str(self.base),
                env=self.process_env(),
                start_new_session=True,
            )
        return self

    def finish_start(self, timeout: float = 30.0) -> ServerProcess:
        """Wait for a launched server to serve.

        When the port this object chose was taken meanwhile (another process got it between
        our probe and the server's bind), it launches again on a new one, up to 3 times."""
        for attempt in range(3):
            try:
                self.wait_ready(timeout)
                return self
            except ServerStartError:
                lost_port = "Address already in use" in self.log(since=self._log_offset)
                if not (self._own_port and lost_port and attempt < 2):
                    raise
                self.port = free_port()
                self.launch()
        raise AssertionError("unreachable")

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerStartError(f"zk_twisted exited with {self.proc.returncode}:\n{self.log()}")
            if four_letter(self.port, "ruok", timeout=1.0) == "imok":
                return
            if time.monotonic() > deadline:
                self.kill()
                raise ServerStartError(f"zk_twisted did not serve on {self.hosts} in {timeout}s:\n{self.log()}")
            time.sleep(0.01)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout``); the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed beyond what the server made durable."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self, timeout: float = 30.0) -> ServerProcess:
        """Stop and start again on the same port and data (sessions survive their timeout)."""
        self.stop()
        self._own_port = False  # clients hold this address now: never move it
        return self.start(timeout)

    def log(self, limit: int = 20000, since: int = 0) -> str:
        """The server's output (its last ``limit`` characters from byte ``since`` on)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")[-limit:]
        except OSError:
            return ""

    def __repr__(self) -> str:
        return f"<zk_twisted server {self.hosts} in {self.base}>"
